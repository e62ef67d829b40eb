"""Pure monitoring logic: the log as a table, the window, data-quality checks, the verdict.

Everything here takes and returns plain data, so the rules that decide "drift" are unit-tested without
Evidently or a server. The Evidently adapter supplies the per-column and prediction drift tests.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from mlops.params import MonitoringParams

# `mlops drift` exits 3 on drift; 0 without (or with too little data to judge); 1 or 2 on errors.
EXIT_DRIFT = 3
# Clocks of the service and the drift job may disagree by this much: a record up to this far after the
# window end is still in the window; later than that, it is "in the future" (a clock or logging fault).
CLOCK_SKEW = dt.timedelta(minutes=5)
# A reference category is "vanished" when the window, at the reference share, should have held at least
# this many rows of it and holds none (by chance: probability below e^-20).
VANISHED_MIN_EXPECTED = 20
# An ISO 8601 time of day followed by a UTC offset (Z, +hh, +hh:mm, +hhmm): without one, the time is naive.
_OFFSET = re.compile(r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.I)


def production_traffic(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The log records of real traffic, and how many were a deploy's smoke requests (left out: the golden
    rows replayed at every deploy would look like a shift towards them and train a retrain on them)."""
    kept = [r for r in records if r.get("traffic") != "smoke"]
    return kept, len(records) - len(kept)


def log_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Prediction-log records as one row each: request id, time, model, probability, class, inputs.

    `timestamp` is UTC. A timestamp without a UTC offset (naive) is READ AS UTC, the convention the service
    writes in, and flagged in `naive_timestamp`: `timestamp_check` counts such records and the verdict
    names them, so a writer in local time is an alarm, never a silent shift of the window. A timestamp
    that is missing or not ISO 8601 becomes NaT (in no window; counted as invalid).
    """
    if not records:
        return pd.DataFrame(
            columns=[
                "request_id",
                "timestamp",
                "model_version",
                "probability",
                "predicted",
                "naive_timestamp",
            ]
        )
    inputs = pd.DataFrame.from_records([r.get("inputs", {}) for r in records])
    meta = pd.DataFrame.from_records(
        [
            {
                "request_id": r.get("request_id"),
                "timestamp": r.get("timestamp"),
                "model_version": r.get("model_version"),
                "probability": r.get("probability"),
                "predicted": r.get("predicted", r.get("churn")),  # `churn`: logs written before 2026-12
            }
            for r in records
        ]
    )
    frame = pd.concat([meta, inputs.drop(columns=["naive_timestamp"], errors="ignore")], axis=1)
    raw = frame["timestamp"]
    text = raw.map(lambda v: v.strip() if isinstance(v, str) else "")
    frame["timestamp"] = pd.to_datetime(text.where(text != ""), utc=True, format="ISO8601", errors="coerce")
    frame["naive_timestamp"] = frame["timestamp"].notna() & ~text.map(lambda v: bool(_OFFSET.search(v)))
    return frame


def window(frame: pd.DataFrame, hours: float, now: dt.datetime, cap: int | None = None) -> pd.DataFrame:
    """Rows of the last `hours` before `now` (plus CLOCK_SKEW), at most the `cap` most recent (None: all).

    Later rows are in the future and invalid timestamps in no window: `timestamp_check` counts both.
    """
    if frame.empty:
        return frame
    start = pd.Timestamp(now) - pd.Timedelta(hours=hours)
    end = pd.Timestamp(now) + pd.Timedelta(CLOCK_SKEW)
    recent = frame[(frame["timestamp"] > start) & (frame["timestamp"] <= end)]
    ordered = recent.sort_values("timestamp", kind="stable")
    return ordered if cap is None else ordered.tail(cap)


def timestamp_check(frame: pd.DataFrame, hours: float, now: dt.datetime) -> dict[str, Any]:
    """Timestamps the window cannot trust, counted (never silently dropped); any of them is drift.

    - `future`: later than `now` + CLOCK_SKEW: not used (no window can place them; a clock or time-zone
      fault, e.g. naive local time ahead of UTC read as UTC).
    - `naive`: no UTC offset, read as UTC (see `log_frame`); counted when that reading puts them in the
      window or in the future (older ones concern no current window). They ARE used, under that reading.
    - `invalid`: missing or not ISO 8601: not used.
    """
    if frame.empty:
        return {"future": 0, "naive": 0, "naive_future": 0, "invalid": 0, "passed": True}
    ts = frame["timestamp"]
    start = pd.Timestamp(now) - pd.Timedelta(hours=hours)
    future = ts > pd.Timestamp(now) + pd.Timedelta(CLOCK_SKEW)
    naive = frame["naive_timestamp"].astype(bool) & (ts > start)
    out = {
        "future": int(future.sum()),
        "naive": int(naive.sum()),
        "naive_future": int((naive & future).sum()),
        "invalid": int(ts.isna().sum()),
    }
    return {**out, "passed": not (out["future"] or out["naive"] or out["invalid"])}


def deduplicate(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The first record of each request id, and the count of the others (a logging fault: drift).

    A request id is logged once per prediction, so a second record of it is a double write (`identical`:
    the whole record repeated) or ids reused for different requests (`conflicting`); either way only the
    first counts in the judgement, so a doubled batch does not weigh twice.
    """
    if frame.empty:
        return frame, {"records": 0, "request_ids": 0, "identical": 0, "examples": [], "passed": True}
    repeated = frame["request_id"].duplicated(keep="first")
    identical = frame.astype(str).duplicated(keep="first")
    ids = frame.loc[repeated, "request_id"]
    info = {
        "records": int(repeated.sum()),
        "request_ids": int(ids.nunique()),
        "identical": int((repeated & identical).sum()),
        "examples": [str(i) for i in ids.drop_duplicates().head(5)],
    }
    return frame[~repeated], {**info, "passed": not info["records"]}


