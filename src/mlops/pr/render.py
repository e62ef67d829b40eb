"""The pull-request report as pure functions: facts in (diffs, gate and validation reports), markdown out.

`mlops report` (pr/gather.py) gathers the facts from git, DVC and the reports; everything here is plain
data to text, so what a reviewer reads is unit-tested without a pipeline run. The markdown is written for
GitHub's renderer: tables, emoji verdicts and collapsible <details> blocks for the long parts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mlops.gates.result import CHECKLIST_HEAD, checklist_row

WATERMARK = "<!-- mlops-model-pr-report -->"
# Metrics where a smaller value is the better model; holdout size and threshold are settings, not scores.
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})
NEUTRAL = frozenset({"holdout_rows", "threshold"})
FOLD_PARAMS_OVER = 12  # a long params diff (a new params section) is folded so the verdicts stay in view
METRIC_ORDER = ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier")
SLICE_COLUMNS = (
    ("count", "rows"),
    ("positive_rate", "positive rate"),
    ("selection_rate", "flagged"),
    ("true_positive_rate", "TPR"),
    ("false_positive_rate", "FPR"),
    ("roc_auc", "ROC AUC"),
)


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report says. A section whose stage did not run on this branch is None, not stale."""

    base: str  # label of the base revision, e.g. "main @ 1a2b3c4"
    candidate: str  # label of the candidate revision
    stages: list[str]  # pipeline stages in dvc.yaml order
    not_reproduced: list[str]  # stages that did not complete on this branch (and everything after them)
    params: dict[str, dict[str, Any]]  # `dvc params diff`, flattened
    metrics: dict[str, dict[str, Any]] | None  # `dvc metrics diff --all`, flattened
    gates: dict[str, Any] | None  # reports/gates.json of this candidate
    validation: dict[str, Any] | None  # reports/validation.json of this branch's data
    slices: dict[str, Any] | None  # reports/slices.json
    plots: list[tuple[str, str]] = field(default_factory=list)  # (title, image file next to report.md)
    lineage: list[tuple[str, str]] = field(default_factory=list)


MAX_CELL = 300  # characters: a long data value must not push the comment over GitHub's limit
MAX_REPORT = 58_000  # characters; GitHub refuses comment bodies over 65,536 (mlops pr-target checks 60,000)


def cell(value: Any) -> str:
    """A markdown table cell: pipes escaped, newlines flattened, long values cut."""
    text = str(value).replace("\n", " ")
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return text.replace("|", "\\|")


