"""`mlops drift` with real Evidently on logs written by the serving runtime: calm traffic stays calm,
shifted inputs and a changed relation are caught and named, too little data is never an alarm."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops.cli import main
from mlops.monitoring.drift import EXIT_DRIFT
from tests.conftest import ROOT
from tests.monitoring.conftest import World

pytestmark = pytest.mark.xdist_group("monitoring")


def drift(world: World, log: Path, out: Path) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "drift",
            "--params",
            str(ROOT / "tests" / "world" / "params.yaml"),
            "--contract",
            str(ROOT / "tests" / "world" / "contract.yaml"),
            "--log-dir",
            str(log),
            "--reference",
            str(world.reference),
            "--model",
            str(world.model_path),
            "--holdout",
            str(world.holdout),
            "--production",
            str(world.root / "no-production.yaml"),
            "--out",
            str(out),
        ]
    )
    return code, json.loads((out / "drift.json").read_text())


def test_unshifted_traffic_over_20_seeds_alarms_at_most_once(world: World) -> None:
    alarms = []
    for seed in range(20):
        log = world.log(f"calm-{seed}", rows=1500, seed=100 + seed, labels=True)
        code, summary = drift(world, log, world.root / f"calm-out-{seed}")
        assert code in (0, EXIT_DRIFT)
        if code == EXIT_DRIFT:
            alarms.append((seed, summary["reasons"]))
    assert len(alarms) <= 1, alarms


def test_covariate_shift_is_reported_with_the_shifted_columns(world: World) -> None:
    out = world.root / "covariate-out"
    code, summary = drift(world, world.log("covariate", rows=2000, seed=7, shift="covariate"), out)
    assert code == EXIT_DRIFT and summary["status"] == "drift"
    # The generator's covariate shift moves contract mix, charges, support calls, usage and region.
    assert {"monthly_charges", "support_calls", "data_usage_gb"} <= set(summary["drifted_columns"])
    assert "payment_method" not in summary["drifted_columns"]  # not shifted by the generator
    assert summary["prediction"]["drifted"]
    # Harm first: without labels the drop is estimated from the probabilities; this shift is reported
    # (the issue) but costs the model too little to open a retrain.
    assert summary["verdict"] == "inputs_moved" and not summary["retrain"]
    assert summary["performance"]["basis"] == "estimated" and not summary["performance"]["degrading"]
    limits = summary["calibration"]
    assert limits["window_rows"] == 2000 and limits["columns"]["calm_false_alarm"] <= 0.004
    assert all(c["threshold"] >= 0.1 for c in summary["columns"])  # never below the params floor
    html = (out / "drift.html").read_text()
    assert len(html) > 100_000 and "<script" in html  # self-contained report


def test_concept_shift_with_labels_is_caught_where_input_drift_is_small(world: World) -> None:
    log = world.log("concept", 2000, seed=8, shift="concept", labels=True)
    code, summary = drift(world, log, world.root / "concept-out")
    assert code == EXIT_DRIFT
    assert summary["drifted_columns"] == []  # the inputs did not move
    performance = summary["performance"]
    assert summary["verdict"] == "degrading" and summary["retrain"]
    assert performance["basis"] == "measured" and performance["measured"]["drop"] > 0.05
    assert performance["relation"]["p_value"] < performance["relation"]["alpha"]
    assert summary["reasons"][0].startswith("the model is degrading (measured on 2000 labels:")


def test_too_few_rows_is_insufficient_data_not_an_alarm(world: World) -> None:
    code, summary = drift(world, world.log("few", rows=200, seed=9, shift="both"), world.root / "few-out")
    assert code == 0 and summary["status"] == "insufficient_data"
    assert "200 predictions" in summary["reasons"][0]


def test_a_missing_log_folder_is_an_input_error(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["drift", "--log-dir", str(world.root / "nowhere"), "--out", str(world.root / "x")])
    assert code == 2 and "prediction log folder not found" in capsys.readouterr().err


def rewrite(log: Path, out: Path, change: Callable[[int, dict[str, Any]], list[dict[str, Any]]]) -> Path:
    """A copy of a prediction log with each record (numbered) replaced by what `change` returns."""
    out.mkdir()
    number = 0
    for path in sorted(log.glob("predictions-*.jsonl")):
        lines = []
        for line in path.read_text().splitlines():
            lines += [json.dumps(r) for r in change(number, json.loads(line))]
            number += 1
        (out / path.name).write_text("\n".join(lines) + "\n")
    return out


def test_an_all_null_feature_a_constant_one_and_duplicates_are_named_drift_not_a_crash(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(i: int, r: dict[str, Any]) -> list[dict[str, Any]]:
        r["inputs"] = {**r["inputs"], "total_charges": None, "tenure_months": 12}
        return [r, r] if i < 10 else [r]  # the first 10 lines written twice

    log = rewrite(world.log("nulls", rows=1500, seed=11), world.root / "nulls-broken", broken)
    code, summary = drift(world, log, world.root / "nulls-out")
    assert code == EXIT_DRIFT and summary["status"] == "drift" and summary["rows"] == 1500
    assert "Traceback" not in capsys.readouterr().err
    reasons = summary["reasons"]
    assert any(r.startswith("total_charges is null in all 1500 rows of the window") for r in reasons)
    assert "total_charges" not in {c["column"] for c in summary["columns"]}  # not sent to Evidently
    assert any(r.startswith("tenure_months is constant at 12 in all 1500 rows") for r in reasons)
    assert summary["quality"]["duplicates"]["records"] == 10
    assert summary["verdict"] == "inputs_moved" and not summary["retrain"]  # a broken feed: no retrain
    assert any(r.startswith("10 duplicate records of 10 request ids (10 identical)") for r in reasons)


def test_naive_timestamps_are_read_as_utc_and_named_and_those_in_the_future_counted(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    def naive(i: int, r: dict[str, Any]) -> list[dict[str, Any]]:
        stamp = dt.datetime.fromisoformat(r["timestamp"])
        if i >= 1000:  # local time two hours ahead of UTC, written without its offset
            stamp += dt.timedelta(hours=2)
        return [{**r, "timestamp": stamp.replace(tzinfo=None).isoformat()}]

    log = rewrite(world.log("naive", rows=1500, seed=12), world.root / "naive-local", naive)
    code, summary = drift(world, log, world.root / "naive-out")
    assert code == EXIT_DRIFT and summary["status"] == "drift"
    assert "Traceback" not in capsys.readouterr().err
    assert summary["rows"] == 1000  # the naive ones read as UTC are judged, the future ones are not
    assert summary["quality"]["timestamps"] == {
        "future": 500,
        "naive": 1500,
        "naive_future": 500,
        "invalid": 0,
        "passed": False,
    }
    assert "1500 records with timestamps without a UTC offset (naive): read as UTC" in summary["reasons"]
    assert (
        "500 records timestamped more than 5 min in the future, 500 of them naive: not used"
        in (summary["reasons"])
    )


def test_a_feature_missing_from_a_labelled_log_and_records_without_probability_are_named_not_a_crash(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(i: int, r: dict[str, Any]) -> list[dict[str, Any]]:
        inputs = {k: v for k, v in r["inputs"].items() if k != "region"}  # the feed stopped sending it
        record = {**r, "inputs": inputs}
        if i % 4 == 0:
            record.pop("probability")
        return [record]

    log = rewrite(world.log("gone", rows=1500, seed=13, labels=True), world.root / "gone-broken", broken)
    for path in (world.root / "gone").glob("feedback-*.jsonl"):
        (log / path.name).write_text(path.read_text())
    code, summary = drift(world, log, world.root / "gone-out")
    assert code == EXIT_DRIFT and "Traceback" not in capsys.readouterr().err
    assert any(r.startswith("region is null in all 1500 rows of the window") for r in summary["reasons"])
    assert any(r.startswith("375 records without a probability") for r in summary["reasons"])
    assert summary["quality"]["without_probability"] == 375
    assert summary["performance"]["basis"] == "measured" and summary["performance"]["labels"] == 1125

    def unscored(i: int, r: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "probability"}]

    log = rewrite(world.log("unscored", rows=800, seed=14), world.root / "unscored-broken", unscored)
    code, summary = drift(world, log, world.root / "unscored-out")
    assert code == EXIT_DRIFT and summary["prediction"] is None  # nothing to compare, and said so
    assert any(r.startswith("800 records without a probability") for r in summary["reasons"])


def test_a_holdout_without_both_classes_is_an_input_error(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holdout = pd.read_parquet(world.holdout)
    one_class = tmp_path / "holdout.parquet"
    holdout[holdout[world.contract.target] == 0].to_parquet(one_class)
    log = world.log("one-class", rows=600, seed=15)
    args = ["drift", "--log-dir", str(log), "--reference", str(world.reference), "--holdout", str(one_class),
            "--model", str(world.model_path), "--production", str(tmp_path / "none.yaml"),
            "--params", str(ROOT / "tests" / "world" / "params.yaml"),
            "--contract", str(ROOT / "tests" / "world" / "contract.yaml"),
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        f"{one_class}: " in err and "positive rows; the performance baseline needs at least 30 of each" in err
    )
    assert not (tmp_path / "out" / "drift.json").exists()
