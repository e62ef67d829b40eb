"""params.yaml sections load into typed, frozen models; typos and bad values fail before any work."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import yaml

from mlops.params import EvaluateParams, IngestParams, ParamsError, SplitParams, TrainParams, load_section

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_params_load() -> None:
    path = ROOT / "params.yaml"
    assert load_section(path, "ingest", IngestParams).rows == 50_000
    assert load_section(path, "split", SplitParams).strategy == "time"
    train = load_section(path, "train", TrainParams)
    assert train.estimator == "hist_gradient_boosting"
    assert train.monotonic == {"support_calls": 1, "tenure_months": -1}
    assert 0 < load_section(path, "evaluate", EvaluateParams).threshold < 1


def test_sections_are_frozen() -> None:
    params = load_section(ROOT / "params.yaml", "split", SplitParams)
    with pytest.raises(pydantic.ValidationError):
        params.test_fraction = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("section", "model", "body", "named"),
    [
        ("train", TrainParams, {"estimator": "xgboost"}, "train.estimator"),
        (
            "train",
            TrainParams,
            {"estimator": "logistic_regression", "logistic_regresion": {}},
            "logistic_regresion",
        ),
        (
            "train",
            TrainParams,
            {"estimator": "random_forest", "random_forest": {"n_estimators": 0}},
            "n_estimators",
        ),
        ("split", SplitParams, {"test_fraction": 1.5}, "split.test_fraction"),
        ("ingest", IngestParams, {"rows": -1}, "ingest.rows"),
        ("ingest", IngestParams, {"start_date": "yesterday"}, "ingest.start_date"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, section: str, model: type[pydantic.BaseModel], body: dict[str, object], named: str
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({section: body}))
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        load_section(path, section, model)


def test_missing_section_is_named(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("ingest: {}\n")
    with pytest.raises(ParamsError, match="section `train` is missing"):
        load_section(path, "train", TrainParams)