def fmt(value: Any) -> str:
    """Numbers to 4 significant digits (integers as-is); None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4g}"
    return f"`{cell(value)}`"


def change(metric: str, diff: float | None) -> str:
    """A signed change with its verdict: 🟢 better, 🔴 worse, ⚪ unchanged or not a score."""
    if diff is None or (isinstance(diff, float) and math.isnan(diff)):
        return "—"
    # Four decimals read well; a change too small for them keeps its size visible instead of "+0.0000".
    text = f"{diff:+.4f}" if abs(diff) >= 5e-5 or diff == 0 else f"{diff:+.1e}"
    if abs(diff) < 5e-7 or metric in NEUTRAL:
        return f"⚪\ufe0f {text}"
    better = (diff < 0) if metric in LOWER_IS_BETTER else (diff > 0)
    return f"{'🟢' if better else '🔴'} {text}"


def headline(inputs: ReportInputs) -> str:
    """One line a reviewer can act on: the first thing that went wrong, or that everything passed."""
    gates, validation = inputs.gates, inputs.validation
    if validation is not None and not validation["success"]:
        broke, total = validation["failed"], validation["evaluated"]
        return f"❌ Data validation failed: {broke} of {total} expectations broke"
    if gates is not None and not gates["passed"]:
        names = ", ".join(f"`{name}`" for name in gates["failed"])
        return f"❌ {len(gates['failed'])} of {len(gates['results'])} gate checks failed: {names}"
    if inputs.not_reproduced:
        return f"⚠️ The pipeline did not complete: stage `{inputs.not_reproduced[0]}` did not finish"
    if gates is None:
        return "⚠️ No gate results for this candidate"
    return f"✅ All {len(gates['results'])} gate checks passed"


def pipeline_section(inputs: ReportInputs) -> list[str]:
    if not inputs.not_reproduced:
        return [f"Every stage reproduced: {' → '.join(inputs.stages)}."]
    first = inputs.not_reproduced[0]
    rows = ["| stage | status |", "|---|---|"]
    for stage in inputs.stages:
        status = (
            "❌ did not complete"
            if stage == first
            else "⏭️ not run (depends on a stage that did not complete)"
            if stage in inputs.not_reproduced
            else "✅ reproduced"
        )
        rows.append(f"| `{stage}` | {status} |")
    return rows


def gates_section(gates: dict[str, Any] | None) -> list[str]:
    """The checklist: failed checks first and always visible, passed checks folded away."""
    if gates is None:
        return ["The gates did not run on this candidate (an earlier stage did not complete)."]
    results = gates["results"]
    failed = [r for r in results if not r["passed"]]
    passed = [r for r in results if r["passed"]]
    head, row = CHECKLIST_HEAD, checklist_row  # the same rows as reports/gates.md

    lines: list[str] = []
    if failed:
        lines += [f"**{len(failed)} failed:**", "", *head, *(row(r) for r in failed), ""]
    lines += [
        "<details><summary>"
        + f"{len(passed)} of {len(results)} checks passed (click to expand)"
        + "</summary>",
        "",
        *head,
        *(row(r) for r in passed),
        "",
        "</details>",
    ]
    if gates.get("disabled"):
        lines += ["", "Disabled in params.yaml: " + ", ".join(f"`{g}`" for g in gates["disabled"])]
    return lines


def champion_section(gates: dict[str, Any] | None) -> list[str]:
    """The candidate against what production runs, from the champion gate (paired bootstrap, holdout)."""
    if gates is None:
        return ["Not compared: the gates did not run."]
    rows = [r for r in gates["results"] if r["gate"] == "champion"]
    if not rows:
        return ["The champion gate is disabled in params.yaml."]
    lines = []
    for r in rows:
        mark = "✅" if r["passed"] else "❌"
        lines.append(f"{mark} {cell(r['reason'])}")
        details = r.get("details") or {}
        if r["value"] is not None and "ci_low" in details:
            lines += [
                "",
                f"| metric | candidate − champion | {details.get('champion', 'champion')} CI | tolerance |",
                "|---|---|---|---|",
                f"| {r['check']} | {r['value']:+.4f} | [{details['ci_low']:+.4f}, {details['ci_high']:+.4f}] "
                f"| {fmt(r['threshold'])} |",
            ]
    return lines


def params_section(params: dict[str, dict[str, Any]]) -> list[str]:
    if not params:
        return ["No parameter changed."]
    lines = ["| param | base | candidate |", "|---|---|---|"]
    for key in sorted(params):
        lines.append(f"| `{key}` | {fmt(params[key].get('old'))} | {fmt(params[key].get('new'))} |")
    if len(params) > FOLD_PARAMS_OVER:
        return [f"<details><summary>{len(params)} params changed</summary>", "", *lines, "", "</details>"]
    return lines


def _metric_order(names: Iterable[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(METRIC_ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def metrics_section(metrics: dict[str, dict[str, Any]] | None) -> list[str]:
    if metrics is None:
        return ["Not computed: `evaluate` did not run on this branch."]
    if not metrics:
        return ["No metrics found in the base or the candidate."]
    lines = ["| metric | base | candidate | change |", "|---|---|---|---|"]
    for name in _metric_order(metrics):
        m = metrics[name]
        diff = m.get("diff")
        if diff is None and isinstance(m.get("old"), int | float) and isinstance(m.get("new"), int | float):
            diff = m["new"] - m["old"]
        lines.append(f"| {name} | {fmt(m.get('old'))} | {fmt(m.get('new'))} | {change(name, diff)} |")
    return lines


def validation_section(validation: dict[str, Any] | None) -> list[str]:
    if validation is None:
        return ["Not run: `ingest` did not complete."]
    summary = (
        f"{fmt(validation['rows'])} rows, {len(validation['columns'])} columns: "
        f"{validation['evaluated'] - validation['failed']} of {validation['evaluated']} expectations met."
    )
    if validation["success"]:
        return [f"✅ {summary}"]
    lines = [
        f"❌ {summary}",
        "",
        "| expectation | column | rule | what broke | examples |",
        "|---|---|---|---|---|",
    ]
    for check in validation["checks"]:
        if check["success"]:
            continue
        broke = check.get("error") or (
            f"{check['unexpected_count']} of the rows ({check['unexpected_percent']:.3g} %) unexpected"
            if check.get("unexpected_count") is not None and check.get("unexpected_percent") is not None
            else f"observed {check.get('observed')}"
        )
        examples = ", ".join(cell(e) for e in (check.get("examples") or [])[:5]) or "—"
        lines.append(
            f"| `{check['expectation']}` | {fmt(check['column']) if check['column'] else '(table)'} "
            f"| {cell(check['rule']) or '—'} | {cell(broke)} | {examples} |"
        )
    return lines


def fairness_section(slices: dict[str, Any] | None, gates: dict[str, Any] | None) -> list[str]:
    """Fairness gate verdicts, then per-group metrics for each sensitive attribute (folded)."""
    if slices is None:
        return ["Not computed: `evaluate` did not run on this branch."]
    lines: list[str] = []
    checks = [r for r in (gates or {}).get("results", []) if r["gate"] == "fairness"]
    if checks:
        lines += ["| | check | value | limit |", "|---|---|---|---|"]
        for r in checks:
            limit = f"{r['op']} {fmt(r['threshold'])}" if r["op"] else "—"
            mark = "✅" if r["passed"] else "❌"
            lines.append(f"| {mark} | {cell(r['check'])} | {fmt(r['value'])} | {cell(limit)} |")
        lines.append("")
    for attribute, groups in slices.items():
        lines += [
            f"<details><summary>Per-group metrics by <code>{cell(attribute)}</code></summary>",
            "",
            "| group | " + " | ".join(label for _, label in SLICE_COLUMNS) + " |",
            "|---" * (len(SLICE_COLUMNS) + 1) + "|",
        ]
        for group, values in groups.items():
            lines.append(
                f"| {cell(group)} | " + " | ".join(fmt(values.get(key)) for key, _ in SLICE_COLUMNS) + " |"
            )
        lines += ["", "</details>"]
    return lines


def plots_section(plots: list[tuple[str, str]], base: str) -> list[str]:
    if not plots:
        return ["No plots: `evaluate` did not run on this branch."]
    lines = [f"Each chart overlays the base ({cell(base)}) and this candidate.", "", "| | |", "|---|---|"]
    # Two charts per row: images in table cells are scaled to the column, so the grid stays compact.
    for i in range(0, len(plots), 2):
        pair = [f"![{cell(title)}](./{file})" for title, file in plots[i : i + 2]]
        lines.append("| " + " | ".join(pair + [""] * (2 - len(pair))) + " |")
    return lines


def lineage_section(lineage: list[tuple[str, str]]) -> list[str]:
    return ["| | |", "|---|---|", *(f"| {cell(k)} | {v} |" for k, v in lineage)]


def build(inputs: ReportInputs) -> str:
    """The whole report. The watermark comment lets a later run find and replace this comment."""
    sections: list[tuple[str, list[str]]] = [
        ("Pipeline", pipeline_section(inputs)),
        ("Gate checklist", gates_section(inputs.gates)),
        ("Against the production champion", champion_section(inputs.gates)),
        ("Parameters changed", params_section(inputs.params)),
        (f"Metrics against {inputs.base}", metrics_section(inputs.metrics)),
        ("Data validation", validation_section(inputs.validation)),
        ("Fairness and slices", fairness_section(inputs.slices, inputs.gates)),
        ("Plots", plots_section(inputs.plots, inputs.base)),
        ("Lineage", lineage_section(inputs.lineage)),
    ]
    lines = [
        WATERMARK,
        f"## Model report: {headline(inputs)}",
        "",
        f"Candidate {inputs.candidate} against base {inputs.base}.",
    ]
    for title, body in sections:
        lines += ["", f"### {title}", "", *body]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_REPORT:  # cut at a line, and say so: the JSON reports of the run hold everything
        cut = text.rfind("\n", 0, MAX_REPORT)
        text = text[:cut] + "\n\n…truncated to fit a comment; the run's reports/*.json hold the rest.\n"
    return text
