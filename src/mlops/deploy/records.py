"""The deployment state in git (deploy/<env>.yaml) and fetching the model it names from DVC storage.

Git is the source of truth for what runs where: the champion a candidate must beat is the model recorded
in deploy/production.yaml, fetched by its DVC hash (local cache first, then the DVC remote at the
recorded commit).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlops.deploy import Environment
from mlops.io import InputError
from mlops.lineage import file_md5


class DeployedModel(BaseModel):
    """A model as recorded in an environment file: where it lives in the pipeline, its hash, its commit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = "models/model.joblib"
    md5: str = Field(pattern=r"^[0-9a-f]{32}$")
    commit: str = Field(min_length=7)

    @property
    def label(self) -> str:
        return f"md5 {self.md5[:8]} from {self.commit[:8]}"


def env_file(env: Environment | str) -> Path:
    """deploy/<env>.yaml (dvc.yaml `vars.paths.<env>`): the git record of what runs in that environment."""
    from mlops.paths import path

    return path(env)


def deployed_model(env_file: Path) -> DeployedModel | None:
    """The model an environment file records, or None when nothing has been deployed there yet."""
    if not env_file.exists():
        return None
    raw = yaml.safe_load(env_file.read_text()) or {}
    if raw.get("model") is None:
        return None
    try:
        return DeployedModel.model_validate(raw["model"])
    except ValidationError as exc:
        from mlops.params import describe_errors

        raise InputError(f"{env_file}: {describe_errors(exc, 'model')}") from exc


def deployed_model_bytes(model: DeployedModel, repo: Path = Path()) -> bytes:
    """The recorded model file's bytes: from the local DVC cache, else from the DVC remote at its commit.

    The bytes are checked against the recorded md5, so a wrong file can never pass as the champion.
    """
    from mlops.adapters import dvc_cli

    cached = dvc_cli.cache_path(repo, model.md5)
    if cached.exists() and file_md5(cached) == model.md5:
        return cached.read_bytes()
    import hashlib

    try:
        data = dvc_cli.read_at(model.path, repo=repo, rev=model.commit)
    except Exception as exc:  # DVC raises many types (missing rev, no remote, not in storage)
        raise InputError(f"cannot fetch the deployed model {model.label}: {exc}") from exc
    if hashlib.md5(data, usedforsecurity=False).hexdigest() != model.md5:
        raise InputError(
            f"the model at {model.commit}:{model.path} does not match the recorded md5 {model.md5}"
        )
    return data


def load_deployed_model(model: DeployedModel, repo: Path = Path()) -> Any:
    """Load the recorded model (md5-checked bytes, see `deployed_model_bytes`)."""
    import joblib

    return joblib.load(io.BytesIO(deployed_model_bytes(model, repo)))


class ChallengerRecord(BaseModel):
    """A second model beside the champion: `split` answers `share` of requests (sticky by request id),
    `shadow` scores every request without answering (its predictions are only logged)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: DeployedModel
    mode: Literal["split", "shadow"] = "shadow"
    share: float = Field(default=0.0, ge=0.0, le=1.0)


class EnvRecord(BaseModel):
    """deploy/<env>.yaml: what runs in one environment. Git history of this file is the deploy history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment
    model: DeployedModel | None = None
    challenger: ChallengerRecord | None = None
    image: str | None = None  # container image (set by the deploy workflow for the kubernetes target)


def read_record(env_file: Path) -> EnvRecord:
    if not env_file.exists():
        raise InputError(f"{env_file} not found")
    try:
        return EnvRecord.model_validate(yaml.safe_load(env_file.read_text()) or {})
    except ValidationError as exc:
        from mlops.params import describe_errors

        raise InputError(f"{env_file}: {describe_errors(exc, env_file.stem)}") from exc


def comments_by_key(text: str) -> dict[str, list[str]]:
    """The comment lines written above each top-level key of a record file (the file's own explanations)."""
    found: dict[str, list[str]] = {}
    pending: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            pending.append(line)
        elif line and not line[0].isspace() and ":" in line:
            found[line.split(":", 1)[0]], pending = pending, []
    return found


def render_record(record: EnvRecord, previous_text: str | None) -> str:
    """The record as YAML, each key under the comments the previous file had above it (a new file gets a
    short header): a promotion changes values, never the explanations a reader relies on."""
    comments = comments_by_key(previous_text) if previous_text else {}
    if not comments:
        comments = {
            "environment": [
                f"# What runs in {record.environment}. Git is the source of truth (deploy/<env>.yaml);",
                "# rollback is a revert of the commit that changed it.",
            ]
        }
    lines: list[str] = []
    for key, value in record.model_dump(mode="json", exclude_none=False).items():
        lines += comments.get(key, [])
        lines += yaml.safe_dump({key: value}, sort_keys=False).splitlines()
    return "\n".join(lines) + "\n"


def write_record(record: EnvRecord, env_file: Path) -> None:
    from mlops.io import write_text

    previous = env_file.read_text() if env_file.exists() else None
    write_text(render_record(record, previous), env_file)
