"""`mlops promotion-report`: the body of the promotion pull request (staging -> production).

What a reviewer needs to merge a promotion: which model staging runs (lineage), that it passed its smoke
test there (golden answers, latency), and how it compares with what production runs now (the champion
gate's paired bootstrap on the holdout, from reports/gates.json, plus the holdout metrics). Pure text from
plain data; the command gathers the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.deploy.records import EnvRecord, env_file, read_record
from mlops.io import write_text
from mlops.pr.render import cell, fmt

WATERMARK = "<!-- mlops-promotion-report -->"


def build(
    staging: EnvRecord,
    production: EnvRecord,
    smoke: dict[str, Any] | None,
    gates: dict[str, Any] | None,
    metrics: dict[str, Any] | None,
) -> str:
    assert staging.model is not None
    lines = [WATERMARK, f"## Promote {staging.model.label} to production", ""]
    was = production.model.label if production.model else "nothing yet (first promotion)"
    lines += [
        "| | staging (candidate) | production (now) |",
        "|---|---|---|",
        f"| model md5 | `{staging.model.md5}` | {f'`{production.model.md5}`' if production.model else '—'} |",
        f"| built at commit | `{staging.model.commit[:12]}` | "
        + (f"`{production.model.commit[:12]}` |" if production.model else "— |"),
        f"| image | {fmt(staging.image) if staging.image else '—'} | "
        + (f"{fmt(production.image)} |" if production.image else "— |"),
        "",
        f"Production runs {was}. Merging this pull request deploys the candidate to production (behind",
        "the `production` environment's required reviewers), smoke-tests it there, and reverts this merge",
        "if that smoke test fails.",
        "",
        "### Staging smoke test",
        "",
    ]
    if smoke is None:
        lines.append("⚠️ No smoke result recorded for staging.")
    else:
        mark = "✅ passed" if smoke["passed"] else "❌ FAILED"
        lines.append(
            f"{mark}: golden requests answered by `{smoke['model_version']}`, "
            f"p95 {smoke['p95_ms']} ms (budget {smoke['p95_budget_ms']:.0f} ms)."
        )
        lines += [f"- {cell(f)}" for f in smoke["failures"]]
    lines += ["", "### Against production", ""]
    champion = [r for r in (gates or {}).get("results", []) if r["gate"] == "champion"]
    if gates is None or gates.get("model_md5") != staging.model.md5:
        lines.append("⚠️ No gate report for this model in reports/gates.json.")
    else:
        verdict = "✅ all gates passed" if gates["passed"] else f"❌ failed: {', '.join(gates['failed'])}"
        lines.append(f"Gates: {verdict}.")
        lines += [f"- {'✅' if r['passed'] else '❌'} {cell(r['reason'])}" for r in champion]
    if metrics:
        keys = [k for k in ("roc_auc", "pr_auc", "f1", "precision", "recall", "brier") if k in metrics]
        lines += ["", "| holdout | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        lines.append("| candidate | " + " | ".join(fmt(metrics[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def run(out: Path, gates: Path, metrics: Path) -> int:
    """`mlops promotion-report`: gather the records, staging's last smoke test, gates and metrics."""
    staging = read_record(env_file("staging"))
    production = read_record(env_file("production"))
    if staging.model is None:
        from mlops.io import InputError

        raise InputError(f"{env_file('staging')} records no model: deploy staging first")

    def load(file: Path) -> Any:
        return json.loads(file.read_text()) if file.exists() else None

    smoke = load(paths.path("deploy_state") / "staging" / "smoke.json")
    text = build(staging, production, smoke, load(gates), load(metrics))
    write_text(text, out)
    print(f"promotion-report: {out}")
    return 0
