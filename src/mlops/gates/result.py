"""The outcome of a gate check, the overall verdict, and the checklist written to reports/gates.{json,md}."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Op = Literal[">=", "<="]


@dataclass(frozen=True)
class GateResult:
    """One check: its value against its threshold, and one line saying why it passed or failed."""

    gate: str
    check: str
    passed: bool
    value: float | None
    threshold: float | None
    op: Op | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.gate}/{self.check}"


def bounded(
    gate: str, check: str, value: float, threshold: float, op: Op, what: str, **details: Any
) -> GateResult:
    """A check of `value op threshold`; NaN never passes (an undefined metric is not a good one)."""
    if math.isnan(value):
        reason = f"{what}: undefined (the model returned non-finite scores), limit {op} {threshold:.4g}"
        return GateResult(gate, check, False, None, threshold, op, reason, details)
    ok = value >= threshold if op == ">=" else value <= threshold
    reason = f"{what}: {value:.4g} is {'within' if ok else 'outside'} the limit {op} {threshold:.4g}"
    return GateResult(gate, check, ok, round(float(value), 6), threshold, op, reason, details)


def note(gate: str, check: str, passed: bool, reason: str, **details: Any) -> GateResult:
    """A check without a number (not applicable, or could not be evaluated)."""
    return GateResult(gate, check, passed, None, None, None, reason, details)


def report(results: list[GateResult], disabled: list[str]) -> dict[str, Any]:
    failed = [r.name for r in results if not r.passed]
    return {
        "passed": not failed,
        "failed": failed,
        "disabled": disabled,
        "results": [asdict(r) for r in results],
    }


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


CHECKLIST_HEAD = ["| | gate | check | value | threshold | reason |", "|---|---|---|---|---|---|"]


def checklist_row(r: dict[str, Any]) -> str:
    """One check as a markdown table row (reports/gates.md and the pull-request report)."""
    mark = "✅" if r["passed"] else "❌"
    limit = f"{r['op']} {_fmt(r['threshold'])}" if r["op"] else "—"
    reason = str(r["reason"]).replace("|", "\\|").replace("\n", " ")
    return f"| {mark} | {r['gate']} | {r['check']} | {_fmt(r['value'])} | {limit} | {reason} |"


def markdown(data: dict[str, Any]) -> str:
    """The checklist: one row per check with value, threshold, verdict and reason."""
    n_failed, n_total = len(data["failed"]), len(data["results"])
    head = "PASSED" if data["passed"] else f"FAILED ({n_failed} of {n_total} checks)"
    lines = [
        f"## Model gates: {head}",
        "",
        *CHECKLIST_HEAD,
    ]
    lines += [checklist_row(r) for r in data["results"]]
    if data["disabled"]:
        lines += ["", "Disabled in params.yaml: " + ", ".join(data["disabled"])]
    return "\n".join(lines) + "\n"
