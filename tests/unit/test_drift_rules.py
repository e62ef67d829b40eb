"""Monitoring rules on plain data: the window, data-quality checks, the verdict."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from tests.world import WORLD_PARAMS, world_params

from mlops.contract import Contract
from mlops.monitoring import drift as rules
from mlops.monitoring.refresh import extract

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def record(i: int, hours_ago: float, p: float = 0.4, **inputs: object) -> dict[str, object]:
    return {
        "request_id": f"r{i}",
        "timestamp": (NOW - dt.timedelta(hours=hours_ago)).isoformat(),
        "model_version": "m:1",
        "probability": p,
        "predicted": int(p >= 0.3),
        "inputs": {"customer_id": f"C{i:07d}", "contract": "one-year", "total_charges": None, **inputs},
    }


def test_the_window_keeps_the_last_hours_and_at_most_the_newest_rows() -> None:
    frame = rules.log_frame([record(i, hours_ago=i) for i in range(10)])
    recent = rules.window(frame, hours=5.5, now=NOW, cap=100)
    assert sorted(recent["request_id"]) == ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert list(rules.window(frame, hours=100, now=NOW, cap=3)["request_id"]) == ["r2", "r1", "r0"]
    assert rules.window(rules.log_frame([]), 5, NOW, 10).empty


def test_missing_values_and_unseen_categories_are_flagged_with_their_numbers() -> None:
    ref = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "c": ["a", "b", "a", "b"]})
    cur = pd.DataFrame({"x": [None, None, 3.0, 4.0], "c": ["a", "z", "z", "b"]})
    (m,) = rules.missing_checks(ref, cur, ["x"], max_increase=0.1)
    assert m == {"column": "x", "reference": 0.25, "current": 0.5, "passed": False}
    assert rules.missing_checks(ref, cur, ["x"], max_increase=0.3)[0]["passed"]
    (u,) = rules.unseen_categories(ref, cur, ["c"])
    assert u == {"column": "c", "unseen": ["z"], "rows": 2, "passed": False}


def test_labels_join_by_request_id_and_the_last_label_wins() -> None:
    frame = rules.log_frame([record(1, 1), record(2, 1), record(3, 1)])
    joined = rules.labelled(frame, [{"request_id": "r1", "label": 0}, {"request_id": "r1", "label": 1}])
    assert list(joined["request_id"]) == ["r1"] and list(joined["label"]) == [1]


def test_the_verdict_lists_every_reason_and_no_reason_means_no_drift() -> None:
    params = world_params().monitoring.model_copy(update={"drift_share": 0.3})
    cols = [
        {"column": "a", "drifted": True},
        {"column": "b", "drifted": False},
        {"column": "c", "drifted": False},
    ]
    calm = rules.verdict(1000, params, cols, 0.2, None, [], [], {"drift": False})
    assert calm["status"] == "no_drift" and calm["reasons"] == [] and calm["verdict"] == "healthy"
    loud = rules.verdict(
        1000,
        params,
        cols,
        1 / 3,
        {"score": 0.2, "threshold": 0.1, "drifted": True},
        [{"column": "x", "reference": 0.0, "current": 0.4, "passed": False}],
        [{"column": "c", "unseen": ["z"], "passed": False}],
        {"drift": False},
    )
    assert loud["status"] == "drift" and loud["drifted_columns"] == ["a"]
    assert loud["verdict"] == "inputs_moved" and not loud["retrain"]  # moved inputs alone never retrain
    assert len(loud["reasons"]) == 4 and loud["reasons"][0].startswith("1 of 3 feature columns drifted")
    few = rules.insufficient(12, params, {"drift": False})
    assert few["status"] == "insufficient_data" and "12 predictions" in few["reasons"][0]


def _contract(columns: dict[str, dict[str, object]]) -> Contract:
    table = {"min_rows": 1, "max_rows": 10, "target_rate_min": 0.0, "target_rate_max": 1.0}
    return Contract.model_validate({"name": "t", "version": 1, "table": table, "columns": columns})


def test_the_extract_keeps_each_id_once_with_the_label_as_target() -> None:
    frame = rules.log_frame([record(1, 3, tenure_months=1), record(2, 2), record(1, 1, tenure_months=9)])
    frame = frame.assign(label=[0, 1, 1])
    contract = _contract(
        {
            "customer_id": {"type": "string", "role": "id"},
            "tenure_months": {"type": "integer"},
            "contract": {"type": "string"},
            "churned": {"type": "integer", "role": "target", "values": [0, 1]},
        }
    )
    out = extract(frame, contract)
    assert list(out.columns) == ["customer_id", "tenure_months", "contract", "churned"]
    row = out.set_index("customer_id").loc["C0000001"]
    assert row["tenure_months"] == 9 and row["churned"] == 1 and len(out) == 2
    assert out["churned"].dtype == "int64"


def test_the_extract_writes_a_text_target_in_its_own_values_and_keeps_every_row_without_an_id() -> None:
    frame = rules.log_frame([record(1, 3), record(2, 2), record(1, 1)]).assign(label=[0, 1, 1])
    contract = _contract(
        {
            "tenure_months": {"type": "integer"},
            "income": {"type": "category", "role": "target", "values": ["<=50K", ">50K"]},
        }
    )
    out = extract(frame, contract)
    assert out["income"].tolist() == ["<=50K", ">50K", ">50K"]  # no id: one row per labelled prediction


def test_the_retrain_points_ingest_at_the_extract_and_keeps_the_comments(tmp_path: Path) -> None:
    import shutil

    import pytest

    from mlops.io import InputError
    from mlops.monitoring.refresh import set_ingest_source
    from mlops.params import load_params

    params = tmp_path / "params.yaml"
    shutil.copy2(WORLD_PARAMS, params)
    before = params.read_text()
    set_ingest_source(params, "data/extract/labelled.parquet")
    assert load_params(params).ingest.source == "data/extract/labelled.parquet"
    after = params.read_text()
    assert after.count("\n") == before.count("\n") and "# Parameters: the one place a number lives" in after
    assert after.replace("data/extract/labelled.parquet", "synthetic") == before  # one line changed
    params.write_text("train:\n  seed: 1\n")
    with pytest.raises(InputError, match="no `source:` line under `ingest:`"):
        set_ingest_source(params, "x.parquet")


def test_naive_future_and_invalid_timestamps_are_counted_and_named_never_silently_dropped() -> None:
    naive = {**record(1, 2), "timestamp": (NOW - dt.timedelta(hours=2)).replace(tzinfo=None).isoformat()}
    local = {**record(2, 0), "timestamp": (NOW + dt.timedelta(hours=2)).replace(tzinfo=None).isoformat()}
    ahead = record(3, hours_ago=-1)  # an aware timestamp an hour after the window end
    skewed = record(4, hours_ago=-0.05)  # 3 minutes ahead: within CLOCK_SKEW, in the window
    broken = {**record(5, 1), "timestamp": "yesterday"}
    zulu = {**record(6, 1), "timestamp": "2026-11-25T11:00:00Z"}
    frame = rules.log_frame([naive, local, ahead, skewed, broken, zulu, record(7, 1)])
    assert list(frame["naive_timestamp"]) == [True, True, False, False, False, False, False]
    recent = rules.window(frame, hours=5, now=NOW)
    assert sorted(recent["request_id"]) == ["r1", "r4", "r6", "r7"]  # naive r1 read as UTC
    stamps = rules.timestamp_check(frame, hours=5, now=NOW)
    assert stamps == {"future": 2, "naive": 2, "naive_future": 1, "invalid": 1, "passed": False}
    reasons = rules.quality_reasons({"timestamps": stamps})
    assert reasons == [
        "2 records timestamped more than 5 min in the future, 1 of them naive: not used",
        "2 records with timestamps without a UTC offset (naive): read as UTC",
        "1 records with a missing or invalid timestamp: not used",
    ]
    # Only future rows (naive local time ahead of UTC): too few to judge, but drift, not "no data".
    params = world_params().monitoring
    only_future = rules.log_frame([local])
    few = rules.insufficient(
        0, params, {"drift": False}, {"timestamps": rules.timestamp_check(only_future, 5, NOW)}
    )
    assert few["status"] == "drift" and "1 of them naive" in few["reasons"][1]
    calm = rules.timestamp_check(rules.log_frame([record(8, 1)]), hours=5, now=NOW)
    assert calm["passed"] and rules.quality_reasons({"timestamps": calm}) == []


def test_duplicate_request_ids_are_counted_and_only_the_first_is_judged() -> None:
    twice = record(1, 2, p=0.9)
    frame = rules.log_frame([twice, record(2, 2), twice, {**record(2, 1), "probability": 0.1}, record(3, 1)])
    kept, dups = rules.deduplicate(frame)
    assert list(kept["request_id"]) == ["r1", "r2", "r3"] and list(kept["probability"]) == [0.9, 0.4, 0.4]
    assert dups == {"records": 2, "request_ids": 2, "identical": 1, "examples": ["r1", "r2"], "passed": False}
    (reason,) = rules.quality_reasons({"duplicates": dups})
    assert reason == "2 duplicate records of 2 request ids (1 identical), e.g. r1, r2: only the first counted"
    assert rules.deduplicate(rules.log_frame([record(1, 1), record(2, 1)]))[1]["passed"]


def test_all_null_constant_and_vanished_columns_are_named_and_make_the_verdict_drift() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame(
        {
            "x": np.where(rng.random(400) < 0.1, np.nan, rng.normal(size=400)),
            "y": rng.normal(size=400),
            "z": rng.normal(size=400),
            "c": rng.choice(["a", "b", "rare"], p=[0.6, 0.38, 0.02], size=400),
        }
    )
    cur = pd.DataFrame({"x": [np.nan] * 100, "y": [7.0] * 100, "z": rng.normal(size=100), "c": ["a"] * 100})
    all_null = rules.all_null_columns(ref, cur, ["x", "y", "z", "c", "absent"])
    assert [c["column"] for c in all_null] == ["x"] and all_null[0]["rows"] == 100
    assert rules.all_null_columns(ref.assign(x=np.nan), cur, ["x"]) == []  # all null in training too
    (const,) = rules.constant_columns(ref, cur, ["x", "y", "z"])
    assert const["column"] == "y" and const["value"] == 7.0 and const["rows"] == 100
    assert rules.constant_columns(ref.assign(y=7.0), cur, ["y"]) == []  # constant in training too
    (gone,) = rules.vanished_categories(ref, cur, ["c"])
    assert gone["column"] == "c" and gone["values"] == ["b"]  # "rare": 2 % of 100 rows, absence is chance
    params = world_params().monitoring
    quality = {"all_null": all_null, "constant": [const], "vanished_categories": [gone]}
    summary = rules.verdict(100, params, [], 0.0, None, [], [], {"drift": False}, quality)
    assert summary["status"] == "drift" and summary["quality"] == quality
    assert summary["verdict"] == "inputs_moved" and not summary["retrain"]  # broken feed: report, no retrain
    assert summary["reasons"][0].startswith("x is null in all 100 rows of the window")
    assert summary["reasons"][1].startswith("y is constant at 7 in all 100 rows of the window (reference std")
    assert summary["reasons"][2].startswith("categories of c vanished from the window: b (")
