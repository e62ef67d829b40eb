"""The tests' own world (tests/world) still fits the code: a schema change shows up here first.

The template tests run on tests/world's contract and params whatever a fork puts in data/contract.yaml and
params.yaml. When the params or contract schema changes, these files must change with it (and the example's
shipped copies too): this file says so in one place instead of a hundred tests failing on a load error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import EXTRACT_KEEP, ROOT, copy_project
from tests.world import WORLD_CONTRACT, WORLD_PARAMS, world_contract, world_params

from mlops import consistency, schemas
from mlops.contract import Contract, load_contract
from mlops.generate import generate
from mlops.params import Params, load_params


def test_the_world_files_validate_against_the_current_models() -> None:
    assert isinstance(load_params(WORLD_PARAMS), Params)
    assert isinstance(load_contract(WORLD_CONTRACT), Contract)
    assert world_params().ingest.source == "synthetic"  # the generator is the world's data


def test_the_world_params_fit_the_world_contract() -> None:
    assert consistency.mismatches(world_params(), world_contract()) == []


def _schema_problems(value: Any, node: dict[str, Any], defs: dict[str, Any], key: str) -> list[str]:
    """Keys of `value` the JSON schema `node` requires but are absent, or does not know (extra keys)."""
    if "$ref" in node:
        return _schema_problems(value, defs[node["$ref"].rsplit("/", 1)[-1]], defs, key)
    if "anyOf" in node:  # `X | None`: check against the non-null branch when there is a value
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        return [] if value is None or len(branches) != 1 else _schema_problems(value, branches[0], defs, key)
    if node.get("type") != "object" or not isinstance(value, dict) or "properties" not in node:
        return []
    problems = [f"{key}{name}: required by the schema, absent" for name in node.get("required", [])]
    problems = [p for p, name in zip(problems, node.get("required", []), strict=True) if name not in value]
    for name, child in value.items():
        if name not in node["properties"]:
            if node.get("additionalProperties") is False:
                problems.append(f"{key}{name}: not in the schema")
            continue
        problems += _schema_problems(child, node["properties"][name], defs, f"{key}{name}.")
    return problems


def test_the_world_params_have_exactly_the_keys_the_params_schema_expects() -> None:
    """The editor's view (schemas/params.schema.json, as `mlops schema` renders it now): every required key
    present, no unknown one. Loading already guarantees it; this names the keys when it does not."""
    schema = schemas.schema(Params)
    raw = yaml.safe_load(WORLD_PARAMS.read_text())
    assert _schema_problems(raw, schema, schema["$defs"], "") == []
    raw["split"]["sed"] = raw["split"].pop("seed")
    del raw["ingest"]["synthetic"]["rows"]
    assert sorted(_schema_problems(raw, schema, schema["$defs"], "")) == [
        "ingest.synthetic.rows: required by the schema, absent",
        "split.sed: not in the schema",
        "split.seed: required by the schema, absent",
    ]


def test_the_world_contract_describes_the_generators_columns() -> None:
    assert list(generate(rows=50, seed=1).columns) == list(world_contract().data_columns)


@pytest.mark.parametrize(
    ("world", "shipped"),
    [(WORLD_PARAMS, ROOT / "params.yaml"), (WORLD_CONTRACT, ROOT / "data" / "contract.yaml")],
    ids=["params", "contract"],
)
def test_while_the_repository_ships_the_example_the_world_is_a_copy_of_it(world: Any, shipped: Any) -> None:
    """In the template itself (the example still in data/contract.yaml), the world holds the same values as
    the shipped files: an edit of the example reaches the tests' world too. A fork has its own contract: there
    the two are expected to differ, and this test has nothing to compare."""
    example = yaml.safe_load(WORLD_CONTRACT.read_text())
    if yaml.safe_load((ROOT / "data" / "contract.yaml").read_text()) != example:
        pytest.skip("a fork's contract: the world is the example, not this project's data")
    assert yaml.safe_load(world.read_text()) == yaml.safe_load(shipped.read_text())


def test_a_project_copy_runs_on_the_world_whatever_the_fork_holds(tmp_path: Path) -> None:
    """copy_project's overlay, which the pipeline, deploy and workflow tests start from."""
    copy = copy_project(tmp_path / "copy")
    assert (copy / "data" / "contract.yaml").read_text() == WORLD_CONTRACT.read_text()
    assert (copy / "params.yaml").read_text() == WORLD_PARAMS.read_text()
    for env in ("staging", "production"):
        record = yaml.safe_load((copy / "deploy" / f"{env}.yaml").read_text())
        assert record["model"] is None and record["challenger"] is None and record["image"] is None
    extract = sorted(p.name for p in (copy / "data" / "extract").iterdir())
    assert set(extract) <= EXTRACT_KEEP, extract
