"""params.yaml loads into one typed, frozen model; every key is required, typos and bad values fail
before any work, the estimator table is the only list of estimators, and the committed schemas are current.

Template tests: they mutate the tests' world (tests/world/params.yaml), not the repository's params.yaml,
which belongs to the fork (tests/unit/test_project.py checks that one)."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
import pytest
import yaml
from tests.conftest import ROOT
from tests.world import WORLD_CONTRACT, WORLD_PARAMS, world_contract, world_params

from mlops import schemas
from mlops.modeling import fit, input_columns, targets
from mlops.params import ESTIMATORS, ParamsError, TrainParams, load_params

RAW: dict[str, Any] = yaml.safe_load(WORLD_PARAMS.read_text())


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _without(raw: dict[str, Any], dotted: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(raw, default=str))
    *parents, leaf = dotted.split(".")
    node = copy
    for key in parents:
        node = node[key]
    del node[leaf]
    return copy


def test_the_world_params_load() -> None:
    params = load_params(WORLD_PARAMS)
    assert params.project.name == "customer-churn" and params.project.threshold == 0.3
    assert params.ingest.source == "synthetic" and params.split.strategy == "time"
    assert params.ingest.synthetic is not None and params.ingest.synthetic.rows == 50_000
    assert params.train.estimator == "hist_gradient_boosting"
    assert params.train.monotonic == {"support_calls": 1, "tenure_months": -1}
    assert params.train.settings == params.train.hist_gradient_boosting


def test_the_params_are_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        world_params().split.test_fraction = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    "key",
    [
        "project.threshold",
        "project.name",
        "train.hist_gradient_boosting.max_leaf_nodes",
        "train.hist_gradient_boosting.learning_rate",
        "train.random_forest.max_depth",  # required even though null is a valid value
        "ingest.read.delimiter",
        "ingest.synthetic.rows",
        "gates.fairness.min_group_size",
        "monitoring.performance.min_labels",
        "deploy.smoke_p95_ms",
        "evaluate",
    ],
)
def test_a_deleted_key_is_an_error_naming_it(tmp_path: Path, key: str) -> None:
    path = _write(tmp_path, _without(RAW, key))
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    assert str(caught.value) == f"{path}: {key}: Field required"


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("train.estimator", "xgboost", "train.estimator"),
        ("train.logistic_regresion", {}, "train.logistic_regresion"),
        ("train.random_forest.n_estimators", 0, "train.random_forest.n_estimators"),
        ("split.test_fraction", 1.5, "split.test_fraction"),
        ("ingest.synthetic.rows", -1, "ingest.synthetic.rows"),
        ("ingest.synthetic.start_date", "yesterday", "ingest.synthetic.start_date"),
        ("ingest.read.delimiter", ";;", "ingest.read.delimiter"),
        ("project.threshold", 1.0, "project.threshold"),
        ("project.name", "Customer Churn", "project.name"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, key: str, value: object, named: str) -> None:
    raw = json.loads(json.dumps(RAW, default=str))
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        node = node[part]
    node[leaf] = value
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        load_params(_write(tmp_path, raw))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_the_estimator_table_is_the_only_list() -> None:
    choices = typing.get_args(TrainParams.model_fields["estimator"].annotation)
    assert list(choices) == list(ESTIMATORS)
    assert set(RAW["train"]) - {"estimator", "seed", "use_sensitive_features", "monotonic"} == set(ESTIMATORS)
    for name, row in ESTIMATORS.items():
        assert TrainParams.model_fields[name].annotation is row.settings


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_every_table_row_builds_a_fitted_pipeline(estimator: str, small_frame: pd.DataFrame) -> None:
    contract = world_contract()
    params = world_params().train.model_copy(update={"estimator": estimator})
    frame = small_frame.head(300)
    x, y = frame[input_columns(contract)], targets(frame, contract)
    model = fit(contract, params, x, y)
    assert type(model[-1]).__module__.startswith("sklearn.")
    proba = model.predict_proba(x)[:, 1]
    assert proba.shape == (len(x),) and ((proba >= 0) & (proba <= 1)).all()


@pytest.mark.parametrize("name", list(schemas.SCHEMAS))
def test_the_committed_schemas_are_current(name: str) -> None:
    committed = (ROOT / "schemas" / name).read_text()
    assert committed == schemas.render(schemas.SCHEMAS[name]), f"schemas/{name} is stale: run `mlops schema`"


def test_the_yaml_files_name_their_schemas() -> None:
    """The world's files name the schemas by their own relative paths; the fork's, when they name one
    (the shipped ones do), name the right file."""
    assert WORLD_PARAMS.read_text().splitlines()[0] == (
        "# yaml-language-server: $schema=../../schemas/params.schema.json"
    )
    assert WORLD_CONTRACT.read_text().splitlines()[0] == (
        "# yaml-language-server: $schema=../../schemas/contract.schema.json"
    )
    for path, named in (
        (ROOT / "params.yaml", "schemas/params.schema.json"),
        (ROOT / "data" / "contract.yaml", "../schemas/contract.schema.json"),
    ):
        first = path.read_text().splitlines()[:1]
        if first and first[0].startswith("# yaml-language-server:"):
            assert first[0] == f"# yaml-language-server: $schema={named}", path


def test_the_monitoring_config_names_no_project() -> None:
    """deploy/monitoring/ is static config (Prometheus and Grafana read it as is): it names no project, so a
    fork's rename cannot leave it stale. Grafana picks the service from BentoML's own service_name label
    (params.yaml project.name) through a dashboard variable. Neither the example's name nor the fork's."""
    names = {world_params().project.name, load_params(ROOT / "params.yaml").project.name}
    for file in (ROOT / "deploy" / "monitoring").iterdir():
        assert not any(name in file.read_text() for name in names), file
    dashboard = json.loads((ROOT / "deploy" / "monitoring" / "grafana-dashboard.json").read_text())
    (variable,) = dashboard["templating"]["list"]
    assert variable["name"] == "service" and "service_name" in variable["definition"]
    services = re.findall(r'service_name="([^"]*)"', json.dumps(dashboard).replace('\\"', '"'))
    assert services and set(services) == {"$service"}, services
