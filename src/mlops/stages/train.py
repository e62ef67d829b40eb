"""Stage `train`: fit the Pipeline on the training split, save it (DVC output), track the run in MLflow."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import joblib
import numpy as np
from sklearn.metrics import roc_auc_score

from mlops import threads
from mlops.adapters.tracking import MODEL_MD5_TAG, log_training, tracking_uri
from mlops.consistency import load_checked
from mlops.io import read_json, read_table
from mlops.lineage import file_md5, git_state
from mlops.modeling import estimator_params, fit, input_columns, targets
from mlops.validation import require_passed

TRAIN_SCORE_ROWS = 100_000  # rows the logged train_roc_auc is computed on (a seeded sample above that)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (a cancelled CI job, `kill`) unwinds like an error: the MLflow run ends FAILED and the
    temporary model file is removed, instead of a RUNNING run and a stray file."""
    raise SystemExit(128 + signum)


def run(params: Path, contract: Path, train: Path, validation: Path, model_out: Path) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    config, data_contract = load_checked(params, contract)
    # `dvc repro -s train` alone, after the data gate failed on new data: the split on disk is stale.
    require_passed(read_json(validation), str(validation))
    # Left by a training killed outright (SIGKILL cannot be caught): DVC runs one train per repository at
    # a time, so every such file here is an orphan.
    for stray in model_out.parent.glob(".model.*.tmp") if model_out.parent.is_dir() else ():
        stray.unlink(missing_ok=True)
        print(f"train: removed {stray}, left by a training that was killed")
    section = config.train
    df = read_table(train)
    columns = input_columns(data_contract)
    x, y = df[columns], targets(df, data_contract)
    model = fit(data_contract, section, x, y)
    # The training score is a sanity figure: on a seeded sample of at most TRAIN_SCORE_ROWS rows it costs a
    # fixed time, where the whole set cost ~7.5 s of CPU at 800,000 rows (benchmarks/pipeline.py).
    pick = np.arange(len(x))
    if len(x) > TRAIN_SCORE_ROWS:
        pick = np.sort(np.random.default_rng(0).choice(len(x), TRAIN_SCORE_ROWS, replace=False))
    scored, y_scored = x.iloc[pick], y[pick]
    with threads.one_native_thread():
        proba = model.predict_proba(scored)[:, 1]

    # The model file appears only once the MLflow run holds it: dump to a temp file beside the target,
    # hash it, log, then rename. A failure anywhere leaves the previous model file untouched.
    model_out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=model_out.parent, prefix=".model.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        joblib.dump(model, tmp)
        md5 = file_md5(tmp)
        train_md5 = file_md5(train)
        logged = log_training(
            experiment=config.project.name,
            model=model,
            input_example=x.head(5),
            training=(df, data_contract.target, train_md5),
            params={
                **estimator_params(section),
                "train_rows": len(df),
                "train_score_rows": len(scored),
                "features": ",".join(columns),
            },
            metrics={
                "train_roc_auc": float(roc_auc_score(y_scored, proba)),
                "train_positive_rate": float(np.mean(y)),
            },
            tags={
                MODEL_MD5_TAG: md5,
                "mlops.train_data_md5": train_md5,
                "mlops.contract": f"{data_contract.name} v{data_contract.version}",
                **{f"mlops.{k}": v for k, v in git_state().items()},
            },
        )
        tmp.replace(model_out)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"train: {section.estimator} on {len(df)} rows -> {model_out} (md5 {md5})")
    print(f"train: MLflow run {logged.run_id} at {tracking_uri()} (registered only if it passes the gate)")
    for orphan in logged.closed_orphans:
        print(f"train: MLflow run {orphan} was left RUNNING by a killed training: marked KILLED")
    return 0
