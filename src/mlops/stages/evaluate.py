"""Stage `evaluate`: holdout metrics, plot data, per-group slices; attached to the model's MLflow run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from mlops import metrics
from mlops.adapters.tracking import log_to_model_run
from mlops.contract import Contract, load_contract
from mlops.io import load_model, read_table, write_json
from mlops.lineage import file_md5, git_state
from mlops.modeling import input_columns
from mlops.params import EvaluateParams, TrainParams, load_section


def importance(
    model: Any, x: pd.DataFrame, y: np.ndarray, features: list[str], p: EvaluateParams
) -> list[dict[str, Any]]:
    """Permutation importance (drop in ROC AUC) of each model feature on a seeded holdout sample."""
    rows = np.random.default_rng(p.seed).permutation(len(x))[: p.importance_rows]
    result = permutation_importance(
        model,
        x.iloc[rows],
        y[rows],
        scoring="roc_auc",
        n_repeats=p.importance_repeats,
        random_state=p.seed,
        n_jobs=1,
    )
    scores = dict(zip(x.columns, result.importances_mean, strict=True))
    ranked = sorted(features, key=lambda f: -scores[f])
    return [{"feature": f, "importance": round(float(scores[f]), 6)} for f in ranked]


def evaluate(
    model: Any, df: pd.DataFrame, contract: Contract, p: EvaluateParams, features: list[str]
) -> dict[str, Any]:
    """Every evaluation output, as plain data: {metrics, plots: {name: rows}, slices}."""
    x = df[input_columns(contract)]
    y = (df[contract.target] == contract.positive_label).to_numpy(dtype=int)
    proba = model.predict_proba(x)[:, 1]
    headline = {**metrics.headline(y, proba, p.threshold), "holdout_rows": len(df), "threshold": p.threshold}
    return {
        "metrics": headline,
        "plots": {
            "roc": metrics.roc_points(y, proba),
            "precision_recall": metrics.pr_points(y, proba),
            "confusion": metrics.confusion_counts(y, proba, p.threshold),
            "calibration": metrics.calibration(y, proba, p.calibration_bins),
            "importance": importance(model, x, y, features, p),
        },
        "slices": metrics.slices(df, y, proba, p.threshold, contract.sensitive),
    }


def run(
    params_path: Path,
    contract_path: Path,
    test_path: Path,
    model_path: Path,
    metrics_out: Path,
    plots_dir: Path,
    slices_out: Path,
) -> int:
    params = load_section(params_path, "evaluate", EvaluateParams)
    train_params = load_section(params_path, "train", TrainParams)
    contract = load_contract(contract_path)
    model = load_model(model_path)
    features = contract.features(include_sensitive=train_params.use_sensitive_features)
    result = evaluate(model, read_table(test_path), contract, params, features)
    write_json(result["metrics"], metrics_out)
    written = [metrics_out]
    for name, rows in result["plots"].items():
        write_json(rows, plots_dir / f"{name}.json")
        written.append(plots_dir / f"{name}.json")
    write_json(result["slices"], slices_out)
    written.append(slices_out)
    run_id = log_to_model_run(
        experiment=train_params.mlflow.experiment,
        model_md5=file_md5(model_path),
        metrics={f"test_{k}": float(v) for k, v in result["metrics"].items()},
        artifacts=written,
        tags={
            "mlops.test_data_md5": file_md5(test_path),
            **{f"mlops.{k}": v for k, v in git_state().items()},
        },
    )
    m = result["metrics"]
    print(
        f"evaluate: ROC AUC {m['roc_auc']:.4f}, PR AUC {m['pr_auc']:.4f}, F1 {m['f1']:.4f} -> {metrics_out}"
    )
    print(f"evaluate: logged to MLflow run {run_id}")
    return 0
