"""Pure gate logic: results and checklist, performance limits, the paired bootstrap, perturbations, and the
suite's wiring of the families (the traps the leakage, too_good and fairness checks catch: test_traps.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.world import world_params

from mlops.contract import Contract
from mlops.gates import champion, performance, robustness
from mlops.gates.result import bounded, markdown, note, report
from mlops.gates.suite import run_gates
from mlops.generate import generate
from mlops.metrics import headline
from mlops.modeling import fit, input_columns, targets
from mlops.params import ChampionGate

GATES = world_params().gates


def test_bounded_checks_both_directions_and_never_passes_nan() -> None:
    assert bounded("g", "c", 0.8, 0.75, ">=", "auc").passed
    assert not bounded("g", "c", 0.7, 0.75, ">=", "auc").passed
    assert bounded("g", "c", 10.0, 50.0, "<=", "ms").passed
    undefined = bounded("g", "c", float("nan"), 0.75, ">=", "auc")
    assert not undefined.passed and undefined.value is None and "non-finite" in undefined.reason


def test_checklist_names_every_failure_with_its_numbers() -> None:
    results = [
        bounded("performance", "roc_auc", 0.71, 0.75, ">=", "holdout roc_auc"),
        note("champion", "roc_auc", True, "no champion"),
    ]
    data = report(results, disabled=["operational"])
    assert data["passed"] is False and data["failed"] == ["performance/roc_auc"]
    md = markdown(data)
    assert "FAILED (1 of 2 checks)" in md
    assert "| ❌ | performance | roc_auc | 0.71 | >= 0.75 |" in md
    assert "Disabled in params.yaml: operational" in md


def test_performance_floors_and_ceilings() -> None:
    metrics = {"roc_auc": 0.8, "recall": 0.4, "brier": 0.2}
    results = performance.check(
        metrics,
        GATES.performance.model_copy(
            update={"min": {"roc_auc": 0.75, "recall": 0.45}, "max": {"brier": 0.15}}
        ),
    )
    assert [(r.check, r.passed) for r in results] == [("roc_auc", True), ("recall", False), ("brier", False)]
    with pytest.raises(ValueError, match=r"\['f2'\]"):
        performance.check(metrics, GATES.performance.model_copy(update={"min": {"f2": 0.5}}))


def _champion(**update: object) -> ChampionGate:
    return GATES.champion.model_copy(update=update)


def _scores(seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, 1.0 / (1.0 + np.exp(-(2.0 * y - 1.0 + rng.normal(0, 1.2, n))))


def test_a_model_compared_with_itself_passes() -> None:
    y, p = _scores(0)
    (result,) = champion.check(y, p, p.copy(), "itself", _champion(bootstrap_samples=200))
    assert result.passed and result.value == 0.0


def test_a_clearly_worse_candidate_fails_with_its_interval() -> None:
    y, good = _scores(0)
    worse = np.clip(good + np.random.default_rng(1).normal(0, 0.4, len(good)), 0, 1)
    (result,) = champion.check(y, worse, good, "production", _champion(bootstrap_samples=200))
    assert not result.passed
    assert result.value is not None and result.value < -0.005
    assert result.details["ci_high"] < 0
    assert "candidate - champion (production)" in result.reason and "CI" in result.reason


def test_no_champion_passes_and_says_so() -> None:
    y, p = _scores(0)
    (result,) = champion.check(y, p, None, "nothing deployed", _champion())
    assert result.passed and "first model passes" in result.reason


def test_lower_is_better_metrics_are_oriented() -> None:
    y, good = _scores(0)
    worse = np.clip(good * 0.5 + 0.25, 0, 1)  # squashed toward 0.5: worse log loss, same ranking
    diff, _low, high = champion.paired_bootstrap(y, worse, good, "log_loss", 200, 0.95, 0)
    assert diff < 0 and high < 0  # negative = candidate worse, whatever the metric's direction


def test_perturbations_respect_the_contract(contract: Contract, small_frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    noisy = robustness.add_noise(small_frame, contract, ["tenure_months", "monthly_charges"], 0.5, rng)
    assert (noisy["tenure_months"] == noisy["tenure_months"].round()).all()
    assert noisy["tenure_months"].between(0, 120).all()
    assert not noisy["monthly_charges"].equals(small_frame["monthly_charges"])
    blanked = robustness.blank_values(small_frame, ["support_calls"], 0.2, rng)
    assert 0.15 < blanked["support_calls"].isna().mean() < 0.25
    swapped = robustness.swap_categories(small_frame, contract, ["region"], 0.3, rng)
    assert set(swapped["region"]) <= set(contract.columns["region"].values or ())  # noqa: PD011 (contract field)
    assert (swapped["region"] != small_frame["region"]).mean() > 0.1
    pd.testing.assert_frame_equal(small_frame, generate(2000, seed=7))  # the shared input was not modified


def test_robustness_scores_a_seeded_sample_of_at_most_max_rows(
    contract: Contract, small_frame: pd.DataFrame
) -> None:
    """Above gates.robustness.max_rows the perturbed copies are a seeded sample: bounded cost, same
    verdict; at or below it the whole holdout, as before the bound existed."""
    x, y = small_frame[input_columns(contract)], targets(small_frame, contract)
    model = fit(contract, world_params().train, x, y)
    sizes: list[int] = []

    def predict(frame: pd.DataFrame) -> np.ndarray:
        sizes.append(len(frame))
        return np.asarray(model.predict_proba(frame)[:, 1])

    features = contract.features()
    clean = predict(x)
    whole = robustness.check(predict, x, y, contract, features, GATES.robustness, clean)
    assert sizes == [len(x)] * 4 and GATES.robustness.max_rows >= len(x)
    sizes.clear()
    capped = GATES.robustness.model_copy(update={"max_rows": 500})
    first = robustness.check(predict, x, y, contract, features, capped, clean)
    again = robustness.check(predict, x, y, contract, features, capped, clean)
    assert sizes == [500] * 6  # the clean scores are the caller's, cut to the same rows
    assert [r.value for r in first] == [r.value for r in again]  # seeded: the same rows each run
    assert [r.passed for r in first] == [r.passed for r in whole]


def test_the_suite_runs_too_good_against_the_reference_model_whatever_the_champion(
    contract: Contract, small_frame: pd.DataFrame
) -> None:
    train, holdout = small_frame.iloc[:1500], small_frame.iloc[1500:].reset_index(drop=True)
    model = fit(contract, world_params().train, train[input_columns(contract)], targets(train, contract))
    off = {"enabled": False}
    gates = GATES.model_copy(
        update={
            **{
                name: getattr(GATES, name).model_copy(update=off)
                for name in ("robustness", "behaviour", "operational")
            },
            "champion": GATES.champion.model_copy(update={"bootstrap_samples": 100}),
        }
    )
    calls: list[int] = []

    def champion_proba(x: pd.DataFrame) -> tuple[np.ndarray, str]:
        calls.append(len(x))
        return model.predict_proba(x)[:, 1], "the candidate itself"

    proba = model.predict_proba(holdout[input_columns(contract)])[:, 1]
    results, disabled = run_gates(
        gates=gates,
        contract=contract,
        features=contract.features(),
        threshold=0.3,
        model=model,
        holdout=holdout,
        metrics=headline(targets(holdout, contract), proba, 0.3),
        model_bytes=1,
        champion_proba=champion_proba,
    )
    by_name = {r.name: r for r in results}
    assert calls == [len(holdout)]  # the champion gate's one load; too_good does not use the champion
    too_good_result = by_name["too_good/roc_auc"]
    assert "logistic regression" in too_good_result.reason and "champion" not in too_good_result.reason
    assert by_name["leakage/max_single_feature_auc"].passed
    assert disabled == ["robustness", "behaviour", "operational"]
    order = list(dict.fromkeys(r.gate for r in results))
    assert order == ["performance", "champion", "too_good", "leakage", "fairness"]
