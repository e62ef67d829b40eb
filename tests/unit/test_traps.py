"""The silent evaluation traps, each caught on a small dataset built to contain it; the example trips none.

A model can pass every metric gate for the wrong reason: a holdout whose recent labels are not known yet, a
column that is the label in disguise, a weak leak a tree exploits, a fairness gap across a group that is a
function of a model feature. Each test builds the trap, checks that the message names the column and the
numbers, and the last ones run the same checks on the example's data, where none may fire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from tests.world import WORLD_CONTRACT, WORLD_PARAMS, world_contract, world_params

from mlops.contract import Contract
from mlops.gates import fairness, leakage, too_good
from mlops.generate import generate
from mlops.modeling import fit, input_columns, targets
from mlops.splitting import rate_gap_problem, split_frame, split_report
from mlops.stages import split as split_stage

PARAMS = world_params()
TRAIN = PARAMS.train.model_copy(update={"monotonic": {}})  # the traps' contract has other columns
CEILING = world_contract().table.max_single_feature_auc

TRAPS = Contract.model_validate(
    {
        "name": "traps",
        "version": 1,
        "table": {"min_rows": 10, "max_rows": 10**6, "target_rate_min": 0.0, "target_rate_max": 1.0},
        "columns": {
            "customer_id": {"type": "string", "role": "id"},
            "event_date": {"type": "date", "role": "time"},
            "usage": {"type": "float", "role": "feature"},
            "tenure": {"type": "float", "role": "feature"},
            "age": {"type": "integer", "role": "feature"},
            "plan": {"type": "category", "role": "feature", "values": ["basic", "plus", "pro"]},
            "status_code": {"type": "integer", "role": "feature"},
            "age_band": {
                "type": "category",
                "role": "sensitive",
                "values": ["18-29", "30-44", "45-59", "60+"],
            },
            "gender": {"type": "category", "role": "sensitive", "values": ["female", "male"]},
            "churned": {"type": "integer", "role": "target", "values": [0, 1]},
        },
    }
)


def world(n: int, seed: int, leak_share: float = 0.0) -> pd.DataFrame:
    """An honest churn-like world (two numeric signals, a plan, an age with its band), time-ordered.

    `leak_share` of the churners get a status code of 4 or 5, the others a code drawn uniformly from 0-9:
    the codes churners get sit in the middle, so neither a ranking by the code nor a linear model sees
    the leak, but a tree isolates it (a "cancellation requested" code recorded after the outcome)."""
    rng = np.random.default_rng(seed)
    usage, tenure = rng.normal(size=n), rng.normal(size=n)
    plan = rng.choice(["basic", "plus", "pro"], n)
    age = rng.integers(18, 91, n)
    logit = -1.0 + 0.9 * usage - 0.7 * tenure + np.select([plan == "basic", plan == "pro"], [0.5, -0.5], 0.0)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    code = np.where((y == 1) & (rng.random(n) < leak_share), rng.integers(4, 6, n), rng.integers(0, 10, n))
    band = pd.cut(age, [0, 29, 44, 59, 200], labels=["18-29", "30-44", "45-59", "60+"]).astype(str)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "event_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n) // 20, "D"),
            "usage": usage,
            "tenure": tenure,
            "age": age,
            "plan": plan,
            "status_code": code,
            "age_band": band,
            "gender": rng.choice(["female", "male"], n),
            "churned": y,
        }
    )


def candidate(frame: pd.DataFrame, contract: Contract = TRAPS) -> tuple[Pipeline, pd.DataFrame, np.ndarray]:
    """The shipped estimator trained on the oldest 2/3 by time; (model, holdout, holdout targets)."""
    train, holdout = split_frame(frame, "time", 1 / 3, 0, contract.time_column, contract.target)
    model = fit(contract, TRAIN, train[input_columns(contract)], targets(train, contract))
    return model, holdout, targets(holdout, contract)


# -- 1. censored recent labels with a time split ------------------------------------------------------


def censored(frame: pd.DataFrame, time_column: str, target: str) -> pd.DataFrame:
    """The most recent quarter's churners mostly read as stayers: their outcome was not known yet."""
    recent = frame[time_column] >= frame[time_column].quantile(0.75)
    unknown = recent & (np.random.default_rng(0).random(len(frame)) < 0.8)
    return frame.assign(**{target: np.where(unknown, 0, frame[target])})


