"""Stage `evaluate`: holdout metrics, plot data, per-group slices.

The gate stage attaches them to the model's MLflow run, with its verdict, in one write: one MLflow client
(~4 s of CPU to import and open the store) per pipeline run after `train` instead of two.
"""

from __future__ import annotations

from pathlib import Path

from mlops import threads
from mlops.consistency import load_checked
from mlops.io import load_model, read_table, write_json
from mlops.metrics import evaluate


def run(
    params: Path,
    contract: Path,
    test: Path,
    model: Path,
    metrics: Path,
    plots_dir: Path,
    slices: Path,
) -> int:
    config, data_contract = load_checked(params, contract)
    fitted = load_model(model)
    features = data_contract.features(include_sensitive=config.train.use_sensitive_features)
    with threads.one_native_thread():  # same scores; no OpenMP spin-waiting CPU on a shared machine
        result = evaluate(
            fitted, read_table(test), data_contract, config.evaluate, features, config.project.threshold
        )
    write_json(result["metrics"], metrics)
    for name, rows in result["plots"].items():
        write_json(rows, plots_dir / f"{name}.json")
    write_json(result["slices"], slices)
    m = result["metrics"]
    print(f"evaluate: ROC AUC {m['roc_auc']:.4f}, PR AUC {m['pr_auc']:.4f}, F1 {m['f1']:.4f} -> {metrics}")
    return 0
