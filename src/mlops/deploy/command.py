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
from mlops.deploy.local import deploy_local, smoke_budget
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
from mlops.params import ProjectParams, load_params


def ensure_packaged(model: DeployedModel, holdout: Path, contract: Path, project: ProjectParams) -> str:
    """The bento of a recorded model, packaging it (from the DVC cache or remote) when not built here yet."""
    from mlops.adapters import bento

    name, threshold = project.name, project.threshold
    tag = package.model_tag(name, model.md5)
    if bento.find_model(tag) is None:
        with tempfile.TemporaryDirectory() as tmp:
            # The recorded bytes themselves (md5-checked): the packaged file is the one git names.
            path = Path(tmp) / "model.joblib"
            path.write_bytes(deployed_model_bytes(model))
            lineage = package.lineage(Path(), model.md5, threshold, name)
            golden, scoring = package.serving_checks(path, contract, holdout, threshold)
            metadata = {**lineage, "git_commit": model.commit, **scoring}
            package.ensure_model(name, path, contract, metadata, golden)
    found = bento.find_bento(f"{name}:{package.bento_version(model.md5, Path())}")
    return found or package.build_bento(
        tag, Path(), {"model_md5": model.md5, "git_commit": model.commit[:63]}
    )


def current_model(model_path: Path) -> DeployedModel:
    """The pipeline's current model as an environment records it (its md5 and the commit holding it)."""
    if not model_path.exists():
        raise InputError(f"{model_path} not found: run make pipeline first")
    git = git_state()
    if git["git_commit"] == "unknown":
        raise InputError("not a git repository: a deployment must name the commit that built the model")
    return DeployedModel(path=str(model_path), md5=file_md5(model_path), commit=git["git_commit"])


def run(
    env: str,
    target: str,
    params: Path,
    contract: Path,
    model: Path,
    gates: Path,
    test: Path,
    p95_ms: float | None,
    image: str | None,
) -> int:
    """`mlops deploy`: the environment's model on `target`, smoke-tested (local) before it serves."""
    config = load_params(params)
    name = config.project.name
    if env == "staging":
        # Staging follows the pipeline: it runs the model of the checked-out commit, once gated.
        current = current_model(model)
        package.check_gates(gates, current.md5)
        previous = read_record(env_file(env)) if env_file(env).exists() else None
        image = image or (previous.image if previous else None)
        record = EnvRecord(environment="staging", model=current, image=image)
    else:
        record = read_record(env_file(env))
        if record.model is None:
            raise InputError(f"{env_file(env)} records no model: promote one first (mlops promote)")
        if image is not None and image != record.image:
            raise InputError(f"production runs its recorded image ({record.image}), not {image}")
    assert record.model is not None
    bento = ensure_packaged(record.model, test, contract, config.project)
    if record.challenger is not None:
        ensure_packaged(record.challenger.model, test, contract, config.project)
    if target == "kubernetes":
        from mlops.deploy.kubernetes import deploy_kubernetes

        code, applied = deploy_kubernetes(env, record, bento)
    else:
        budget = smoke_budget(config.deploy, p95_ms)
        code, applied = deploy_local(env, record, bento, budget, name), True
    if code == 0 and applied and env == "staging":
        write_record(record, env_file(env))  # recorded only once it serves and passed its smoke test
    return code
