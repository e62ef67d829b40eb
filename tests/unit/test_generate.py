"""The seeded generator: deterministic, contract-shaped, and its drift knobs move what they claim to."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.contract import Contract
from mlops.generate import EFFECTS, churn_logit, generate


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    pd.testing.assert_frame_equal(generate(500, seed=3), generate(500, seed=3))
    assert not generate(500, seed=3).equals(generate(500, seed=4))


def test_columns_and_dtypes_follow_the_contract(contract: Contract, small_frame: pd.DataFrame) -> None:
    assert list(small_frame.columns) == list(contract.columns)
    kinds = {"integer": "i", "float": "f", "category": "O", "string": "O", "date": "M"}
    for name, col in contract.columns.items():
        assert small_frame[name].dtype.kind == kinds[col.type], name
    assert small_frame["customer_id"].is_unique
    assert small_frame["event_date"].is_monotonic_increasing  # sorted by time, ready for a time split


def test_missing_values_only_where_the_contract_allows(contract: Contract, small_frame: pd.DataFrame) -> None:
    for name, col in contract.columns.items():
        share = small_frame[name].isna().mean()
        if col.nullable:
            assert 0 < share <= (col.max_null_fraction or 1), name
        else:
            assert share == 0, name


def test_target_follows_the_documented_relation(small_frame: pd.DataFrame) -> None:
    logit = churn_logit(small_frame, concept_shift=0.0)
    high, low = logit > np.quantile(logit, 0.8), logit < np.quantile(logit, 0.2)
    assert small_frame["churned"][high].mean() > 3 * small_frame["churned"][low].mean()
    assert 0.12 < small_frame["churned"].mean() < 0.35


def test_covariate_shift_moves_inputs_not_the_relation() -> None:
    ref, shifted = generate(4000, seed=1), generate(4000, seed=1, covariate_shift=1.0)
    assert shifted["monthly_charges"].mean() > 1.1 * ref["monthly_charges"].mean()
    assert shifted["support_calls"].mean() > ref["support_calls"].mean() + 0.4
    assert (shifted["contract"] == "month-to-month").mean() > (
        ref["contract"] == "month-to-month"
    ).mean() + 0.1


def test_concept_shift_keeps_inputs_and_changes_the_relation() -> None:
    ref, shifted = generate(4000, seed=1), generate(4000, seed=1, concept_shift=1.0)
    inputs = [c for c in ref.columns if c != "churned"]
    pd.testing.assert_frame_equal(ref[inputs], shifted[inputs])
    assert (ref["churned"] != shifted["churned"]).mean() > 0.05
    # The shifted world cares about price, far less about support calls.
    assert EFFECTS["support_calls"][1] < EFFECTS["support_calls"][0]
    assert EFFECTS["monthly_charges"][1] > EFFECTS["monthly_charges"][0]
