"""The PR report's text, from plain facts: verdict lines, signed changes, failures first, nothing stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops.pr import render
from mlops.pr.gather import not_reproduced, relabel, slug
from mlops.pr.render import ReportInputs, build, change, headline

STAGES = ["ingest", "validate", "split", "train", "evaluate", "gate"]
EDGES = [
    ("ingest", "validate"),
    ("ingest", "split"),
    ("validate", "split"),
    ("split", "train"),
    ("split", "evaluate"),
    ("split", "gate"),
    ("train", "evaluate"),
    ("train", "gate"),
    ("evaluate", "gate"),
]


def gate_row(
    gate: str, check: str, passed: bool, value: float = 0.5, threshold: float = 0.7
) -> dict[str, Any]:
    return {
        "gate": gate,
        "check": check,
        "passed": passed,
        "value": value,
        "threshold": threshold,
        "op": ">=",
        "reason": f"{check} {'ok' if passed else 'too low'} | piped",
        "details": {},
    }


def gates(*rows: dict[str, Any]) -> dict[str, Any]:
    failed = [f"{r['gate']}/{r['check']}" for r in rows if not r["passed"]]
    return {"model_md5": "abc", "passed": not failed, "failed": failed, "disabled": [], "results": list(rows)}


def validation(success: bool = True) -> dict[str, Any]:
    broken = {
        "expectation": "expect_column_values_to_be_between",
        "column": "tenure_months",
        "rule": "min_value=0, max_value=120",
        "reason": "values in range",
        "success": False,
        "observed": None,
        "unexpected_count": 1,
        "unexpected_percent": 0.002,
        "examples": [999],
        "error": None,
    }
    return {
        "success": success,
        "rows": 50_000,
        "columns": ["a", "b"],
        "evaluated": 46,
        "failed": 0 if success else 1,
        "checks": [] if success else [broken],
    }


def inputs(**overrides: Any) -> ReportInputs:
    base: dict[str, Any] = {
        "base": "main @ 1a2b3c4",
        "candidate": "`9f8e7d6`",
        "stages": STAGES,
        "not_reproduced": [],
        "params": {},
        "metrics": {"roc_auc": {"old": 0.77, "new": 0.78, "diff": 0.01}},
        "gates": gates(gate_row("performance", "roc_auc", True, 0.78, 0.72)),
        "validation": validation(),
        "slices": {"gender": {"female": {"count": 10, "roc_auc": 0.8}}},
        "plots": [("ROC", "roc.png")],
        "lineage": [("model md5", "`abc`")],
    }
    return ReportInputs(**{**base, **overrides})


@pytest.mark.parametrize(
    ("metric", "diff", "expected"),
    [
        ("roc_auc", 0.0123, "🟢 +0.0123"),
        ("roc_auc", -0.0213, "🔴 -0.0213"),
        ("log_loss", -0.01, "🟢 -0.0100"),  # lower loss is better
        ("brier", 0.02, "🔴 +0.0200"),
        ("roc_auc", 0.0, "⚪\ufe0f +0.0000"),
        ("brier", 0.00004, "🔴 +4.0e-05"),  # too small for four decimals, still shown
        ("threshold", 0.1, "⚪\ufe0f +0.1000"),  # a setting, not a score
        ("roc_auc", None, "—"),
    ],
)
def test_a_change_carries_its_sign_and_whether_it_is_better(
    metric: str, diff: float | None, expected: str
) -> None:
    assert change(metric, diff) == expected


def test_the_headline_names_the_first_thing_that_went_wrong() -> None:
    assert headline(inputs()) == "✅ All 1 gate checks passed"
    failed_gates = gates(gate_row("performance", "recall", False), gate_row("fairness", "dpd", True))
    assert headline(inputs(gates=failed_gates)) == "❌ 1 of 2 gate checks failed: `performance/recall`"
    assert headline(inputs(validation=validation(False), gates=None)) == (
        "❌ Data validation failed: 1 of 46 expectations broke"
    )
    stopped = inputs(not_reproduced=["train", "evaluate", "gate"], gates=None, metrics=None)
    assert headline(stopped) == "⚠️ The pipeline did not complete: stage `train` did not finish"


def test_failed_gates_come_first_and_passed_ones_are_folded() -> None:
    mixed = gates(gate_row("performance", "roc_auc", True), gate_row("fairness", "x", False))
    text = build(inputs(gates=mixed))
    failed_block = text.split("**1 failed:**", 1)[1].split("<details>", 1)[0]
    assert "| ❌ | fairness | x | 0.5 | >= 0.7 | x too low \\| piped |" in failed_block
    assert "performance" not in failed_block
    assert "<details><summary>1 of 2 checks passed" in text


def test_a_failed_validation_names_expectation_column_and_examples() -> None:
    text = "\n".join(render.validation_section(validation(False)))
    assert "❌ 50,000 rows, 2 columns: 45 of 46 expectations met." in text
    assert (
        "| `expect_column_values_to_be_between` | `tenure_months` | min_value=0, max_value=120 "
        "| 1 of the rows (0.002 %) unexpected | 999 |"
    ) in text


def test_sections_of_stages_that_did_not_run_say_so_instead_of_showing_old_files() -> None:
    text = build(
        inputs(
            not_reproduced=["validate", "split", "train", "evaluate", "gate"],
            validation=validation(False),
            gates=None,
            metrics=None,
            slices=None,
            plots=[],
        )
    )
    assert "| `validate` | ❌ did not complete |" in text
    assert "| `gate` | ⏭️ not run (depends on a stage that did not complete) |" in text
    assert "The gates did not run on this candidate" in text
    assert "Not computed: `evaluate` did not run on this branch." in text
    assert "No plots" in text and "roc.png" not in text


def test_params_metrics_plots_and_lineage_are_tables() -> None:
    params = {"train.lr": {"old": 0.05, "new": 0.1}, "train.new_knob": {"old": None, "new": "x"}}
    text = build(inputs(params=params))
    assert "| `train.lr` | 0.05 | 0.1 |" in text
    assert "| `train.new_knob` | — | `x` |" in text
    assert "| roc_auc | 0.77 | 0.78 | 🟢 +0.0100 |" in text
    assert "| ![ROC](./roc.png) |  |" in text
    assert "| model md5 | `abc` |" in text
    assert text.startswith(render.WATERMARK)


def test_a_long_params_diff_is_folded() -> None:
    params = {f"gates.k{i}": {"old": None, "new": i} for i in range(render.FOLD_PARAMS_OVER + 1)}
    lines = render.params_section(params)
    assert lines[0] == f"<details><summary>{len(params)} params changed</summary>"


def test_metrics_follow_a_fixed_reading_order() -> None:
    metrics = {name: {"old": 1.0, "new": 1.0, "diff": 0.0} for name in ("brier", "zeta", "roc_auc", "f1")}
    rows = [line.split("|")[1].strip() for line in render.metrics_section(metrics)[2:]]
    assert rows == ["roc_auc", "f1", "brier", "zeta"]


def test_everything_downstream_of_a_changed_stage_counts_as_not_reproduced() -> None:
    assert not_reproduced(STAGES, EDGES, set()) == []
    assert not_reproduced(STAGES, EDGES, {"validate"}) == ["validate", "split", "train", "evaluate", "gate"]
    assert not_reproduced(STAGES, EDGES, {"train"}) == ["train", "evaluate", "gate"]
    assert not_reproduced(STAGES, EDGES, {"gate"}) == ["gate"]


def test_plot_revisions_are_relabelled_for_readers() -> None:
    spec = {
        "data": {"values": [{"x": 1, "rev": "workspace"}, {"x": 2, "rev": "1a2b3c"}]},
        "encoding": {"color": {"field": "rev", "scale": {"domain": ["workspace", "1a2b3c"]}}},
    }
    out = relabel(spec, {"workspace": "candidate", "1a2b3c": "base"})
    assert [v["rev"] for v in out["data"]["values"]] == ["candidate", "base"]
    assert out["encoding"]["color"]["scale"]["domain"] == ["candidate", "base"]
    assert slug("Feature importance") == "feature-importance"
    assert slug("Precision-Recall") == "precision-recall"


def test_a_huge_report_stays_within_a_comment_and_pr_target_accepts_it(tmp_path: Path) -> None:
    import json

    from mlops.pr.artifact import pr_number

    long_value = "x" * 5000
    params = {f"p{i}": {"old": long_value, "new": long_value} for i in range(400)}
    text = build(inputs(params=params))
    assert len(text) <= render.MAX_REPORT + 200 and "truncated to fit a comment" in text
    assert "x" * (render.MAX_CELL + 1) not in text
    folder = tmp_path / "pr-report"
    folder.mkdir()
    (folder / "report.md").write_text(text)
    (folder / "roc.png").write_bytes(b"\x89PNG")
    (folder / "meta.json").write_text(json.dumps({"pr": 3}))
    assert pr_number(folder) == 3


def test_plot_file_names_are_short_and_unique() -> None:
    taken: set[str] = set()
    names = [slug("A" * 100, taken), slug("A" * 100, taken), slug("ROC", taken)]
    assert names == ["a" * 48, "a" * 48 + "-2", "roc"]
