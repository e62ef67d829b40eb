"""Pure evaluation functions on hand-checkable inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops import metrics

Y = np.array([0, 0, 1, 1, 0, 1, 0, 0])
P = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.05])


def test_headline_metrics_at_threshold() -> None:
    m = metrics.headline(Y, P, threshold=0.5)
    # predicted positive: 0.8, 0.9, 0.6 -> TP 2, FP 1, FN 1
    assert m["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["roc_auc"] == pytest.approx(13 / 15, abs=1e-6)  # 13 of 15 positive/negative pairs ordered
    assert set(m) == {"roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier"}


def test_confusion_counts_are_aggregated_cells() -> None:
    cells = {(c["actual"], c["predicted"]): c["count"] for c in metrics.confusion_counts(Y, P, 0.5)}
    assert cells == {(0, 0): 4, (0, 1): 1, (1, 0): 1, (1, 1): 2}


def test_curves_are_thinned_but_keep_their_ends() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 5000), rng.random(5000)
    roc = metrics.roc_points(y, p, max_points=50)
    assert len(roc) <= 50
    assert (roc[0]["fpr"], roc[0]["tpr"]) == (0.0, 0.0) and (roc[-1]["fpr"], roc[-1]["tpr"]) == (1.0, 1.0)
    assert all(0.0 <= pt["threshold"] <= 1.0 for pt in roc)
    assert len(metrics.pr_points(y, p, max_points=50)) <= 50


def test_calibration_bins_cover_every_prediction() -> None:
    rows = metrics.calibration(Y, P, bins=4)
    assert sum(r["count"] for r in rows) == len(Y)
    assert all(0 <= r["bin"] < 4 for r in rows)


def test_slices_report_each_group_and_undefined_auc_as_null() -> None:
    frame = pd.DataFrame({"g": ["a", "a", "a", "a", "b", "b", "b", "b"]})
    out = metrics.slices(frame, Y, P, 0.5, ["g"])
    assert set(out["g"]) == {"a", "b"}
    assert out["g"]["a"]["count"] == 4
    single = metrics.slices(
        pd.DataFrame({"g": ["x"] * 2}), np.array([0, 0]), np.array([0.2, 0.7]), 0.5, ["g"]
    )
    assert single["g"]["x"]["roc_auc"] is None and single["g"]["x"]["true_positive_rate"] is None