def all_null_columns(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]
) -> list[dict[str, Any]]:
    """Columns with no value at all in the window that had values in the reference (a broken feed)."""
    out = []
    for col in columns:
        ref_null = float(reference[col].isna().mean()) if col in reference else 1.0
        empty = col not in current or bool(current[col].isna().all())
        if empty and ref_null < 1.0 and len(current):
            out.append({"column": col, "rows": len(current), "reference_null_share": round(ref_null, 4)})
    return out


def constant_columns(
    reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str]
) -> list[dict[str, Any]]:
    """Numeric columns stuck at one value in the window (at least 2 values) that varied in the reference."""
    out = []
    for col in numeric:
        if col not in current or col not in reference:
            continue
        values = pd.to_numeric(current[col], errors="coerce").dropna()
        ref = pd.to_numeric(reference[col], errors="coerce").dropna()
        stuck = len(values) >= 2 and bool((values == values.iloc[0]).all())
        if stuck and len(ref) > 1 and bool((ref != ref.iloc[0]).any()):
            out.append(
                {
                    "column": col,
                    "value": float(values.iloc[0]),
                    "rows": len(values),
                    "reference_std": round(float(ref.std()), 4),
                }
            )
    return out


def vanished_categories(
    reference: pd.DataFrame, current: pd.DataFrame, categorical: list[str]
) -> list[dict[str, Any]]:
    """Reference categories absent from the window although its size made them expected (see
    VANISHED_MIN_EXPECTED): a value the feed stopped sending, or a mapping that swallows it."""
    out = []
    for col in categorical:
        if col not in current or col not in reference:
            continue
        seen = current[col].dropna().astype(str)
        if seen.empty:  # all null: all_null_columns names it
            continue
        shares = reference[col].dropna().astype(str).value_counts(normalize=True)
        gone = {
            str(v): round(float(s), 4)
            for v, s in shares.items()
            if s * len(seen) >= VANISHED_MIN_EXPECTED and v not in set(seen)
        }
        if gone:
            out.append({"column": col, "values": sorted(gone), "reference_share": gone, "rows": len(seen)})
    return out


