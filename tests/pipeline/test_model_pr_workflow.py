"""The model-pr workflow's job, run here: its `run:` steps, read from the workflow file, in order.

GitHub cannot be reached from these machines, so the job's own steps run against a temporary clone whose
`main` holds a reproduced pipeline and whose `pr` branch carries the change under review. `uses:` steps
are what the test provides itself (the clone, the venv, an empty DVC cache restore, the artifact check).
`if:` conditions follow GitHub's rules for the ones the workflow uses; an unknown condition or expression
fails the test, so the workflow cannot grow a step this test silently ignores.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mlops.generate import generate
from tests.conftest import GIT, ROOT, commit_all, run, tool_env
from tests.pipeline.conftest import set_param

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dvc-pipeline")]

WORKFLOW = ROOT / ".github" / "workflows" / "model-pr.yml"
PR_NUMBER = 42
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class JobRun:
    repo: Path
    outcomes: list[tuple[str, str]]  # (step name, success | failure | skipped | provided)
    logs: str

    @property
    def failed(self) -> bool:
        return any(outcome == "failure" for _, outcome in self.outcomes)

    def outcome(self, fragment: str) -> str:
        return next(o for name, o in self.outcomes if fragment in name)

    @property
    def report(self) -> str:
        return (self.repo / "reports/pr/report.md").read_text()


def job() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (only,) = workflow["jobs"].values()
    return only


def should_run(condition: str | None, failed: bool) -> bool:
    """GitHub's step conditions, for the forms the workflow uses (anything else fails the test)."""
    if condition is None:
        return not failed
    expr = EXPRESSION.sub(r"\1", condition).strip()
    known = {"!cancelled()": True, "always()": True, "success()": not failed, "failure()": failed}
    assert expr in known, f"model-pr.yml: step condition {condition!r} is not simulated by this test"
    return known[expr]


