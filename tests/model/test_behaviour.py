"""Behavioural checks on trained pipelines (every estimator the params offer).

Invariance: what must not change the score. Directional: what the generator says must move it one way.
Minimum functionality: beats chance clearly, and survives the inputs production will send.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from tests.world import world_params

from mlops.contract import Contract
from mlops.generate import generate
from mlops.modeling import build_pipeline, input_columns
from mlops.params import RandomForestParams

ESTIMATORS = ["hist_gradient_boosting", "logistic_regression", "random_forest"]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate(8000, seed=11), generate(3000, seed=12)


@pytest.fixture(scope="module", params=ESTIMATORS)
def model(
    request: pytest.FixtureRequest, contract: Contract, data: tuple[pd.DataFrame, pd.DataFrame]
) -> Pipeline:
    shipped = world_params().train
    # Smaller forests keep the suite fast; the behaviour under test does not depend on forest size.
    params = shipped.model_copy(
        update={
            "estimator": request.param,
            "random_forest": RandomForestParams(n_estimators=60, max_depth=12, min_samples_leaf=5),
        }
    )
    train, _ = data
    return build_pipeline(contract, params).fit(train[input_columns(contract)], train["churned"])


def _proba(model: Pipeline, frame: pd.DataFrame, contract: Contract) -> np.ndarray:
    return np.asarray(model.predict_proba(frame[input_columns(contract)])[:, 1])


def test_beats_chance_clearly_on_fresh_data(model: Pipeline, contract: Contract, data: tuple) -> None:
    _, holdout = data
    assert roc_auc_score(holdout["churned"], _proba(model, holdout, contract)) > 0.75


@pytest.mark.parametrize("column", ["customer_id", "event_date", "gender", "age_band"])
def test_invariant_to_id_time_and_sensitive_attributes(
    model: Pipeline, contract: Contract, data: tuple, column: str
) -> None:
    _, holdout = data
    changed = holdout.copy()
    # Permuting a column breaks any link between it and the row: the score must not move at all.
    changed[column] = changed[column].sample(frac=1.0, random_state=0).to_numpy()
    np.testing.assert_array_equal(_proba(model, holdout, contract), _proba(model, changed, contract))


@pytest.mark.parametrize(("column", "delta", "sign"), [("support_calls", 3, 1), ("tenure_months", 24, -1)])
def test_directional_effects_the_generator_implies(
    model: Pipeline, contract: Contract, data: tuple, column: str, delta: int, sign: int
) -> None:
    _, holdout = data
    moved = holdout.copy()
    moved[column] = np.minimum(moved[column] + delta, contract.columns[column].max)  # type: ignore[call-overload]
    diff = sign * (_proba(model, moved, contract) - _proba(model, holdout, contract))
    assert diff.mean() > 0.01, f"{column} +{delta} should move churn by sign {sign} on average"
    if model.named_steps["model"].__class__.__name__ != "RandomForestClassifier":
        # Monotonic constraints (trees) and linearity (logistic) make the effect hold row by row;
        # a random forest only guarantees it on average.
        assert diff.min() >= -1e-12


def test_month_to_month_churns_more_than_two_year(model: Pipeline, contract: Contract, data: tuple) -> None:
    _, holdout = data
    m2m, two = holdout.assign(contract="month-to-month"), holdout.assign(contract="two-year")
    assert _proba(model, m2m, contract).mean() > _proba(model, two, contract).mean() + 0.05


def test_survives_unseen_categories_and_missing_numbers(
    model: Pipeline, contract: Contract, data: tuple
) -> None:
    _, holdout = data
    odd = holdout.head(50).copy()
    odd["region"] = "atlantis"
    odd["payment_method"] = "crypto"
    odd["total_charges"] = np.nan
    odd["data_usage_gb"] = np.nan
    proba = _proba(model, odd, contract)
    assert np.isfinite(proba).all() and ((proba >= 0) & (proba <= 1)).all()


def test_training_is_deterministic(contract: Contract, data: tuple) -> None:
    params = world_params().train
    train, holdout = data
    a = build_pipeline(contract, params).fit(train[input_columns(contract)], train["churned"])
    b = build_pipeline(contract, params).fit(train[input_columns(contract)], train["churned"])
    np.testing.assert_array_equal(_proba(a, holdout, contract), _proba(b, holdout, contract))


def test_monotonic_constraint_on_a_non_feature_is_named(contract: Contract) -> None:
    params = world_params().train.model_copy(update={"monotonic": {"gender": 1}})
    with pytest.raises(ValueError, match=r"train.monotonic names \['gender'\]"):
        build_pipeline(contract, params)
