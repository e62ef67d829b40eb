"""Train / holdout split: disjoint, complete, time-ordered or stratified as asked."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops.splitting import split_frame


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