def test_a_time_split_over_censored_recent_labels_fails_naming_both_rates() -> None:
    frame = censored(world(4000, 1), "event_date", "churned")
    train, holdout = split_frame(frame, "time", 0.2, 0, "event_date", "churned")
    report = split_report(train, holdout, "time", "churned", 1)
    assert report.train_rows == 3200 and report.holdout_rows == 800
    message = rate_gap_problem(report, PARAMS.split.max_target_rate_gap)
    assert message is not None
    assert f"holdout positive rate {report.holdout_rate:.3f} vs train {report.train_rate:.3f}" in message
    assert f"(gap {report.gap:.3f} > split.max_target_rate_gap 0.1)" in message
    assert "censored" in message and "options:" in message
    assert report.gap > 0.2  # the trap is not marginal: ~0.33 of train vs ~0.1 recent


def test_the_split_stage_writes_the_numbers_but_no_parts_when_the_gap_is_too_large(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw.parquet"
    censored(generate(3000, seed=5), "event_date", "churned").to_parquet(raw)
    out = {name: tmp_path / f"{name}.parquet" for name in ("train", "test")}
    validation = tmp_path / "validation.json"
    validation.write_text('{"success": true, "failures": []}')
    code = split_stage.run(
        WORLD_PARAMS, WORLD_CONTRACT, raw, validation, out["train"], out["test"], tmp_path / "split.json"
    )
    assert code == 1 and not out["train"].exists() and not out["test"].exists()
    recorded = json.loads((tmp_path / "split.json").read_text())
    assert recorded["passed"] is False and recorded["gap"] > PARAMS.split.max_target_rate_gap
    assert f"holdout positive rate {recorded['holdout_rate']:.3f}" in capsys.readouterr().err


# -- 2. a column that is the label in disguise ---------------------------------------------------------


def test_a_leaking_column_fails_the_leakage_gate_naming_it_and_its_auc() -> None:
    frame = world(3000, 2)
    y = targets(frame, TRAPS)
    flips = np.random.default_rng(1).random(len(y)) < 0.01
    leaky = frame.assign(status_code=np.where(flips, 1 - y, y) * 10 + 3)  # 13 = churned, 3 = stayed
    (result,) = leakage.check(leaky, y, TRAPS, TRAPS.features())
    auc = result.details["feature_auc"]["status_code"]
    assert not result.passed and result.value == auc and 0.98 < auc < 1.0
    assert result.reason.startswith(f"`status_code` alone separates the classes with ROC AUC {auc:.3f} > ")
    assert f"contract table.max_single_feature_auc {CEILING:.2f}: likely target leakage" in result.reason


def test_leaks_through_missingness_and_through_categories_are_caught() -> None:
    frame = world(3000, 3)
    y = targets(frame, TRAPS)
    # A cancellation date's day count: only churners have one (missing for everyone else).
    missing = frame.assign(tenure=np.where(y == 1, frame["tenure"], np.nan))
    assert leakage.single_feature_aucs(missing, y, TRAPS, ["tenure"])["tenure"] == 1.0
    # A closing status recorded with the outcome: the plan column now says "pro" for nearly every churner.
    status = np.where((y == 1) & (np.random.default_rng(2).random(len(y)) < 0.95), "pro", "basic")
    (result,) = leakage.check(frame.assign(plan=status), y, TRAPS, TRAPS.features())
    assert not result.passed and result.details["column"] == "plan" and "`plan` alone" in result.reason


def test_an_id_like_column_scores_chance_not_a_perfect_auc() -> None:
    frame = world(2000, 4)
    y = targets(frame, TRAPS)
    ids = frame.assign(plan=frame["customer_id"])  # every value unique: nothing learnt carries over
    assert leakage.single_feature_aucs(ids, y, TRAPS, ["plan"])["plan"] == 0.5


# -- 3. a weak leak: too good to be true -------------------------------------------------------------


@pytest.fixture(scope="module")
def weak_leak() -> dict[str, Any]:
    model, holdout, y = candidate(world(6000, 3, leak_share=0.615))
    proba = model.predict_proba(holdout[input_columns(TRAPS)])[:, 1]
    return {"holdout": holdout, "y": y, "proba": proba}


def test_a_weak_leak_slips_past_the_single_feature_check_but_fails_too_good(
    weak_leak: dict[str, Any],
) -> None:
    holdout, y, proba = weak_leak["holdout"], weak_leak["y"], weak_leak["proba"]
    (single,) = leakage.check(holdout, y, TRAPS, TRAPS.features())
    assert single.passed and single.details["feature_auc"]["status_code"] < 0.55  # the code alone: chance
    (result,) = too_good.check(holdout, y, proba, TRAPS, TRAPS.features(), PARAMS.gates.too_good)
    cand, base = result.details["candidate"], result.details["baseline"]
    assert not result.passed and result.value is not None and 0.07 < result.value < 0.11  # measured +0.089
    assert f"candidate roc_auc {cand:.3f} vs baseline {base:.3f} (logistic regression" in result.reason
    assert f"gain {result.value:+.4f} > gates.too_good.max_gain 0.05" in result.reason
    assert "gates.too_good.acknowledge" in result.reason


def test_an_acknowledged_gain_passes_and_the_report_shows_why(weak_leak: dict[str, Any]) -> None:
    why = "status codes are set at sign-up (PR #12 checked the source system)"
    params = PARAMS.gates.too_good.model_copy(update={"acknowledge": why})
    holdout, y, proba = weak_leak["holdout"], weak_leak["y"], weak_leak["proba"]
    (result,) = too_good.check(holdout, y, proba, TRAPS, TRAPS.features(), params)
    assert result.passed and result.reason.endswith(f"accepted in gates.too_good.acknowledge: {why}")


def test_an_honest_model_is_not_too_good() -> None:
    model, holdout, y = candidate(world(6000, 3))
    proba = model.predict_proba(holdout[input_columns(TRAPS)])[:, 1]
    (result,) = too_good.check(holdout, y, proba, TRAPS, TRAPS.features(), PARAMS.gates.too_good)
    assert result.passed and result.value is not None and abs(result.value) < 0.02


# -- 4. a sensitive attribute that is a function of a model feature -----------------------------------


def fairness_results(frame: pd.DataFrame, features: list[str], **update: Any) -> dict[str, Any]:
    y = targets(frame, TRAPS)
    proba = 1.0 / (1.0 + np.exp(-(frame["usage"] - frame["tenure"]).to_numpy()))
    params = PARAMS.gates.fairness.model_copy(update=update)
    return {r.name: r for r in fairness.check(frame, y, proba, 0.3, TRAPS, features, params)}


def test_an_age_band_beside_age_is_flagged_not_failed() -> None:
    results = fairness_results(world(3000, 5), TRAPS.features())
    flag = results["fairness/age_band.function_of_feature"]
    assert flag.passed and flag.details["function_of_features"] == {"age": 1.0}
    assert flag.reason.startswith(
        "`age_band` is a function of model feature `age` (each age value maps to one age_band group for "
        "100.0% of holdout rows): a gap across age_band reflects the model's use of age"
    )
    assert "docs/fairness.md" in flag.reason
    assert "fairness/gender.function_of_feature" not in results  # gender follows from no feature


def test_a_failing_gap_across_a_determined_attribute_points_at_the_flag() -> None:
    frame = world(3000, 5)
    results = fairness_results(frame, TRAPS.features(), max_demographic_parity_difference=0.0)
    gap = results["fairness/age_band.demographic_parity_difference"]
    assert not gap.passed and "see fairness/age_band.function_of_feature" in gap.reason


def test_a_band_of_a_continuous_feature_is_found_and_unique_values_are_not_taken_for_one() -> None:
    frame = world(3000, 6)
    banded = frame.assign(age=frame["age"] + np.random.default_rng(0).random(len(frame)))  # 45.37 -> 45-59
    assert fairness.determining_features(banded, "age_band", TRAPS, ["age"]) == {"age": 1.0}
    # usage: every value unique, so each "maps to one band", yet the bands are no ranges of usage.
    assert fairness.determining_features(frame, "age_band", TRAPS, ["usage", "tenure", "status_code"]) == {}


def test_a_category_that_determines_the_attribute_is_found() -> None:
    frame = world(3000, 7)
    coarse = frame.assign(plan=frame["age_band"].map({"18-29": "basic", "30-44": "plus"}).fillna("pro"))
    found = fairness.determining_features(coarse.assign(age=0), "age_band", TRAPS, ["plan", "age"])
    assert found == {}  # plan maps 45-59 and 60+ to one value: it does not determine the band
    exact = frame.assign(plan=frame["age_band"])
    assert fairness.determining_features(exact, "age_band", TRAPS, ["plan"]) == {"plan": 1.0}


# -- 5. per-attribute fairness settings ---------------------------------------------------------------


def test_an_attribute_can_choose_its_criteria_and_its_limits() -> None:
    own = {"age_band": {"criteria": ["equal_opportunity"], "max_equal_opportunity_difference": 0.5}}
    gates = PARAMS.gates.fairness.model_validate({**PARAMS.gates.fairness.model_dump(), "attributes": own})
    frame = world(3000, 5)
    results = fairness_results(frame, ["usage"], **{"attributes": gates.attributes})
    age = {name for name in results if name.startswith("fairness/age_band.")}
    assert age == {"fairness/age_band.equal_opportunity_difference"}
    chosen = results["fairness/age_band.equal_opportunity_difference"]
    assert chosen.threshold == 0.5 and "(settings: gates.fairness.attributes.age_band)" in chosen.reason
    gender = results["fairness/gender.equal_opportunity_difference"]  # the gate-wide settings still apply
    assert gender.threshold == PARAMS.gates.fairness.max_equal_opportunity_difference
    assert "fairness/gender.worst_group_roc_auc" in results


# -- the example's data trips none of them --------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    contract = world_contract()
    assert PARAMS.ingest.synthetic is not None
    frame = generate(10_000, seed=PARAMS.ingest.synthetic.seed)
    split = PARAMS.split
    train, holdout = split_frame(
        frame, split.strategy, split.test_fraction, split.seed, "event_date", "churned"
    )
    model = fit(contract, PARAMS.train, train[input_columns(contract)], targets(train, contract))
    return {
        "contract": contract,
        "report": split_report(train, holdout, split.strategy, "churned", 1),
        "holdout": holdout,
        "y": targets(holdout, contract),
        "proba": model.predict_proba(holdout[input_columns(contract)])[:, 1],
    }


def test_the_example_trips_no_trap(example: dict[str, Any]) -> None:
    contract, holdout, y, proba = example["contract"], example["holdout"], example["y"], example["proba"]
    features = contract.features()
    assert rate_gap_problem(example["report"], PARAMS.split.max_target_rate_gap) is None
    (single,) = leakage.check(holdout, y, contract, features)
    assert single.passed and single.value is not None and single.value < 0.75  # measured: contract, 0.66
    (gain,) = too_good.check(holdout, y, proba, contract, features, PARAMS.gates.too_good)
    assert gain.passed and gain.value is not None and gain.value < 0.03  # measured on 50,000 rows: -0.0002
    for attribute in contract.sensitive:
        assert fairness.determining_features(holdout, attribute, contract, features) == {}
