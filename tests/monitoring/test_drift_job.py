"""`mlops drift` with real Evidently on logs written by the serving runtime: calm traffic stays calm,
shifted inputs and a changed relation are caught and named, too little data is never an alarm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
            str(ROOT / "params.yaml"),
            "--contract",
            str(ROOT / "data" / "contract.yaml"),
            "--log-dir",
            str(log),
            "--reference",
            str(world.reference),
            "--model",
            str(world.model_path),
            "--metrics",
            str(world.metrics),
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
    html = (out / "drift.html").read_text()
    assert len(html) > 100_000 and "<script" in html  # self-contained report


def test_concept_shift_with_labels_is_caught_where_input_drift_is_small(world: World) -> None:
    log = world.log("concept", 2000, seed=8, shift="concept", labels=True)
    code, summary = drift(world, log, world.root / "concept-out")
    assert code == EXIT_DRIFT
    assert summary["drifted_columns"] == []  # the inputs did not move
    assert summary["concept"]["drift"] and summary["concept"]["roc_auc_drop"] > 0.05
    assert any(r.startswith("performance on 2000 labelled predictions") for r in summary["reasons"])


def test_too_few_rows_is_insufficient_data_not_an_alarm(world: World) -> None:
    code, summary = drift(world, world.log("few", rows=200, seed=9, shift="both"), world.root / "few-out")
    assert code == 0 and summary["status"] == "insufficient_data"
    assert "200 predictions" in summary["reasons"][0]


def test_a_missing_log_folder_is_an_input_error(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["drift", "--log-dir", str(world.root / "nowhere"), "--out", str(world.root / "x")])
    assert code == 2 and "prediction log folder not found" in capsys.readouterr().err
