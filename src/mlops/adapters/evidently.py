"""Evidently 0.7 adapter: the only module that imports evidently.

One report per run: DataDriftPreset over the feature columns (column types from the contract) plus a
ValueDrift on the predicted probability, with tests. Methods are fixed, not left to Evidently's
sample-size heuristics: with more than 1,000 rows it picks distances (Wasserstein, Jensen-Shannon), with
fewer it picks p-value tests whose threshold means something else, so the same params would change
meaning with traffic volume. The limits are set per run for the window's size (calibration.py, which
replicates these two scores; tests/unit/test_adapters.py checks they agree). Pass / fail is read from the
tests' status, never from the raw scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

NUM_METHOD = "wasserstein"
CAT_METHOD = "jensenshannon"


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    score: float
    threshold: float
    drifted: bool
    method: str


@dataclass(frozen=True)
class DriftResult:
    columns: list[ColumnDrift]
    drifted_share: float
    share_test_failed: bool
    prediction: ColumnDrift | None


def _column_drift(test: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> ColumnDrift | None:
    params = test.get("metric_config", {}).get("params", {})
    if params.get("type") != "evidently:metric_v2:ValueDrift":
        return None
    value = metrics.get(test["metric_config"]["metric_id"], {}).get("value")
    return ColumnDrift(
        column=str(params["column"]),
        score=float(value) if value is not None else float("nan"),
        threshold=float(params.get("threshold", 0.0)),
        drifted=test["status"] != "SUCCESS",
        method=str(params.get("method", "")),
    )


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    prediction: str | None,
    drift_share: float,
    column_thresholds: dict[str, float],
    prediction_threshold: float,
    html: Path,
) -> DriftResult:
    """Run the report, save it as self-contained HTML, and return the verdicts of its tests.

    `column_thresholds`: each feature's drift limit (calibrated by mlops.monitoring.calibration), so the
    report shows and tests the limits the verdict uses.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    features = [*numeric, *categorical]
    columns = [*features, *([prediction] if prediction else [])]
    definition = DataDefinition(
        numerical_columns=[*numeric, *([prediction] if prediction else [])], categorical_columns=categorical
    )
    parts: list[Any] = [
        DataDriftPreset(
            columns=features,
            drift_share=drift_share,
            num_method=NUM_METHOD,
            cat_method=CAT_METHOD,
            per_column_threshold={c: float(column_thresholds[c]) for c in features},
        )
    ]
    if prediction:
        parts.append(ValueDrift(column=prediction, method=NUM_METHOD, threshold=prediction_threshold))
    snapshot = Report(parts, include_tests=True).run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    html.parent.mkdir(parents=True, exist_ok=True)
    tmp = html.with_name(f".{html.name}.partial")
    snapshot.save_html(str(tmp))
    tmp.replace(html)
    data = snapshot.dict()
    metrics = {m["id"]: m for m in data["metrics"]}
    drifts = [d for t in data["tests"] if (d := _column_drift(t, metrics)) is not None]
    share_type = "evidently:metric_v2:DriftedColumnsCount"
    share_tests = [
        t for t in data["tests"] if t.get("metric_config", {}).get("params", {}).get("type") == share_type
    ]
    feature_drifts = [d for d in drifts if d.column in features]
    predicted = next((d for d in drifts if d.column == prediction), None)
    share = sum(d.drifted for d in feature_drifts) / max(len(feature_drifts), 1)
    return DriftResult(
        columns=feature_drifts,
        drifted_share=share,
        share_test_failed=any(t["status"] != "SUCCESS" for t in share_tests),
        prediction=predicted,
    )
