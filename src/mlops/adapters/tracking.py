"""MLflow 3 adapter: the only module that imports mlflow.

Embedded default: `sqlite:///mlflow.db` in the working directory (ignored by git). Team scale: set
MLFLOW_TRACKING_URI to a tracking server (docs/team-scale.md). DVC outputs never contain run ids (they would
make every run irreproducible); instead each run is tagged with the model file's md5, which is what
links a DVC-tracked model to its MLflow run.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
MODEL_MD5_TAG = "mlops.model_md5"
DATASET_ROWS = 10_000  # rows MLflow's dataset input infers its schema and profile from
# Pinned requirements for the logged model: passing them skips MLflow's ~5 s environment inference.
_MODEL_REQUIREMENTS = ("scikit-learn", "skops", "numpy", "pandas", "scipy")


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    model_uri: str
    closed_orphans: tuple[str, ...] = ()  # RUNNING runs of dead trainings, marked KILLED first


# Who runs a training: a run left RUNNING by a process that no longer exists (SIGKILL, OOM, a lost CI
# runner) is an orphan the next training on the same host marks KILLED, instead of "running" forever.
PID_TAG, HOST_TAG = "mlops.pid", "mlops.host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def close_orphans(experiment: str) -> list[str]:
    """Mark KILLED the RUNNING runs of `experiment` started on this host by a process that is gone."""
    mlflow = _mlflow()
    if mlflow.get_experiment_by_name(experiment) is None:
        return []
    host = socket.gethostname()
    found = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'",
        output_format="list",
    )
    client = mlflow.tracking.MlflowClient()
    closed = []
    for run in found:
        pid = run.data.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            client.set_terminated(run.info.run_id, status="KILLED")
            closed.append(run.info.run_id)
    return closed


def _mlflow() -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI)
    return mlflow


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def _requirements() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in _MODEL_REQUIREMENTS]


def log_training(
    *,
    experiment: str,
    model: Any,
    input_example: pd.DataFrame,
    training: tuple[pd.DataFrame, str, str],
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> LoggedModel:
    """One MLflow run for one training: params, metrics, lineage tags, the training data as a dataset
    input and the model as a LoggedModel tagged with its file's md5. Not registered: only a model that
    passes the gates is (`register_passed`).

    `training`: the training rows, their target column and the training file's md5 (the dataset digest).
    """
    mlflow = _mlflow()
    # The submodule imports are what register `mlflow.data` and `mlflow.sklearn` on the module.
    import mlflow.data  # noqa: F811
    import mlflow.sklearn
    import skops.io as sio
    from mlflow.models import infer_signature

    mlflow.set_experiment(experiment)
    closed = close_orphans(experiment)
    # pyfunc answers what the model serves: predict_proba (both columns), and the signature says so.
    signature = infer_signature(input_example, model.predict_proba(input_example))
    # skops refuses unknown types on load; this model was built by us in this process, so the types it
    # contains are exactly the ones to trust (e.g. sklearn's tree predictors).
    trusted = sio.get_untrusted_types(data=sio.dumps(model))
    owner = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    rows, target, digest = training
    with mlflow.start_run(run_name=f"train-{params.get('estimator', 'model')}", tags=owner) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        # The schema and profile from a head of the rows (MLflow checks every value to infer the schema:
        # 7.6 s of CPU at 800,000 rows); the digest is the whole training file's md5.
        dataset = mlflow.data.from_pandas(
            rows.head(DATASET_ROWS), name="train", targets=target, digest=digest
        )
        mlflow.log_input(dataset, context="training")
        info = mlflow.sklearn.log_model(
            sk_model=model,
            name="model",
            input_example=input_example,
            signature=signature,
            pyfunc_predict_fn="predict_proba",
            pip_requirements=_requirements(),
            skops_trusted_types=trusted,
            tags={MODEL_MD5_TAG: tags[MODEL_MD5_TAG]},
        )
    return LoggedModel(run.info.run_id, info.model_uri, tuple(closed))


def register_passed(
    *, experiment: str, registered_model: str, model_md5: str, model_file: Path | None = None
) -> tuple[str | None, bool]:
    """Register the LoggedModel of this model file (found by its md5 tag) as a version of
    `registered_model`, once: the same bytes already registered give that version back.

    `model_file` (promotion: the gate ran where the job could not reach this store): when the store never
    logged the model, log that file first, in a `promote` run tagged with its md5. Returns (version, newly
    registered); version None when there is nothing to register.
    """
    mlflow = _mlflow()
    client = mlflow.MlflowClient()
    existing = _version_of(client, registered_model, model_md5)
    if existing is not None:
        return existing, False
    model_id = _logged_model_id(mlflow, experiment, model_md5)
    if model_id is None and model_file is not None:
        model_id = _log_model_file(mlflow, experiment, model_file, model_md5)
    if model_id is None:
        return None, False
    tags = {MODEL_MD5_TAG: model_md5, "mlops.gates": "passed"}
    version = mlflow.register_model(f"models:/{model_id}", registered_model, tags=tags)
    return str(version.version), True


def _logged_model_id(mlflow: Any, experiment: str, model_md5: str) -> str | None:
    """The newest READY LoggedModel tagged with this md5 (a training killed mid-upload leaves one that is
    not READY: its artifacts may be missing), or None."""
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return None
    logged = mlflow.search_logged_models(
        experiment_ids=[found.experiment_id],
        filter_string=f"tags.`{MODEL_MD5_TAG}` = '{model_md5}'",
        output_format="list",
    )
    ready = [m for m in logged if str(getattr(m.status, "name", m.status)).upper().endswith("READY")]
    newest = max(ready, key=lambda m: m.creation_timestamp or 0, default=None)
    return str(newest.model_id) if newest is not None else None


def _log_model_file(mlflow: Any, experiment: str, model_file: Path, model_md5: str) -> str:
    import joblib
    import mlflow.sklearn
    import skops.io as sio

    model = joblib.load(model_file)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="promote", tags={MODEL_MD5_TAG: model_md5}):
        info = mlflow.sklearn.log_model(
            sk_model=model,
            name="model",
            pyfunc_predict_fn="predict_proba",
            pip_requirements=_requirements(),
            skops_trusted_types=sio.get_untrusted_types(data=sio.dumps(model)),
            tags={MODEL_MD5_TAG: model_md5},
        )
    return str(info.model_id)


def _version_of(client: Any, registered_model: str, model_md5: str) -> str | None:
    """The registered version of this model file (one search by its md5 version tag), or None.

    Versions registered before the tag existed (every training registered one) carry the md5 only on
    their run: found through it once, and tagged, so the next lookup is the one search again.
    """
    found = client.search_model_versions(
        f"name = '{registered_model}' and tags.`{MODEL_MD5_TAG}` = '{model_md5}'"
    )
    if found:
        return str(min(int(v.version) for v in found))
    for version in sorted(
        client.search_model_versions(f"name = '{registered_model}'"), key=lambda v: int(v.version)
    ):
        run = client.get_run(version.run_id) if version.run_id else None
        if run is not None and run.data.tags.get(MODEL_MD5_TAG) == model_md5:
            client.set_model_version_tag(registered_model, version.version, MODEL_MD5_TAG, model_md5)
            return str(version.version)
    return None


def log_to_model_run(
    *, experiment: str, model_md5: str, metrics: dict[str, float], artifacts: list[Path], tags: dict[str, str]
) -> str:
    """Attach metrics, tags and report files to the run that trained this model file (found by its md5).

    When no such run exists (the model came from the DVC cache into a fresh tracking store), a new run is
    created with the same model tag, so nothing evaluated is ever lost from tracking.
    """
    mlflow = _mlflow()
    mlflow.set_experiment(experiment)
    run_id = find_model_run(experiment=experiment, model_md5=model_md5)
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else "evaluate") as run:
        mlflow.set_tags({**tags, MODEL_MD5_TAG: model_md5})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="reports")
        return str(run.info.run_id)


def find_model_run(*, experiment: str, model_md5: str) -> str | None:
    """The latest run of `experiment` tagged with this model file's md5, or None (read-only)."""
    mlflow = _mlflow()
    found = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"tags.`{MODEL_MD5_TAG}` = '{model_md5}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return str(found[0].info.run_id) if found else None


def set_alias(*, registered_model: str, alias: str, model_md5: str) -> str:
    """Point `alias` (staging / champion) at the registered version of this model file.

    Git says what runs where; the registry alias mirrors it so MLflow users see the same truth. Raises
    LookupError when no version carries the model's md5 (it never passed the gate in this store).
    """
    mlflow = _mlflow()
    client = mlflow.MlflowClient()
    version = _version_of(client, registered_model, model_md5)
    if version is None:
        raise LookupError(
            f"no version of registered model {registered_model!r} is model md5 {model_md5} "
            "(only a model that passed the gates against this tracking store is registered)"
        )
    client.set_registered_model_alias(registered_model, alias, version)
    return version
