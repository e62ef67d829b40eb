"""`mlops schema`: the JSON schemas of params.yaml and of the data contract, for editors.

Committed under schemas/ and named by each file's `# yaml-language-server: $schema=...` first line, so an
editor completes keys and flags a wrong value as it is typed; tests/unit/test_params.py fails when a
committed schema is stale (re-run `mlops schema`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mlops.contract import Contract
from mlops.io import write_text
from mlops.params import Params

SCHEMAS: dict[str, type[BaseModel]] = {"params.schema.json": Params, "contract.schema.json": Contract}


def schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}


def render(model: type[BaseModel]) -> str:
    return json.dumps(schema(model), indent=2, sort_keys=True) + "\n"


def run(out: Path) -> int:
    for name, model in SCHEMAS.items():
        write_text(render(model), out / name)
        print(f"schema: {model.__name__} -> {out / name}")
    return 0
