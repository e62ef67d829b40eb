"""Drift limits calibrated at the window's size: the replicated scores are Evidently's, and a limit set
for a false-alarm rate holds it on independent calm windows (not only on the resamples it came from)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.adapters.evidently import drift_report
from mlops.monitoring import calibration


def _frame(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    x = rng.lognormal(3.0 + shift, 0.6, rows)
    x[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.poisson(1.5 + shift, rows).astype(float),
            "c": rng.choice(["a", "b", "c", "d"], p=[0.5, 0.3, 0.15, 0.05], size=rows),
            "p": rng.beta(2, 5, rows),
        }
    )


# Evidently's summary statistics meet the infinite value before its drift code drops it.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_the_replicated_scores_equal_evidentlys(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    reference, current = _frame(rng, 3000), _frame(rng, 800, shift=0.2)
    current.loc[:5, "c"] = "new"  # a category the reference never had
    current.loc[6, "x"] = np.inf  # dropped, as Evidently drops it
    limits = {"x": 0.1, "k": 0.1, "c": 0.1}
    result = drift_report(
        reference, current, numeric=["x", "k"], categorical=["c"], prediction="p", drift_share=0.5,
        column_thresholds=limits, prediction_threshold=0.1, html=tmp_path / "r.html",
    )  # fmt: skip
    scores = {c.column: c.score for c in [*result.columns, result.prediction] if c is not None}
    mine = {
        "x": calibration.wasserstein_norm(reference["x"], current["x"]),
        "k": calibration.wasserstein_norm(reference["k"], current["k"]),
        "c": calibration.jensenshannon(reference["c"], current["c"]),
        "p": calibration.wasserstein_norm(reference["p"], current["p"]),
    }
    assert scores.keys() == mine.keys()
    for column, score in scores.items():
        assert abs(score - mine[column]) < 1e-9, (column, score, mine[column])
    # The per-column limits are the ones Evidently tested against.
    assert {c.column: c.threshold for c in result.columns} == limits


def test_a_calibrated_limit_holds_its_false_alarm_rate_on_independent_calm_windows() -> None:
    # Each trial: a reference of 2,000 rows and an independent calm window of 1,000 from the same world,
    # the limit calibrated from that reference alone. Half the reference's size, its own noise matters
    # (sqrt(1 + n/N) = 1.22): limits from resamples alone would cross about twice as often as asked.
    world, target, trials = np.random.default_rng(7), 0.1, 200
    crossings = dict.fromkeys(["x", "k", "p", "c"], 0)
    for trial in range(trials):
        reference, window = _frame(world, 2000), _frame(world, 1000)
        calm = calibration.calm_distances(reference, ["x", "k", "p"], ["c"], 1000, 400, seed=trial)
        for column in crossings:
            limit, _ = calibration.single_limit(calm[column].to_numpy(), 0.0, target)
            score = (
                calibration.jensenshannon(reference[column], window[column])
                if column == "c"
                else calibration.wasserstein_norm(reference[column], window[column])
            )
            crossings[column] += score >= limit
    rates = {c: k / trials for c, k in crossings.items()}
    # Binomial(200, 0.1): 20 +- 4.2 crossings; a generous band that the unscaled limits fall out of.
    assert all(0.05 <= r <= 0.16 for r in rates.values()), rates


def test_the_share_rule_is_calibrated_jointly_and_floors_apply() -> None:
    rng = np.random.default_rng(2)
    reference = _frame(rng, 5000)
    calm = calibration.calm_distances(reference, ["x", "k", "p"], ["c"], 500, 2000, seed=1)
    limits, record = calibration.share_limits(calm, floor=0.0, drift_share=0.5, false_alarm=0.01)
    assert record["columns_needed"] == 2 and record["calm_false_alarm"] <= 0.01
    crossed = (calm.to_numpy() >= np.array([limits[c] for c in calm.columns])).sum(axis=1) >= 2
    assert crossed.mean() == record["calm_false_alarm"]
    floored, _ = calibration.share_limits(calm, floor=5.0, drift_share=0.5, false_alarm=0.01)
    assert set(floored.values()) == {5.0}  # a large window never alarms below the floor
    # Memoised: the same reference and size are calibrated once per process.
    again = calibration.calm_distances(reference, ["x", "k", "p"], ["c"], 500, 2000, seed=1)
    pd.testing.assert_frame_equal(calm, again)
