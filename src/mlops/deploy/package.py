"""`mlops package`: the gated model becomes a BentoML model and a bento (and an exported .bento file).

Refuses unless the gates passed for exactly this model file (reports/gates.json records its md5): a model
that failed or skipped the gates cannot be packaged, so it cannot be deployed. The BentoML model is
tagged by the project name and the model's md5 (`<project.name>:<md5[:16]>`), so packaging the same model
twice is a no-op and a tag names the same bytes everywhere. It carries the contract it was trained on (the
service builds its request schema from it) and its lineage as metadata: git commit, data and model md5,
MLflow run, threshold.

Offline by design: `lock_packages: false` (the build would otherwise resolve packages online); the
runtime environment is the project's own uv.lock (the Dockerfile installs it).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops import paths
from mlops.io import InputError, read_json, write_text
from mlops.lineage import file_md5, git_state

SERVICE = "mlops.serving.service:ModelService"


@dataclass(frozen=True)
class Packaged:
    model_tag: str
    bento_tag: str
    model_md5: str
    export: str
    metadata: dict[str, Any]


def model_tag(name: str, md5: str) -> str:
    """The BentoML model tag of a model file (name: params.yaml project.name): its md5 names the bytes."""
    return f"{name}:{md5[:16]}"


def code_hash(root: Path) -> str:
    """Hash of the serving code and the lock: a bento is rebuilt when either changes, not only the model."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([*(root / "src" / "mlops").rglob("*.py"), root / "uv.lock"]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def bento_version(md5: str, root: Path) -> str:
    """The bento version: the model and the code that serves it."""
    return f"{md5[:16]}-{code_hash(root)}"


def check_gates(gates_path: Path, model_md5: str) -> None:
    """The promotion rule: a model is packaged only after passing the gates as this very file."""
    if not gates_path.exists():
        raise InputError(f"{gates_path} not found: run the pipeline (make pipeline) before packaging")
    gates = read_json(gates_path)
    if gates.get("model_md5") != model_md5:
        raise InputError(
            f"{gates_path} judged model md5 {gates.get('model_md5')}, not {model_md5}: rerun dvc repro"
        )
    if not gates.get("passed"):
        raise InputError(f"the model failed the gates {gates.get('failed')}: it cannot be packaged")


def lineage(root: Path, model_md5: str, threshold: float, experiment: str) -> dict[str, Any]:
    """What the model is made of: commit, data hashes from dvc.lock, MLflow run, decision threshold."""
    lock = yaml.safe_load((root / "dvc.lock").read_text()) if (root / "dvc.lock").exists() else {}
    outs = {o["path"]: o["md5"] for st in lock.get("stages", {}).values() for o in st.get("outs", [])}
    from mlops.adapters.tracking import find_model_run

    try:
        run_id = find_model_run(experiment=experiment, model_md5=model_md5) or ""
    except Exception:  # an unreachable tracking server must not block packaging; lineage says so
        run_id = ""
    git = git_state(root)
    return {
        "model_md5": model_md5,
        "threshold": threshold,
        "git_commit": git["git_commit"],
        "git_dirty": git["git_dirty"],
        "train_data_md5": outs.get(str(paths.path("train", root / paths.DVC_YAML)), ""),
        "raw_data_md5": outs.get(str(paths.path("raw", root / paths.DVC_YAML)), ""),
        "mlflow_run_id": run_id,
    }


GOLDEN_ROWS = 20


def validated_records(contract_path: Path, holdout: Path, rows: int) -> list[dict[str, Any]]:
    """Holdout rows as /predict hands them to the model: schema-validated and dumped records."""
    from mlops.contract import load_contract
    from mlops.io import read_table
    from mlops.serving.schema import served_records

    return served_records(read_table(holdout).head(rows), load_contract(contract_path))


def scoring_path(
    model_path: Path, contract_path: Path, holdout: Path, threshold: float, golden: list[dict[str, Any]]
) -> dict[str, Any]:
    """Which path will serve, chosen here (metadata of the packaged model): `compiled` only when its
    probabilities match the Pipeline's within PARITY_BOUND, with identical classes, on the golden set and
    PARITY_ROWS holdout rows; otherwise `sklearn`, with the reason."""
    from pydantic import ValidationError

    from mlops.contract import load_contract
    from mlops.io import load_model
    from mlops.serving.compiled import PARITY_ROWS, prove

    try:
        records = [g["record"] for g in golden] + validated_records(contract_path, holdout, PARITY_ROWS)
    except ValidationError as exc:  # a holdout row the service would refuse: no proof on served inputs
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return {
            "scoring_path": "sklearn",
            "scoring_reason": f"holdout row refused by the schema: {where}: {first['msg']}",
        }
    return prove(load_model(model_path), load_contract(contract_path), records, threshold)[1]


