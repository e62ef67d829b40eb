"""Stage `evaluate`: holdout metrics, plot data, per-group slices; attached to the model's MLflow run."""

from __future__ import annotations

from pathlib import Path

from mlops import threads
from mlops.adapters.tracking import log_to_model_run
from mlops.consistency import load_checked
from mlops.io import load_model, read_table, write_json
from mlops.lineage import file_md5, git_state
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
    written = [metrics]
    for name, rows in result["plots"].items():
        write_json(rows, plots_dir / f"{name}.json")
        written.append(plots_dir / f"{name}.json")
    write_json(result["slices"], slices)
    written.append(slices)
    run_id = log_to_model_run(
        experiment=config.project.name,
        model_md5=file_md5(model),
        metrics={f"test_{k}": float(v) for k, v in result["metrics"].items()},
        artifacts=written,
        tags={
            "mlops.test_data_md5": file_md5(test),
            **{f"mlops.{k}": v for k, v in git_state().items()},
        },
    )
    m = result["metrics"]
    print(f"evaluate: ROC AUC {m['roc_auc']:.4f}, PR AUC {m['pr_auc']:.4f}, F1 {m['f1']:.4f} -> {metrics}")
    print(f"evaluate: logged to MLflow run {run_id}")
    return 0