def substitute(value: str, context: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        assert match.group(1) in context, f"model-pr.yml: expression {match.group(0)} is not simulated"
        return context[match.group(1)]

    return EXPRESSION.sub(one, str(value))


def run_job(repo: Path, base_sha: str) -> JobRun:
    context = {
        "github.event.pull_request.base.sha": base_sha,
        "github.event.pull_request.head.sha": run(["git", "rev-parse", "HEAD"], repo).stdout.strip(),
        "github.event.pull_request.number": str(PR_NUMBER),
    }
    env = tool_env()
    # The clone shares this checkout's venv (the setup action's job); never re-sync it from the clone.
    env["MAKEFLAGS"] = "--assume-old=.venv/.synced"
    failed, outcomes, logs = False, [], []
    for step in job()["steps"]:
        name = step.get("name") or step.get("uses", "")
        if "uses" in step:
            outcomes.append((name, "provided"))
            continue
        if not should_run(step.get("if"), failed):
            outcomes.append((name, "skipped"))
            continue
        step_env = {**env, **{k: substitute(v, context) for k, v in (step.get("env") or {}).items()}}
        assert "${{" not in step["run"], f"{name}: an expression inside run: (pass it through env:)"
        proc = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=repo,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        logs.append(f"== {name} (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}")
        outcomes.append((name, "success" if proc.returncode == 0 else "failure"))
        failed = failed or proc.returncode != 0
    return JobRun(repo, outcomes, "\n".join(logs))


def upload_path() -> str:
    upload = next(s for s in job()["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload.get("if") == "${{ !cancelled() }}", "the report must be uploaded when a gate failed"
    return str(upload["with"]["path"])


@pytest.fixture
def pull_request(fork: Path) -> tuple[Path, str]:
    """The fork as a repository whose `main` is the reproduced pipeline, checked out on a `pr` branch."""
    (fork / ".venv").symlink_to(ROOT / ".venv")
    commit_all(fork, "main: reproduced pipeline")
    run([*GIT, "branch", "-M", "main"], fork)
    base_sha = run(["git", "rev-parse", "HEAD"], fork).stdout.strip()
    run([*GIT, "checkout", "-qb", "pr"], fork)
    return fork, base_sha


def artifact_checks(result: JobRun) -> None:
    """The uploaded folder is what pr-comment accepts, and it names this pull request."""
    artifact = result.repo / upload_path()
    proc = run(["mlops", "pr-target", "--artifact", str(artifact)], result.repo)
    assert proc.stdout.strip() == f"pr={PR_NUMBER}"


def test_a_param_change_shows_its_diff_and_the_signed_metric_changes(pull_request: tuple[Path, str]) -> None:
    repo, base_sha = pull_request
    set_param(repo, "learning_rate: 0.05", "learning_rate: 0.1")
    commit_all(repo, "pr: faster learning rate")

    result = run_job(repo, base_sha)

    assert not result.failed, result.logs
    report = result.report
    assert "## Model report: ✅ All" in report
    assert "| `train.hist_gradient_boosting.learning_rate` | 0.05 | 0.1 |" in report
    old = json.loads(run(["git", "show", f"{base_sha}:reports/metrics.json"], repo).stdout)
    new = json.loads((repo / "reports/metrics.json").read_text())
    assert new["roc_auc"] != old["roc_auc"]
    for metric in ("roc_auc", "pr_auc", "f1", "recall", "log_loss"):
        diff = new[metric] - old[metric]
        better = diff < 0 if metric == "log_loss" else diff > 0
        mark = "⚪\ufe0f" if abs(diff) < 5e-7 else ("🟢" if better else "🔴")
        sign = "+" if diff >= 0 else "-"
        row = f"| {metric} | {old[metric]:.4g} | {new[metric]:.4g} | {mark} {sign}"
        assert row in report, f"{row!r} not in the report:\n{report}"
    assert len(re.findall(r"!\[[^]]+\]\(\./[a-z-]+\.png\)", report)) == 5
    artifact_checks(result)

    # The report as GitHub would show it: tables and every image actually rendered in headless Chromium.
    preview = run(
        ["mlops", "report-preview", "--report", "reports/pr/report.md", "--png", "reports/preview.png"], repo
    )
    tables, images = map(int, re.findall(r"(\d+) tables, (\d+) images", preview.stdout)[0])
    assert tables >= 6 and images == 5, preview.stdout
    assert (repo / "reports/preview.png").stat().st_size > 50_000


def test_corrupted_data_fails_the_job_at_validation_and_the_report_names_the_expectation(
    pull_request: tuple[Path, str],
) -> None:
    repo, base_sha = pull_request
    bad = generate(50_000, seed=99)
    bad.loc[7, "tenure_months"] = 999
    bad.to_csv(repo / "extract.csv", index=False)
    set_param(repo, "source: synthetic", "source: extract.csv")
    commit_all(repo, "pr: a new extract")

    result = run_job(repo, base_sha)

    assert result.failed
    assert result.outcome("Reproduce") == "failure"
    assert result.outcome("Build the comparison report") == "success", result.logs
    assert "failed to reproduce 'validate'" in result.logs
    report = result.report
    assert "## Model report: ❌ Data validation failed: 1 of" in report
    assert "| `expect_column_values_to_be_between` | `tenure_months` |" in report
    assert "| `validate` | ❌ did not complete |" in report
    # Nothing downstream is passed off as this branch's: main's metrics and gates are not shown.
    assert "| `train` | ⏭️ not run" in report
    assert "The gates did not run on this candidate" in report
    assert "Not computed: `evaluate` did not run on this branch." in report
    artifact_checks(result)


def test_a_model_that_fails_a_gate_fails_the_job_and_the_checklist_shows_it(
    pull_request: tuple[Path, str],
) -> None:
    repo, base_sha = pull_request
    set_param(repo, "max_iter: 200", "max_iter: 4")  # four boosting rounds: scores hug the base rate
    commit_all(repo, "pr: a much smaller model")

    result = run_job(repo, base_sha)

    assert result.failed
    assert result.outcome("Reproduce") == "failure"
    assert "failed to reproduce 'gate'" in result.logs
    gates = json.loads((repo / "reports/gates.json").read_text())
    assert gates["passed"] is False and gates["failed"]
    report = result.report
    assert f"❌ {len(gates['failed'])} of {len(gates['results'])} gate checks failed" in report
    failed_table = report.split("failed:**", 1)[1].split("<details>", 1)[0]
    for name in gates["failed"]:
        gate, check = name.split("/", 1)
        assert f"| ❌ | {gate} | {check} |" in failed_table, name
    # The metrics of the failed candidate are reported (evaluate did complete), with their drop.
    assert "| roc_auc |" in report and "🔴 -" in report
    artifact_checks(result)
    assert (repo / "reports/pr/roc.png").is_file()
