"""The machinery on a dataset unlike the example: text target, no id, no time column (pure parts).

Holdout replay for `mlops simulate` with shifts derived from the contract, the target-rate bound for a
text target, golden smoke cases keyed by content, and answers in the contract's own terms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.contract import Contract
from mlops.monitoring.simulate import shifted
from mlops.serving.runtime import LoadedModel, Runtime
from mlops.validation import positive_rate

CONTRACT = Contract.model_validate(
    {
        "name": "census",
        "version": 1,
        "table": {"min_rows": 1, "max_rows": 10_000, "target_rate_min": 0.1, "target_rate_max": 0.5},
        "columns": {
            "age": {"type": "integer", "min": 17, "max": 90},
            "hours": {"type": "float", "min": 0, "max": 99},
            "workclass": {"type": "category", "values": ["Gov", "Private", "Self"]},
            "income": {"type": "category", "role": "target", "values": ["<=50K", ">50K"]},
        },
    }
)


def holdout(rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(17, 90, rows),
            "hours": rng.uniform(10, 60, rows).round(1),
            "workclass": rng.choice(["Gov", "Private", "Self"], rows, p=[0.3, 0.6, 0.1]),
            "income": rng.choice(["<=50K", ">50K"], rows, p=[0.7, 0.3]),
        }
    )


def test_replayed_rows_keep_the_contract_and_shifts_move_inputs_and_outcomes() -> None:
    frame = holdout()
    same, y_same = shifted(frame, CONTRACT, 3000, "none", seed=1)
    moved, y_moved = shifted(frame, CONTRACT, 3000, "both", seed=1)
    assert list(same.columns) == ["age", "hours", "workclass"] and set(y_same) == {0, 1}
    assert pd.api.types.is_integer_dtype(moved["age"])  # still integers a client would send
    assert moved["age"].between(17, 90).all() and moved["hours"].between(0, 99).all()  # the contract's range
    assert moved["age"].mean() > same["age"].mean() + 5  # half a standard deviation (~10.7 years)
    assert (moved["workclass"] == "Self").mean() > 0.5 > (same["workclass"] == "Self").mean()
    assert np.mean(np.array(y_moved) != np.array(y_same)) > 0.1  # a changed input -> outcome relation


def test_a_positive_rate_is_bounded_like_a_numeric_one() -> None:
    frame = holdout()
    check = positive_rate(frame, CONTRACT)
    assert check is not None and check.success and 0.25 < check.observed < 0.35
    skewed = frame.assign(income=">50K")
    failed = positive_rate(skewed, CONTRACT)
    assert failed is not None and not failed.success
    assert (
        "income" in failed.message and "observed 1.0" in failed.message and "max_value=0.5" in failed.message
    )


class Constant:
    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.tile([0.2, 0.8], (len(frame), 1))


def test_answers_name_the_target_and_its_values_and_the_log_keeps_a_0_1_class() -> None:
    logged: list[dict[str, object]] = []
    counted: list[tuple[str, object]] = []
    model = LoadedModel("census:1", Constant(), threshold=0.5)
    runtime = Runtime(
        model, logged.extend, None, lambda v, c: counted.append((v, c)), None, "income", CONTRACT.labels
    )
    [answer] = runtime.predict([{"age": 40, "hours": 40.0, "workclass": "Gov"}], ["r1"])
    assert answer == {"request_id": "r1", "model_version": "census:1", "probability": 0.8, "income": ">50K"}
    assert logged[0]["predicted"] == 1 and counted == [("census:1", ">50K")]


def test_a_0_1_target_whose_positive_label_is_0_is_bounded_on_the_share_of_0s() -> None:
    from mlops.validation import expectations_for

    flipped = CONTRACT.model_validate(
        {
            **CONTRACT.model_dump(),
            "columns": {
                **CONTRACT.model_dump()["columns"],
                "income": {"type": "integer", "role": "target", "values": [1, 0]},  # positive: 0
            },
        }
    )
    frame = holdout().assign(income=lambda d: (d["income"] == ">50K").astype(int))  # 30 % ones, 70 % zeros
    specs = [s.type for s in expectations_for(flipped, list(frame.columns))]
    assert "expect_column_mean_to_be_between" not in specs  # the mean is the rate of 1s, not of positives
    check = positive_rate(frame, flipped)
    assert check is not None and not check.success and 0.65 < check.observed < 0.75  # 0s: over the 0.5 max


def test_a_null_check_counts_its_misses_among_all_rows_and_says_so() -> None:
    from mlops.validation import CheckResult, ExpectationSpec

    spec = ExpectationSpec("expect_column_values_to_not_be_null", {"column": "age"}, "no missing values")
    failed = CheckResult(spec, False, unexpected_count=3, unexpected_percent=1.5, examples=[None])
    assert "3 unexpected values (1.50% of rows)" in failed.message
    ranged = ExpectationSpec(
        "expect_column_values_to_be_between", {"column": "age", "max_value": 90}, "range"
    )
    assert (
        "(2.00% of non-null values)"
        in CheckResult(ranged, False, unexpected_count=4, unexpected_percent=2.0).message
    )


def test_a_type_failure_shows_the_values_of_the_wrong_type_not_the_first_good_ones() -> None:
    from mlops.validation import CheckResult, ExpectationSpec, offending_types

    ages = [40, 41, "forty-two", 43, None]
    frame = pd.DataFrame({"age": ages, "workclass": ["Gov", 7, "Private", "Self", "Gov"]})

    def type_check(name: str, examples: list[object], count: int) -> CheckResult:
        kwargs = {"column": name, "type_list": []}
        spec = ExpectationSpec("expect_column_values_to_be_in_type_list", kwargs, "types")
        return CheckResult(spec, False, unexpected_count=count, unexpected_percent=1.0, examples=examples)

    # What GX says of an object column: every value unexpected, the first (good) ones as examples.
    gx = [type_check("age", [40, 41, "forty-two"], 4), type_check("workclass", [7], 1)]
    age, workclass = offending_types(gx, frame, CONTRACT)
    assert age.examples == ["forty-two"] and age.unexpected_count == 1 and age.unexpected_percent == 25.0
    assert "1 unexpected values (25.00% of non-null values), e.g. ['forty-two']" in age.message
    assert workclass.examples == [7]