def quality_reasons(quality: dict[str, Any]) -> list[str]:
    """One reason per broken input of the `quality` block (timestamps, duplicates, columns)."""
    reasons = []
    stamps = quality.get("timestamps") or {}
    if stamps.get("future"):
        naive = f", {stamps['naive_future']} of them naive" if stamps.get("naive_future") else ""
        reasons.append(
            f"{stamps['future']} records timestamped more than {CLOCK_SKEW.total_seconds() / 60:g} min "
            f"in the future{naive}: not used"
        )
    if stamps.get("naive"):
        reasons.append(f"{stamps['naive']} records with timestamps without a UTC offset (naive): read as UTC")
    if stamps.get("invalid"):
        reasons.append(f"{stamps['invalid']} records with a missing or invalid timestamp: not used")
    if quality.get("without_probability"):
        reasons.append(
            f"{quality['without_probability']} records without a probability: not judged for performance"
        )
    invalid = (quality.get("labels") or {}).get("invalid")
    if invalid:
        reasons.append(f"{invalid} fed-back labels are neither 0 / 1 nor the contract's two values: not used")
    dups = quality.get("duplicates") or {}
    if dups.get("records"):
        reasons.append(
            f"{dups['records']} duplicate records of {dups['request_ids']} request ids "
            f"({dups['identical']} identical), e.g. {', '.join(dups['examples'])}: only the first counted"
        )
    reasons += [
        f"{c['column']} is null in all {c['rows']} rows of the window "
        f"(reference: {c['reference_null_share']:.1%} null): not drift-tested"
        for c in quality.get("all_null", [])
    ]
    reasons += [
        f"{c['column']} is constant at {c['value']:g} in all {c['rows']} rows of the window "
        f"(reference std {c['reference_std']:g})"
        for c in quality.get("constant", [])
    ]
    reasons += [
        f"categories of {c['column']} vanished from the window: "
        + ", ".join(f"{v} ({s:.1%} of the reference)" for v, s in c["reference_share"].items())
        for c in quality.get("vanished_categories", [])
    ]
    return reasons


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
    """Predictions joined with their fed-back labels (the last label of a request id wins). A request id
    that more than one prediction carries (a log written before the server issued every id, or merged
    logs) is ambiguous: its label would land on all of them, so none of them is labelled
    (`label_join` counts them)."""
    if frame.empty or not feedback:
        return frame.iloc[0:0].assign(label=pd.Series(dtype=int))
    labels = pd.DataFrame.from_records(feedback).drop_duplicates("request_id", keep="last")
    unique = frame[~frame["request_id"].duplicated(keep=False)]
    return unique.merge(labels[["request_id", "label"]], on="request_id", how="inner")


def label_join(frame: pd.DataFrame, feedback: list[dict[str, Any]]) -> dict[str, int]:
    """What the join of labels onto predictions left out: predictions whose request id is ambiguous
    (shared), and labels whose request id matches no logged prediction (unknown, or outside the window)."""
    if frame.empty or not feedback:
        return {"ambiguous_predictions": 0, "unmatched_labels": len(feedback)}
    ids = frame["request_id"]
    labelled_ids = {str(r.get("request_id")) for r in feedback}
    return {
        "ambiguous_predictions": int(ids.duplicated(keep=False).sum()),
        "unmatched_labels": len(labelled_ids - set(ids.astype(str))),
    }


def performance_reason(performance: dict[str, Any]) -> str | None:
    """The harm reason of the `performance` block (mlops.monitoring.performance.judge), if it harms:
    every source that harms, with its numbers."""
    if not performance.get("degrading"):
        return None
    base, tol = performance["baseline_roc_auc"], performance["tolerance"]
    measured, relation, estimated = (performance.get(k) or {} for k in ("measured", "relation", "estimated"))
    why = []
    if relation and relation["harms"]:
        why.append(
            f"the labels contradict its probabilities (relation test p = {relation['p_value']:.4f} "
            f"< {relation['alpha']}) and the measured ROC AUC drop is {measured['drop']} "
            f"(>= {relation['min_drop']})"
        )
    if measured and measured["harms"]:
        why.append(
            f"the measured ROC AUC drop {measured['drop']} exceeds the tolerance {tol} with "
            f"{performance['confidence']:.1%} confidence (lower bound {measured['lower_bound']})"
        )
    if estimated and estimated["harms"]:
        why.append(
            f"the ROC AUC its probabilities imply dropped by {estimated['drop']} (lower bound "
            f"{estimated['lower_bound']} > tolerance {tol})"
        )
    if measured:
        roc = f"ROC AUC {measured['roc_auc']} vs {base} on the holdout"
        basis = f"measured on {performance['labels']} labels: {roc}"
    else:
        basis = (
            f"estimated from its probabilities, {_labels_note(performance)}: expected ROC AUC "
            f"{estimated['roc_auc']} vs {base} on the holdout"
        )
    return f"the model is degrading ({basis}): " + "; ".join(why)


