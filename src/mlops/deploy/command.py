"""`mlops deploy`: put the model an environment's record names on its target, then smoke-test it.

Staging follows the pipeline (the gated model of the checked-out commit); production runs what
deploy/production.yaml records. Target `local` serves it with `bentoml serve` (mlops.deploy.local);
target `kubernetes` renders the manifests, validates them offline and applies them when a cluster is
configured (mlops.deploy.kubernetes).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlops.deploy import package
from mlops.deploy.local import deploy_local
from mlops.deploy.records import (
    DeployedModel,
    EnvRecord,
    deployed_model_bytes,
    env_file,
    read_record,
    write_record,
)
from mlops.io import InputError
from mlops.lineage import file_md5, git_state


def ensure_packaged(model: DeployedModel, holdout: Path, contract: Path, params: Path) -> str:
    """The bento of a recorded model, packaging it (from the DVC cache or remote) when not built here yet."""
    import bentoml

    from mlops.params import EvaluateParams, TrainParams, load_section

    tag = package.model_tag(model.md5)
    try:
        bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        threshold = load_section(params, "evaluate", EvaluateParams).threshold
        experiment = load_section(params, "train", TrainParams).mlflow.experiment
        with tempfile.TemporaryDirectory() as tmp:
            # The recorded bytes themselves (md5-checked): the packaged file is the one git names.
            path = Path(tmp) / "model.joblib"
            path.write_bytes(deployed_model_bytes(model))
            lineage = package.lineage(Path(), model.md5, threshold, experiment)
            metadata = {**lineage, "git_commit": model.commit}
            golden = package.golden_set(path, contract, holdout, threshold)
            package.ensure_model(path, contract, metadata, golden)
    try:
        return str(bentoml.get(f"{package.NAME}:{package.bento_version(model.md5, Path())}").tag)
    except bentoml.exceptions.NotFound:
        return package.build_bento(tag, Path(), {"model_md5": model.md5, "git_commit": model.commit[:63]})


def current_model(model_path: Path) -> DeployedModel:
    """The pipeline's current model as an environment records it (its md5 and the commit holding it)."""
    if not model_path.exists():
        raise InputError(f"{model_path} not found: run make pipeline first")
    git = git_state()
    if git["git_commit"] == "unknown":
        raise InputError("not a git repository: a deployment must name the commit that built the model")
    return DeployedModel(path=str(model_path), md5=file_md5(model_path), commit=git["git_commit"])


def run_deploy(
    env: str,
    target: str,
    params: Path,
    contract: Path,
    model_path: Path,
    holdout: Path,
    p95_budget_ms: float,
    image: str | None = None,
) -> int:
    if env == "staging":
        # Staging follows the pipeline: it runs the model of the checked-out commit, once gated.
        model = current_model(model_path)
        package.check_gates(Path("reports/gates.json"), model.md5)
        previous = read_record(env_file(env)) if env_file(env).exists() else None
        image = image or (previous.image if previous else None)
        record = EnvRecord(environment="staging", model=model, image=image)
    else:
        record = read_record(env_file(env))
        if record.model is None:
            raise InputError(f"{env_file(env)} records no model: promote one first (mlops promote)")
        if image is not None and image != record.image:
            raise InputError(f"production runs its recorded image ({record.image}), not {image}")
    assert record.model is not None
    bento = ensure_packaged(record.model, holdout, contract, params)
    if record.challenger is not None:
        ensure_packaged(record.challenger.model, holdout, contract, params)
    if target == "kubernetes":
        from mlops.deploy.kubernetes import deploy_kubernetes

        code, applied = deploy_kubernetes(env, record, bento)
    else:
        code, applied = deploy_local(env, record, bento, p95_budget_ms), True
    if code == 0 and applied and env == "staging":
        write_record(record, env_file(env))  # recorded only once it serves and passed its smoke test
    return code
