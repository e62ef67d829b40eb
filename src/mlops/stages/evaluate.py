"""Stage `evaluate`: holdout metrics, plot data, per-group slices; attached to the model's MLflow run."""

from __future__ import annotations

from pathlib import Path

from mlops.adapters.tracking import log_to_model_run
from mlops.contract import load_contract
from mlops.io import load_model, read_table, write_json
from mlops.lineage import file_md5, git_state
from mlops.metrics import evaluate
from mlops.params import EvaluateParams, TrainParams, load_section


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
