"""Pure monitoring logic: the log as a table, the window, data-quality checks, concept drift, the verdict.

Everything here takes and returns plain data, so the rules that decide "drift" are unit-tested without
Evidently or a server. The Evidently adapter supplies the per-column and prediction drift tests.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, roc_auc_score

from mlops.params import MonitoringParams

# `mlops drift` exits 3 on drift; 0 without (or with too little data to judge); 1 or 2 on errors.
EXIT_DRIFT = 3


def log_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Prediction-log records as one row each: request id, time, model, probability, class, inputs."""
    if not records:
        return pd.DataFrame(columns=["request_id", "timestamp", "model_version", "probability", "churn"])
    inputs = pd.DataFrame.from_records([r.get("inputs", {}) for r in records])
    meta = pd.DataFrame.from_records(
        [
            {
                "request_id": r["request_id"],
                "timestamp": r["timestamp"],
                "model_version": r.get("model_version"),
                "probability": r["probability"],
                "churn": r["churn"],
            }
            for r in records
        ]
    )
    frame = pd.concat([meta, inputs], axis=1)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame


def window(frame: pd.DataFrame, hours: float, now: dt.datetime, cap: int | None = None) -> pd.DataFrame:
    """Rows of the last `hours` before `now`, at most the `cap` most recent (None: all of them)."""
    if frame.empty:
        return frame
    start = pd.Timestamp(now) - pd.Timedelta(hours=hours)
    recent = frame[(frame["timestamp"] > start) & (frame["timestamp"] <= pd.Timestamp(now))]
    ordered = recent.sort_values("timestamp")
    return ordered if cap is None else ordered.tail(cap)


def missing_checks(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], max_increase: float
) -> list[dict[str, Any]]:
    """Per column: missing share now vs in training; a rise above `max_increase` fails."""
    checks = []
    for col in columns:
        ref = float(reference[col].isna().mean()) if col in reference else 0.0
        cur = float(current[col].isna().mean()) if col in current else 1.0
        checks.append(
            {
                "column": col,
                "reference": round(ref, 4),
                "current": round(cur, 4),
                "passed": cur - ref <= max_increase,
            }
        )
    return checks


def unseen_categories(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]
) -> list[dict[str, Any]]:
    """Per categorical column: values served that training never saw (the model knows nothing of them)."""
    out = []
    for col in columns:
        known = set(reference[col].dropna().astype(str))
        seen = current[col].dropna().astype(str) if col in current else pd.Series(dtype=str)
        unseen = sorted(set(seen) - known)
        out.append(
            {
                "column": col,
                "unseen": unseen[:20],
                "rows": int(seen.isin(unseen).sum()),
                "passed": not unseen,
            }
        )
    return out


def labelled(frame: pd.DataFrame, feedback: list[dict[str, Any]]) -> pd.DataFrame:
    """Predictions joined with their fed-back labels (the last label of a request id wins)."""
    if frame.empty or not feedback:
        return frame.iloc[0:0].assign(label=pd.Series(dtype=int))
    labels = pd.DataFrame.from_records(feedback).drop_duplicates("request_id", keep="last")
    return frame.merge(labels[["request_id", "label"]], on="request_id", how="inner")


def concept_check(
    joined: pd.DataFrame, baseline: dict[str, float], threshold: float, params: MonitoringParams
) -> dict[str, Any]:
    """Performance on labelled live traffic against the evaluation baseline (reports/metrics.json)."""
    c = params.concept
    n = len(joined)
    if n < c.min_labels or joined["label"].nunique() < 2:
        return {"status": "insufficient_data", "labels": n, "min_labels": c.min_labels, "drift": False}
    y = joined["label"].to_numpy(dtype=int)
    p = joined["probability"].to_numpy(dtype=float)
    auc = float(roc_auc_score(y, p))
    f1 = float(f1_score(y, (p >= threshold).astype(int), zero_division=0))
    auc_drop = baseline["roc_auc"] - auc
    f1_drop = baseline["f1"] - f1
    drift = auc_drop > c.max_roc_auc_drop or f1_drop > c.max_f1_drop
    return {
        "status": "drift" if drift else "ok",
        "labels": n,
        "roc_auc": round(auc, 4),
        "f1": round(f1, 4),
        "baseline_roc_auc": baseline["roc_auc"],
        "baseline_f1": baseline["f1"],
        "roc_auc_drop": round(auc_drop, 4),
        "f1_drop": round(f1_drop, 4),
        "max_roc_auc_drop": c.max_roc_auc_drop,
        "max_f1_drop": c.max_f1_drop,
        "drift": drift,
    }


def concept_reason(concept: dict[str, Any]) -> str:
    return (
        f"performance on {concept['labels']} labelled predictions: "
        f"ROC AUC {concept['roc_auc']} (baseline {concept['baseline_roc_auc']}), "
        f"F1 {concept['f1']} (baseline {concept['baseline_f1']})"
    )


def verdict(
    rows: int,
    params: MonitoringParams,
    columns: list[dict[str, Any]],
    share: float,
    prediction: dict[str, Any] | None,
    missing: list[dict[str, Any]],
    unseen: list[dict[str, Any]],
    concept: dict[str, Any],
) -> dict[str, Any]:
    """The summary written to drift.json; `status` is drift, no_drift or insufficient_data."""
    drifted = [c["column"] for c in columns if c["drifted"]]
    reasons = []
    if share >= params.drift_share:
        reasons.append(
            f"{len(drifted)} of {len(columns)} feature columns drifted "
            f"({share:.0%} >= {params.drift_share:.0%}): " + ", ".join(drifted)
        )
    if prediction and prediction["drifted"]:
        reasons.append(
            f"predicted probability drifted (score {prediction['score']:.3f} > {prediction['threshold']})"
        )
    reasons += [
        f"missing values in {m['column']} rose from {m['reference']:.1%} to {m['current']:.1%}"
        for m in missing
        if not m["passed"]
    ]
    reasons += [f"unseen categories in {u['column']}: {u['unseen']}" for u in unseen if not u["passed"]]
    if concept.get("drift"):
        reasons.append(concept_reason(concept))
    return {
        "status": "drift" if reasons else "no_drift",
        "rows": rows,
        "drifted_columns": drifted,
        "drifted_share": round(share, 4),
        "reasons": reasons,
        "columns": columns,
        "prediction": prediction,
        "missing": missing,
        "unseen_categories": unseen,
        "concept": concept,
    }


def insufficient(rows: int, params: MonitoringParams, concept: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "insufficient_data",
        "rows": rows,
        "min_rows": params.min_rows,
        "reasons": [f"{rows} predictions in the last {params.window_hours:g} h (< {params.min_rows})"],
        "concept": concept,
    }


def finite(value: float | None) -> float | None:
    """JSON-safe: NaN becomes null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 4)


def sample(frame: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= cap else frame.sample(n=cap, random_state=np.random.RandomState(seed))