def golden_set(
    model_path: Path, contract_path: Path, holdout: Path, threshold: float
) -> list[dict[str, Any]]:
    """Smoke-test requests from the evaluation set, with the answers this model must give to each.

    Each expected probability is computed the way /predict computes it (schema validation, then one record
    at a time), so a deployment that serves anything else (wrong model, wrong preprocessing) is caught.
    """
    import pandas as pd

    from mlops.contract import load_contract, row_keys
    from mlops.io import load_model, read_table
    from mlops.serving.schema import record_model

    contract = load_contract(contract_path)
    schema = record_model(contract)
    model = load_model(model_path)
    rows = read_table(holdout).drop(columns=[contract.target]).head(GOLDEN_ROWS)
    if contract.time_column is not None:
        rows[contract.time_column] = pd.to_datetime(rows[contract.time_column]).dt.strftime("%Y-%m-%d")
    # Each case is keyed by its content (no id column needed), so a challenger's golden set from the same
    # holdout rows is matched to the champion's by the same keys.
    keys = row_keys(rows, list(rows.columns))
    golden = []
    for key, raw in zip(keys, json.loads(rows.to_json(orient="records")), strict=True):  # NaN -> null
        record = schema.model_validate(raw).model_dump()
        p = float(model.predict_proba(pd.DataFrame.from_records([record]))[:, 1][0])
        golden.append({"record": raw, "key": key, "probability": p, "predicted": int(p >= threshold)})
    return golden


def serving_checks(
    model_path: Path, contract_path: Path, holdout: Path, threshold: float
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What every packaging (mlops package, a deploy packaging a recorded model) computes before the model
    is stored: its golden set and its scoring path (said once, with the reason)."""
    golden = golden_set(model_path, contract_path, holdout, threshold)
    scoring = scoring_path(model_path, contract_path, holdout, threshold, golden)
    print(f"package: scoring path {scoring['scoring_path']} ({scoring['scoring_reason']})")
    return golden, scoring


def ensure_model(
    name: str, model_path: Path, contract_path: Path, metadata: dict[str, Any], golden: list[dict[str, Any]]
) -> str:
    """The BentoML model for this file (created once; later calls find it by its md5 tag)."""
    from mlops.adapters import bento

    tag = model_tag(name, metadata["model_md5"])
    if (stored := bento.find_model(tag)) is not None:
        from mlops.serving.runtime import CorruptedModelError, verify_packaged

        try:  # found by tag: its bytes must still be the tag's, or the export would ship a corrupt model
            verify_packaged(stored.path, stored.metadata)
        except CorruptedModelError as exc:
            raise InputError(str(exc)) from None
        return stored.tag
    files: dict[str, Path | str] = {
        "model.joblib": model_path,
        "contract.yaml": contract_path,
        "golden.json": json.dumps(golden, indent=1),
    }
    return bento.create_model(tag, metadata=metadata, labels={"stage": "gated"}, files=files)


def build_bento(tag: str, root: Path, labels: dict[str, str]) -> str:
    """Build the bento of a packaged model (offline: no package locking); returns the bento tag.

    The bento, its service and its model share the project name (the model tag's name): the container has no
    params.yaml, so the name travels in the bento's envs as MLOPS_PROJECT."""
    from mlops.adapters import bento

    name, md5_prefix = tag.split(":", 1)
    declared = {k: Path(v) for k, v in paths.declared(root / paths.DVC_YAML).items()}
    data_folders = list(dict.fromkeys(str(declared[k].parent) for k in ("raw", "train", "test")))
    os.environ["MLOPS_MODEL_TAG"] = tag  # the service module reads its request schema from this model
    os.environ["MLOPS_PROJECT"] = name  # ...and its service name from this
    return bento.build_bento(
        SERVICE,
        name=name,
        version=bento_version(md5_prefix, root),
        labels=labels,
        include=["src/mlops/**/*.py", "src/mlops/py.typed", str(declared["contract"]), "pyproject.toml"],
        # BENTOML_HOME (.bentoml/) lives in the project: never walk into it, nor into other heavy folders
        # (the folders of the pipeline's data: dvc.yaml paths raw, train, test).
        exclude=[".bentoml", ".venv", ".git", ".dvc", *data_folders, "node_modules", ".tools"],
        envs={"MLOPS_MODEL_TAG": tag, "MLOPS_PROJECT": name},
        models=[tag],
        python={"lock_packages": False, "packages": []},
        build_ctx=root,
        # What the served /docs.json says: the API, never the repository's README.
        description=(
            f"{name} ({tag}): POST /predict {{record}}, /predict_batch {{records}}, /feedback {{labels}}; "
            "the request schema is the data contract's."
        ),
    )


def run(
    params: Path,
    contract: Path,
    model: Path,
    gates: Path,
    test: Path,
    out: Path,
    root: Path = Path(),
) -> int:
    from mlops.adapters import bento
    from mlops.params import load_params

    if not model.exists():
        raise InputError(f"model not found: {model} (run make pipeline, or dvc pull)")
    md5 = file_md5(model)
    check_gates(gates, md5)
    project_params = load_params(params).project
    name, threshold = project_params.name, project_params.threshold
    metadata = lineage(root, md5, threshold, name)
    golden, scoring = serving_checks(model, contract, test, threshold)
    metadata |= scoring
    tag = ensure_model(name, model, contract, metadata, golden)
    labels = {k: str(metadata[k])[:63] for k in ("model_md5", "git_commit", "mlflow_run_id")}
    bento_tag = bento.find_bento(f"{name}:{bento_version(md5, root)}") or build_bento(tag, root, labels)
    out.mkdir(parents=True, exist_ok=True)
    export = out / f"{name}.bento"  # the Dockerfile bind-mounts dist/${PROJECT}.bento
    tmp = out / f".{name}.partial.bento"
    tmp.unlink(missing_ok=True)
    bento.export_bento(bento_tag, tmp)
    tmp.replace(export)  # a half-written export never carries the final name
    result = Packaged(tag, bento_tag, md5, str(export), metadata)
    write_text(json.dumps(asdict(result), indent=2) + "\n", out / "package.json")
    print(f"package: model {tag}, bento {bento_tag} -> {export}")
    return 0
