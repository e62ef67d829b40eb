"""BentoML 1.4 adapter: every model-store and bento-store operation (find, create, build, export).

The one other module that imports bentoml is mlops.serving.service: a BentoML service *is* a class
decorated with `@bentoml.service` / `@bentoml.api`, so that definition cannot live behind an adapter. Its
store reads (the champion's folder, metadata and contract) still come from here.

bentoml is imported inside each function: `mlops package` / `mlops deploy` pay for it only when they
reach the store, and the rest of the CLI never does. BentoML's own `NotFound` never leaves this module:
lookups return None, and `model()` raises our `NotFoundError` (a LookupError) for a tag that is not stored.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class NotFoundError(LookupError):
    """No model (or bento) with this tag in the store under BENTOML_HOME."""


@dataclass(frozen=True)
class StoredModel:
    """A model in BentoML's model store: its resolved tag (`name:version`), folder and metadata."""

    tag: str
    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def find_model(tag: str) -> StoredModel | None:
    """The stored model of `tag` (`name:version` or `name:latest`), or None when there is none."""
    import bentoml

    try:
        model = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        return None
    return StoredModel(str(model.tag), Path(model.path), dict(model.info.metadata), dict(model.info.labels))


def model(tag: str) -> StoredModel:
    """The stored model of `tag`; raises NotFoundError when there is none."""
    found = find_model(tag)
    if found is None:
        raise NotFoundError(f"no BentoML model {tag} in the model store")
    return found


def create_model(
    tag: str, *, metadata: dict[str, Any], labels: dict[str, str], files: Mapping[str, Path | str]
) -> str:
    """Save a new model under `tag`: each file is copied (a Path) or written (a str) into its folder.

    BentoML saves the model only when the block below completes, so a failed copy leaves no model.
    """
    import bentoml

    with bentoml.models.create(tag, metadata=metadata, labels=labels) as created:
        folder = Path(created.path)
        for name, content in files.items():
            if isinstance(content, Path):
                shutil.copyfile(content, folder / name)
            else:
                (folder / name).write_text(content)
        return str(created.tag)


def find_bento(tag: str) -> str | None:
    """The resolved tag of the stored bento `tag`, or None when there is none."""
    import bentoml

    try:
        return str(bentoml.get(tag).tag)
    except bentoml.exceptions.NotFound:
        return None


def _env_schema() -> type | None:
    """BentoML's class for `envs` entries, from a private module: `bentoml.bentos.build()` declares
    `envs: list[BentoEnvSchema]` and calls `.name` / `.value` on each entry (plain dicts fail), yet 1.4
    exports the class nowhere public. None when the path moves; build_bento then takes the public
    bentofile route instead."""
    try:
        from bentoml._internal.bento.build_config import BentoEnvSchema
    except ImportError:
        return None
    return BentoEnvSchema


def build_bento(
    service: str,
    *,
    name: str,
    version: str,
    labels: dict[str, str],
    include: list[str],
    exclude: list[str],
    envs: Mapping[str, str],
    models: list[str],
    python: dict[str, Any],
    build_ctx: Path,
    description: str,
) -> str:
    """Build a bento into the store from `build_ctx` (bentofile.yaml options as arguments); its tag.

    `description` is what the bento's README and the served OpenAPI document (/docs.json) say: without
    one BentoML copies the build context's README.md, publishing the project's whole README."""
    import bentoml

    options: dict[str, Any] = {
        "service": service,
        "description": description,
        "name": name,
        "labels": labels,
        "include": include,
        "exclude": exclude,
        "models": models,
        "python": python,
    }
    schema = _env_schema()
    if schema is not None:
        env_entries = [schema(name=key, value=value) for key, value in envs.items()]
        bento = bentoml.bentos.build(**options, envs=env_entries, version=version, build_ctx=str(build_ctx))
        return str(bento.tag)
    # Fallback, public API only: the same options as a bentofile.yaml, which BentoML parses itself.
    options["envs"] = [{"name": key, "value": value} for key, value in envs.items()]
    with tempfile.TemporaryDirectory() as tmp:
        bentofile = Path(tmp) / "bentofile.yaml"
        bentofile.write_text(yaml.safe_dump(options, sort_keys=False))
        bento = bentoml.bentos.build_bentofile(str(bentofile), version=version, build_ctx=str(build_ctx))
    return str(bento.tag)


def export_bento(tag: str, path: Path) -> None:
    """Write the stored bento `tag` to `path` as a .bento archive (`bentoml import` reads it back)."""
    import bentoml

    bentoml.export_bento(tag, str(path.resolve()))
