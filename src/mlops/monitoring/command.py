"""`mlops drift`: the prediction log of a time window against the training data.

Writes reports/drift/drift.html (Evidently, self-contained) and reports/drift/drift.json (the verdict, its
reasons, every test). Exit codes, relied on by the drift workflow: 0 no drift (or too little data to
judge: never a false alarm), 3 drift (inputs, predictions, data quality or labelled performance; a broken
log (future, naive or invalid timestamps, duplicate request ids) even with too few rows), 2 bad input
(missing files, broken params), 1 anything unexpected.

The reference predictions come from the model production runs (deploy/production.yaml, fetched from DVC
by its md5), else from the pipeline's current model: prediction drift compares like with like.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.consistency import load_checked
from mlops.contract import Contract
from mlops.io import InputError, load_model, read_json, read_table, write_text
from mlops.monitoring import drift as rules
from mlops.params import MonitoringParams
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
    lines = [f"drift: {summary['status']} ({summary['rows']} predictions in the window)"]
    lines += [f"  - {reason}" for reason in summary["reasons"]]
    return lines


def _input_drift(
    params: MonitoringParams,
    contract: Contract,
    current: pd.DataFrame,
    concept: dict[str, Any],
    quality: dict[str, Any],
    reference_path: Path,
    model: tuple[Path, Path],
    out_dir: Path,
) -> dict[str, Any]:
    """Enough rows: the Evidently report and our quality checks against the reference, and the verdict.

    Columns null in every row of the window are named in `quality` and left out of the Evidently call
    (there is no distribution to compare, and Evidently fails on them).
    """
    features = contract.features()
    numeric, categorical = contract.numeric(features), contract.categorical(features)
    reference = rules.sample(read_table(reference_path), params.sample_cap, params.seed)
    reference = reference.reset_index(drop=True)
    scorer, model_label = _reference_model(*model)
    from mlops.modeling import input_columns

    reference["probability"] = scorer.predict_proba(reference[input_columns(contract)])[:, 1]
    cur = current.reset_index(drop=True).copy()
    for col in numeric:
        values = cur[col] if col in cur else pd.Series(index=cur.index, dtype=float)
        cur[col] = pd.to_numeric(values, errors="coerce").astype(float)
    for col in categorical:
        cur[col] = (cur[col] if col in cur else pd.Series(index=cur.index, dtype=object)).astype("object")
    all_null = rules.all_null_columns(reference, cur, features)
    empty = {c["column"] for c in all_null}
    quality = {
        **quality,
        "all_null": all_null,
        "constant": rules.constant_columns(reference, cur, numeric),
        "vanished_categories": rules.vanished_categories(reference, cur, categorical),
    }
    from mlops.adapters.evidently import drift_report

    result = drift_report(
        reference,
        cur,
        numeric=[c for c in numeric if c not in empty],
        categorical=[c for c in categorical if c not in empty],
        prediction="probability",
        drift_share=params.drift_share,
        column_threshold=params.column_threshold,
        prediction_threshold=params.prediction_threshold,
        html=out_dir / "drift.html",
    )
    columns = [
        {
            "column": c.column,
            "score": rules.finite(c.score),
            "threshold": c.threshold,
            "drifted": c.drifted,
            "method": c.method,
        }
        for c in result.columns
    ]
    pred = result.prediction
    prediction = (
        {"score": rules.finite(pred.score), "threshold": pred.threshold, "drifted": pred.drifted}
        if pred
        else None
    )
    summary = rules.verdict(
        len(current),
        params,
        columns,
        result.drifted_share,
        prediction,
        rules.missing_checks(reference, cur, features, params.max_missing_increase),
        rules.unseen_categories(reference, cur, categorical),
        concept,
        quality,
    )
    summary["reference"] = {"rows": len(reference), "file": str(reference_path), "model": model_label}
    return summary


def run(
    params: Path,
    contract: Path,
    log_dir: Path,
    reference: Path,
    model: Path,
    metrics: Path,
    production: Path,
    out: Path,
    now: dt.datetime | None = None,
) -> int:
    config, data_contract = load_checked(params, contract)
    section, threshold = config.monitoring, config.project.threshold
    if not log_dir.is_dir():
        raise InputError(f"prediction log folder not found: {log_dir}")
    now = now or dt.datetime.now(dt.UTC)
    records, smoke = rules.production_traffic(read_records(log_dir))
    frame = rules.log_frame(records)
    stamps = rules.timestamp_check(frame, section.window_hours, now)
    current, duplicates = rules.deduplicate(rules.window(frame, section.window_hours, now))
    current = current.tail(section.sample_cap)
    feedback = read_records(log_dir, FEEDBACK_PREFIX)
    # What the label join left out (ambiguous ids, labels for no logged prediction): shown, not alarmed.
    labels = rules.label_join(current, feedback)
    quality: dict[str, Any] = {
        "timestamps": stamps,
        "duplicates": duplicates,
        "labels": labels,
        "smoke_excluded": smoke,  # a deploy's own smoke requests: in the log, not production traffic
    }
    baseline = read_json(metrics)
    concept = rules.concept_check(rules.labelled(current, feedback), baseline, threshold, section)
    out.mkdir(parents=True, exist_ok=True)
    if len(current) < section.min_rows:
        summary = rules.insufficient(len(current), section, concept, quality)
        if concept.get("drift"):  # too few rows for input drift, but enough labels to see the relation move
            summary["status"] = "drift"
            summary["reasons"].append(rules.concept_reason(concept))
    else:
        models = (production, model)
        summary = _input_drift(section, data_contract, current, concept, quality, reference, models, out)
    summary["window"] = {"hours": section.window_hours, "end": now.isoformat()}
    write_text(json.dumps(summary, indent=2, default=str) + "\n", out / "drift.json")
    stream = sys.stdout if summary["status"] != "drift" else sys.stderr
    print("\n".join(_summary_lines(summary)), file=stream)
    return rules.EXIT_DRIFT if summary["status"] == "drift" else 0


def issue_body(summary: dict[str, Any], run_url: str | None) -> str:
    """The body of the ONE drift issue the drift workflow keeps up to date."""
    lines = [
        "<!-- mlops-drift-issue -->",
        f"## Drift in production: {summary['status']}",
        "",
        f"{summary['rows']} predictions in the last {summary['window']['hours']:g} h "
        f"(up to {summary['window']['end']}).",
        "",
        *[f"- {reason}" for reason in summary["reasons"]],
        "",
        "A retrain has been dispatched: it opens a pull request with the retrained model and its report, so",
        "promotion stays a reviewed merge.",
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
