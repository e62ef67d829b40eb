"""Train / holdout split: disjoint, complete, time-ordered or stratified as asked; each part's rows, rate."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops.splitting import rate_gap_problem, split_frame, split_report


def _ids(df: pd.DataFrame) -> set[str]:
    return set(df["customer_id"])


def test_time_split_holds_out_the_most_recent_rows(small_frame: pd.DataFrame) -> None:
    shuffled = small_frame.sample(frac=1.0, random_state=0)
    train, test = split_frame(shuffled, "time", 0.25, 0, "event_date", "churned")
    assert len(test) == 500 and len(train) == 1500
    assert train["event_date"].max() <= test["event_date"].min()
    assert _ids(train).isdisjoint(_ids(test)) and _ids(train) | _ids(test) == _ids(small_frame)


def test_random_split_is_stratified_and_seeded(small_frame: pd.DataFrame) -> None:
    train, test = split_frame(small_frame, "random", 0.2, 5, "event_date", "churned")
    assert _ids(train).isdisjoint(_ids(test)) and len(train) + len(test) == len(small_frame)
    assert abs(test["churned"].mean() - small_frame["churned"].mean()) < 0.01
    again, _ = split_frame(small_frame, "random", 0.2, 5, "event_date", "churned")
    pd.testing.assert_frame_equal(train, again)


def test_unknown_strategy_is_named(small_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'shuffle'"):
        split_frame(small_frame, "shuffle", 0.2, 0, "event_date", "churned")


def test_the_report_counts_rows_and_the_positive_share_of_each_part() -> None:
    frame = pd.DataFrame({"y": ["no", "yes", "yes", "no", "no", "yes", "no", "no"]})
    report = split_report(frame.iloc[:4], frame.iloc[4:], "time", "y", "yes")
    assert (report.train_rows, report.holdout_rows) == (4, 4)
    assert (report.train_rate, report.holdout_rate, report.gap) == (0.5, 0.25, 0.25)
    assert report.as_dict()["gap"] == 0.25 and "positive rate 0.250" in report.line()
    assert rate_gap_problem(report, 0.25) is None  # at the limit passes; above it fails
    assert "(gap 0.250 > split.max_target_rate_gap 0.2)" in str(rate_gap_problem(report, 0.2))


def test_the_gap_message_names_the_likely_cause_of_each_strategy(small_frame: pd.DataFrame) -> None:
    train, test = split_frame(small_frame, "random", 0.2, 5, "event_date", "churned")
    report = split_report(train, test, "random", "churned", 1)
    assert rate_gap_problem(report, 0.01) is None  # stratified: the rates agree to the row
    skewed = split_report(train, test[test["churned"] == 1], "random", "churned", 1)
    assert "stratified random split should keep the rates equal" in str(rate_gap_problem(skewed, 0.1))
    timed = split_report(train, test[test["churned"] == 1], "time", "churned", 1)
    assert "recent labels may be censored" in str(rate_gap_problem(timed, 0.1))