def _labels_note(performance: dict[str, Any]) -> str:
    n, needed = performance["labels"], performance["min_labels"]
    return f"{n} labels < {needed}" if n < needed else f"all {n} labels of one class"


def relation_reason(performance: dict[str, Any]) -> str | None:
    """A relation that moved without costing the ranking (reported, no retrain)."""
    if not performance.get("relation_moved"):
        return None
    relation, measured = performance["relation"], performance["measured"]
    return (
        f"the labels contradict the model's probabilities (relation test p = {relation['p_value']:.4f} "
        f"< {relation['alpha']}, {relation['labels']} labels) but its ROC AUC holds (drop {measured['drop']} "
        f"< {relation['min_drop']}): the probabilities are off, the ranking is not (recalibrate, or retrain "
        "by hand if decisions hang on the threshold)"
    )


def _verdict(inputs: list[str], quality: list[str], performance: dict[str, Any]) -> dict[str, Any]:
    """Harm first: "degrading" opens the retrain pull request; a moved relation that costs no ranking,
    moved or broken inputs update the issue only."""
    harm, relation = performance_reason(performance), relation_reason(performance)
    verdict = (
        "degrading" if harm
        else "relation_moved" if relation
        else "inputs_moved" if inputs or quality
        else "healthy"
    )  # fmt: skip
    return {
        "verdict": verdict,
        "retrain": harm is not None,
        "inputs_moved": bool(inputs or quality),
        "reasons": [r for r in (harm, relation) if r] + quality + inputs,
    }


def verdict(
    rows: int,
    params: MonitoringParams,
    columns: list[dict[str, Any]],
    share: float,
    prediction: dict[str, Any] | None,
    missing: list[dict[str, Any]],
    unseen: list[dict[str, Any]],
    performance: dict[str, Any],
    quality: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary written to drift.json; `status` is drift (any alarm) or no_drift, `verdict` says
    which: degrading (retrain), inputs_moved (report only) or healthy."""
    drifted = [c["column"] for c in columns if c["drifted"]]
    quality = quality or {}
    inputs = []
    if share >= params.drift_share:
        inputs.append(
            f"{len(drifted)} of {len(columns)} feature columns drifted "
            f"({share:.0%} >= {params.drift_share:.0%}): " + ", ".join(drifted)
        )
    if prediction and prediction["drifted"]:
        inputs.append(
            f"predicted probability drifted "
            f"(score {prediction['score']:.3f} >= limit {prediction['threshold']:.3f})"
        )
    inputs += [
        f"missing values in {m['column']} rose from {m['reference']:.1%} to {m['current']:.1%}"
        for m in missing
        if not m["passed"]
    ]
    inputs += [f"unseen categories in {u['column']}: {u['unseen']}" for u in unseen if not u["passed"]]
    judged = _verdict(inputs, quality_reasons(quality), performance)
    return {
        "status": "drift" if judged["reasons"] else "no_drift",
        **judged,
        "rows": rows,
        "drifted_columns": drifted,
        "drifted_share": round(share, 4),
        "columns": columns,
        "prediction": prediction,
        "missing": missing,
        "unseen_categories": unseen,
        "performance": performance,
        "quality": quality,
    }


def insufficient(
    rows: int, params: MonitoringParams, performance: dict[str, Any], quality: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Too few rows to judge the inputs; a broken log (timestamps, duplicates in `quality`) is still an
    alarm, and enough labels still judge the model."""
    judged = _verdict([], quality_reasons(quality or {}), performance)
    too_few = f"{rows} predictions in the last {params.window_hours:g} h (< {params.min_rows})"
    return {
        "status": "drift" if judged["reasons"] else "insufficient_data",
        **judged,
        "verdict": judged["verdict"] if judged["reasons"] else "insufficient_data",
        "rows": rows,
        "min_rows": params.min_rows,
        "reasons": [too_few, *judged["reasons"]],
        "performance": performance,
        "quality": quality or {},
    }


def finite(value: float | None) -> float | None:
    """JSON-safe: NaN becomes null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 4)


def sample(frame: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= cap else frame.sample(n=cap, random_state=np.random.RandomState(seed))
