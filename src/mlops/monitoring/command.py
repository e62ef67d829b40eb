"""`mlops drift`: the prediction log of a time window against the training data.

Writes reports/drift/drift.html (Evidently, self-contained) and reports/drift/drift.json (the verdict, its
reasons, every test, the calibrated limits). The verdict puts harm first: `degrading` (the model performs
worse: measured with labels, estimated from its probabilities without; the drift workflow opens the
retrain pull request), `inputs_moved` (inputs, predictions or data quality moved or broke: the drift
issue is updated, no retrain), `healthy`, or `insufficient_data`. Exit codes, relied on by the drift
workflow: 0 no alarm (or too little data to judge: never a false alarm), 3 any alarm (drift.json says
which; a broken log (future, naive or invalid timestamps, duplicate request ids) even with too few rows),
2 bad input (missing files, broken params), 1 anything unexpected.

The reference predictions come from the model production runs (deploy/production.yaml, fetched from DVC
by its md5), else from the pipeline's current model: prediction drift and the holdout baseline compare
like with like.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops.consistency import load_checked
from mlops.contract import Contract
from mlops.io import InputError, load_model, read_json, read_table, write_text
from mlops.monitoring import calibration
from mlops.monitoring import drift as rules
from mlops.monitoring.performance import Design, Scored, judge
from mlops.params import MonitoringParams, Params
from mlops.serving.predlog import FEEDBACK_PREFIX, read_records


def _reference_model(production: Path, model_path: Path) -> tuple[Any, str]:
    from mlops.deploy.records import deployed_model, load_deployed_model

    recorded = deployed_model(production) if production.exists() else None
    if recorded is not None:
        return load_deployed_model(recorded), f"production model ({recorded.label})"
    if not model_path.exists():
        raise InputError(f"no production model recorded and no {model_path}: cannot score the reference")
    return load_model(model_path), f"pipeline model {model_path}"


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"drift: {summary['status']}, verdict {summary['verdict']} "
        f"({summary['rows']} predictions in the window)"
    ]
    lines += [f"  - {reason}" for reason in summary["reasons"]]
    return lines


def _outcomes(values: pd.Series, contract: Contract) -> tuple[np.ndarray, np.ndarray]:
    """0/1 outcomes of fed-back labels (0 / 1 or the contract's two values) and which rows are valid."""
    negative, positive = contract.labels

    def code(value: Any) -> int:
        if isinstance(value, bool):
            return -1
        return 1 if value in (1, positive) else 0 if value in (0, negative) else -1

    coded = np.array([code(v) for v in values], dtype=int)
    return coded, coded >= 0


# Fewer holdout rows of a class than this and its ROC AUC, the baseline of every drop, is noise.
_MIN_HOLDOUT_CLASS = 30


@dataclass(frozen=True)
class Reference:
    """What the window is judged against: training rows (inputs), the labelled holdout (performance),
    both scored by the served model."""

    train: pd.DataFrame  # with a `probability` column
    holdout: Scored
    design: Design
    model: str  # which model scored them, for drift.json

    @classmethod
    def load(
        cls,
        params: MonitoringParams,
        contract: Contract,
        train: Path,
        holdout: Path,
        models: tuple[Path, Path],
    ) -> Reference:
        from mlops.modeling import input_columns

        scorer, label = _reference_model(*models)
        columns = input_columns(contract)
        frame = rules.sample(read_table(train), params.sample_cap, params.seed).reset_index(drop=True)
        frame["probability"] = scorer.predict_proba(frame[columns])[:, 1]
        rows = read_table(holdout)
        if rows.empty:
            raise InputError(f"{holdout}: no holdout rows to judge performance against")
        outcome = (rows[contract.target] == contract.positive_label).to_numpy(dtype=int)
        counts = np.bincount(outcome, minlength=2)
        if counts.min() < _MIN_HOLDOUT_CLASS:
            raise InputError(
                f"{holdout}: {counts[0]} negative and {counts[1]} positive rows; the performance baseline "
                f"needs at least {_MIN_HOLDOUT_CLASS} of each"
            )
        scored = Scored(rows, scorer.predict_proba(rows[columns])[:, 1], outcome)
        return cls(frame, scored, Design.from_holdout(rows, contract), label)


def _input_drift(
    params: MonitoringParams, contract: Contract, current: pd.DataFrame, reference: pd.DataFrame, html: Path
) -> dict[str, Any]:
    """Enough rows: the Evidently report at limits calibrated for this window's size, our quality checks.

    Columns null in every row of the window are named in `quality` and left out of the Evidently call
    (there is no distribution to compare, and Evidently fails on them).
    """
    features = contract.features()
    numeric, categorical = contract.numeric(features), contract.categorical(features)
    cur = current.reset_index(drop=True).copy()
    for col in numeric:
        values = cur[col] if col in cur else pd.Series(index=cur.index, dtype=float)
        cur[col] = pd.to_numeric(values, errors="coerce").astype(float)
    for col in categorical:
        cur[col] = (cur[col] if col in cur else pd.Series(index=cur.index, dtype=object)).astype("object")
    cur["probability"] = pd.to_numeric(cur["probability"], errors="coerce").astype(float)
    all_null = rules.all_null_columns(reference, cur, features)
    empty = {c["column"] for c in all_null}
    quality = {
        "all_null": all_null,
        "constant": rules.constant_columns(reference, cur, numeric),
        "vanished_categories": rules.vanished_categories(reference, cur, categorical),
    }
    judged_num = [c for c in numeric if c not in empty]
    judged_cat = [c for c in categorical if c not in empty]
    # Records without a probability are counted in `quality`; none at all: no prediction drift to judge.
    scored = "probability" if cur["probability"].notna().any() else None
    calm = calibration.calm_distances(
        reference,
        [*judged_num, *([scored] if scored else [])],
        judged_cat,
        len(cur),
        params.resamples,
        params.seed,
    )
    limits, share_record = calibration.share_limits(
        calm[[*judged_num, *judged_cat]],
        params.column_threshold,
        params.drift_share,
        params.false_alarms.inputs,
    )
    prediction_limit, prediction_record = (
        calibration.single_limit(
            calm["probability"].to_numpy(), params.prediction_threshold, params.false_alarms.prediction
        )
        if scored
        else (params.prediction_threshold, None)
    )
    from mlops.adapters.evidently import DriftResult, drift_report

    # Every feature null in the window (named in `quality`): nothing left for Evidently to compare.
    result = (
        drift_report(
            reference,
            cur,
            numeric=judged_num,
            categorical=judged_cat,
            prediction=scored,
            drift_share=params.drift_share,
            column_thresholds=limits,
            prediction_threshold=prediction_limit,
            html=html,
        )
        if judged_num or judged_cat
        else DriftResult(columns=[], drifted_share=0.0, share_test_failed=False, prediction=None)
    )
    columns = [
        {
            "column": c.column,
            "score": rules.finite(c.score),
            "threshold": round(c.threshold, 4),
            "drifted": c.drifted,
            "method": c.method,
        }
        for c in result.columns
    ]
    pred = result.prediction
    prediction = (
        {"score": rules.finite(pred.score), "threshold": round(pred.threshold, 4), "drifted": pred.drifted}
        if pred
        else None
    )
    return {
        "columns": columns,
        "share": result.drifted_share,
        "prediction": prediction,
        "missing": rules.missing_checks(reference, cur, features, params.max_missing_increase),
        "unseen": rules.unseen_categories(reference, cur, categorical),
        "quality": quality,
        "calibration": {
            "window_rows": len(cur),
            "resampled_rows": calibration.resampled_rows(len(cur)),
            "reference_rows": len(reference),
            "resamples": params.resamples,
            "columns": share_record,
            "prediction": prediction_record,
        },
    }


def assess(
    config: Params,
    contract: Contract,
    records: list[dict[str, Any]],
    feedback: list[dict[str, Any]],
    reference: Reference,
    now: dt.datetime,
    out_dir: Path,
) -> dict[str, Any]:
    """The drift verdict of one window (what `mlops drift` writes to drift.json): pure but for the
    Evidently HTML report in `out_dir`. The quality benchmark calls this, so it measures the job's rules."""
    section = config.monitoring
    records, smoke = rules.production_traffic(records)
    frame = rules.log_frame(records)
    stamps = rules.timestamp_check(frame, section.window_hours, now)
    current, duplicates = rules.deduplicate(rules.window(frame, section.window_hours, now))
    current = current.tail(section.sample_cap)
    # What the label join left out (ambiguous ids, labels for no logged prediction): shown, not alarmed.
    labels = rules.label_join(current, feedback)
    joined = rules.labelled(current, feedback)
    outcome, valid = _outcomes(joined["label"], contract)
    joined = joined[valid].reset_index(drop=True)
    quality: dict[str, Any] = {
        "timestamps": stamps,
        "duplicates": duplicates,
        "labels": {**labels, "invalid": int((~valid).sum())},
        "smoke_excluded": smoke,  # a deploy's own smoke requests: in the log, not production traffic
    }
    served = pd.to_numeric(current["probability"], errors="coerce").to_numpy(float)
    scored = np.isfinite(served)
    quality["without_probability"] = int((~scored).sum())
    window = Scored(current[scored], served[scored])
    probability = pd.to_numeric(joined["probability"], errors="coerce").to_numpy(float)
    known = np.isfinite(probability)
    labelled = Scored(joined[known], probability[known], outcome[valid][known])
    enough = len(current) >= section.min_rows
    performance = judge(
        reference.holdout, window, labelled, reference.design, section, config.project.threshold, enough
    )
    if not enough:
        summary = rules.insufficient(len(current), section, performance, quality)
    else:
        found = _input_drift(section, contract, current, reference.train, out_dir / "drift.html")
        summary = rules.verdict(
            len(current),
            section,
            found["columns"],
            found["share"],
            found["prediction"],
            found["missing"],
            found["unseen"],
            performance,
            {**quality, **found["quality"]},
        )
        summary["calibration"] = found["calibration"]
        summary["reference"] = {"rows": len(reference.train), "model": reference.model}
    summary["window"] = {"hours": section.window_hours, "end": now.isoformat()}
    return summary


def run(
    params: Path,
    contract: Path,
    log_dir: Path,
    reference: Path,
    holdout: Path,
    model: Path,
    production: Path,
    out: Path,
    now: dt.datetime | None = None,
) -> int:
    config, data_contract = load_checked(params, contract)
    if not log_dir.is_dir():
        raise InputError(f"prediction log folder not found: {log_dir}")
    now = now or dt.datetime.now(dt.UTC)
    records, feedback = read_records(log_dir), read_records(log_dir, FEEDBACK_PREFIX)
    against = Reference.load(config.monitoring, data_contract, reference, holdout, (production, model))
    out.mkdir(parents=True, exist_ok=True)
    summary = assess(config, data_contract, records, feedback, against, now, out)
    write_text(json.dumps(summary, indent=2, default=str) + "\n", out / "drift.json")
    stream = sys.stdout if summary["status"] != "drift" else sys.stderr
    print("\n".join(_summary_lines(summary)), file=stream)
    return rules.EXIT_DRIFT if summary["status"] == "drift" else 0


HEADLINES = {
    "degrading": "the model is degrading",
    "relation_moved": "the labels contradict the model's probabilities, its ranking holds",
    "inputs_moved": "the inputs moved, the model is not shown to degrade",
    "healthy": "healthy",
    "insufficient_data": "too little data to judge",
}


def _performance_lines(performance: dict[str, Any]) -> list[str]:
    """The harm numbers for the issue: measured (labels) or estimated (probabilities), with the baseline."""
    base, tol = performance.get("baseline_roc_auc"), performance.get("tolerance")
    measured, estimated = performance.get("measured"), performance.get("estimated")
    lines = [
        "",
        "| performance | ROC AUC | drop vs holdout | lower bound | tolerance |",
        "|---|---|---|---|---|",
    ]
    lines.append(f"| holdout (baseline) | {base} | | | {tol} |")
    if measured:
        labels = performance["labels"]
        lines.append(
            f"| measured, {labels} labels | {measured['roc_auc']} | {measured['drop']} | "
            f"{measured['lower_bound']} | {tol} |"
        )
    if estimated:
        lines.append(
            f"| estimated, {estimated['rows']} rows (CBPE) | {estimated['roc_auc']} | {estimated['drop']} | "
            f"{estimated['lower_bound']} | {tol} |"
        )
    relation = performance.get("relation")
    if relation:
        lines += ["", f"Relation test (labels vs the served probabilities): p = {relation['p_value']:.4f} "
                  f"(alarm below {relation['alpha']})."]  # fmt: skip
    return lines if (measured or estimated) else []


def issue_body(summary: dict[str, Any], run_url: str | None) -> str:
    """The body of the ONE drift issue the drift workflow keeps up to date: harm first."""
    verdict = summary.get("verdict", summary["status"])
    measured = (summary.get("performance") or {}).get("basis") == "measured"
    next_step = (
        "A retrain has been dispatched: it opens a pull request with the retrained model and its report, "
        "so promotion stays a reviewed merge."
        if summary.get("retrain")
        else "No retrain was dispatched: the model is not shown to perform worse. Check the feed if an input "
        "broke" + ("." if measured else "; feed labels back (POST /feedback) so the next run measures it.")
    )
    lines = [
        "<!-- mlops-drift-issue -->",
        f"## Drift in production: {HEADLINES.get(verdict, verdict)}",
        "",
        f"{summary['rows']} predictions in the last {summary['window']['hours']:g} h "
        f"(up to {summary['window']['end']}).",
        "",
        *[f"- {reason}" for reason in summary["reasons"]],
        *_performance_lines(summary.get("performance") or {}),
        "",
        next_step,
    ]
    columns = summary.get("columns") or []
    if columns:
        lines += ["", "| column | drift score | limit | drifted |", "|---|---|---|---|"]
        for c in columns:
            drifted = "yes" if c["drifted"] else "no"
            lines.append(f"| {c['column']} | {c['score']} | {c['threshold']} | {drifted} |")
    if run_url:
        lines += ["", f"Full HTML report: the `drift-report` artifact of [this run]({run_url})."]
    return "\n".join(lines) + "\n"


def run_issue_body(summary: Path, out: Path, run_url: str | None) -> int:
    write_text(issue_body(read_json(summary), run_url), out)
    print(f"drift-issue-body: {out}")
    return 0


def run_fetch(url: str | None, out: Path) -> int:
    """`url` None: $MLOPS_PREDICTION_LOG_URL (the serving side's copy of its log); unset: exit 2."""
    import os
    import sys

    from mlops.serving.predlog import fetch

    url = url or os.environ.get("MLOPS_PREDICTION_LOG_URL", "")
    if not url:
        print(
            "fetch-log: MLOPS_PREDICTION_LOG_URL is not set: set it (a repository secret) to the log "
            "location",
            file=sys.stderr,
        )
        return 2
    print(f"fetch-log: {fetch(url, out)} new files from {url} -> {out}")
    return 0
