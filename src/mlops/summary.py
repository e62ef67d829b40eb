"""`mlops summary`: the few lines `make pipeline` ends with (headline metrics, where to look next)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops.io import read_json

HEADLINE = ("roc_auc", "pr_auc", "f1", "precision", "recall", "brier")


def render(
    metrics: dict[str, float],
    metrics_path: Path,
    gates: dict[str, Any] | None,
    gates_md: Path,
    reports: tuple[str, ...] = (),
) -> str:
    figures = "  ".join(f"{k} {metrics[k]:.4f}" for k in HEADLINE if k in metrics)
    if gates is None:
        verdict = "not run"
    else:
        verdict = (
            f"PASSED, {len(gates['results'])} checks"
            if gates["passed"]
            else f"FAILED: {', '.join(gates['failed'])}"
        )
    return "\n".join(
        [
            "",
            f"Pipeline done. Holdout ({metrics.get('holdout_rows', '?')} rows): {figures}",
            f"  gates:       {verdict} ({gates_md})",
            f"  metrics:     {metrics_path}  (compare with main: dvc metrics diff main)",
            f"  reports:     {', '.join(reports)}",
            "  MLflow UI:   make mlflow-ui  (then open http://127.0.0.1:5000)",
            "",
        ]
    )


def tracking_notice(environ: Mapping[str, str]) -> str | None:
    """In a GitHub Actions job without a tracking server: the one line that says where the runs went."""
    if environ.get("GITHUB_ACTIONS") != "true" or environ.get("MLFLOW_TRACKING_URI"):
        return None
    return (
        "::notice title=tracking::MLFLOW_TRACKING_URI is not set: this job tracked its runs in its own "
        "sqlite:///mlflow.db, lost with the runner (set the secret to a tracking server: docs/team-scale.md)"
    )


def run(metrics: Path, gates: Path, gates_md: Path, validation_md: Path, slices: Path, plots: Path) -> int:
    verdict = read_json(gates) if gates.exists() else None
    reports = (str(validation_md), str(slices), f"{plots}/")
    print(render(read_json(metrics), metrics, verdict, gates_md, reports))
    if notice := tracking_notice(os.environ):
        print(notice)
    return 0
