"""Stage `train`: fit the Pipeline on the training split, save it (DVC output), track the run in MLflow."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import joblib
import numpy as np
from sklearn.metrics import roc_auc_score

from mlops.adapters.tracking import MODEL_MD5_TAG, log_training, tracking_uri
from mlops.contract import load_contract
from mlops.io import read_table
from mlops.lineage import file_md5, git_state
from mlops.modeling import estimator_params, fit, input_columns, targets
from mlops.params import TrainParams, load_section


def run(params_path: Path, contract_path: Path, train_path: Path, model_out: Path) -> int:
    params = load_section(params_path, "train", TrainParams)
    contract = load_contract(contract_path)
    df = read_table(train_path)
    columns = input_columns(contract)
    x, y = df[columns], targets(df, contract)
    model = fit(contract, params, x, y)
    proba = model.predict_proba(x)[:, 1]

    # The model file appears only once the MLflow run holds it: dump to a temp file beside the target,
    # hash it, log, then rename. A failure anywhere leaves the previous model file untouched.
    model_out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=model_out.parent, prefix=".model.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        joblib.dump(model, tmp)
        md5 = file_md5(tmp)
        logged = log_training(
            experiment=params.mlflow.experiment,
            registered_model=params.mlflow.registered_model,
            model=model,
            input_example=x.head(5),
            params={**estimator_params(params), "train_rows": len(df), "features": ",".join(columns)},
            metrics={
                "train_roc_auc": float(roc_auc_score(y, proba)),
                "train_positive_rate": float(np.mean(y)),
            },
            tags={
                MODEL_MD5_TAG: md5,
                "mlops.train_data_md5": file_md5(train_path),
                "mlops.contract": f"{contract.name} v{contract.version}",
                **{f"mlops.{k}": v for k, v in git_state().items()},
            },
        )
        tmp.replace(model_out)
    finally:
        tmp.unlink(missing_ok=True)
    version = f", registered version {logged.registered_version}" if logged.registered_version else ""
    print(f"train: {params.estimator} on {len(df)} rows -> {model_out} (md5 {md5})")
    print(f"train: MLflow run {logged.run_id}{version} at {tracking_uri()}")
    return 0
