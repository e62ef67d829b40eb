"""model-pr.yml and pr-comment.yml, executed by act on a fresh checkout of a pull request's merge commit.

The job restores an earlier main run's DVC cache (actions/cache), reproduces the pipeline, runs the gates,
builds the report against the base commit and uploads it, also when a gate or the data gate failed. Then
pr-comment (workflow_run) posts that artifact as ONE comment, updated on the next run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops.generate import generate
from tests.conftest import tool_env
from tests.workflows.act.world import ActRun, World

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("act")]


def set_param(old: str, new: str) -> Callable[[Path], None]:
    """An edit of params.yaml that keeps its comments and fails loudly if the anchor is not there."""

    def edit(repo: Path) -> None:
        path = repo / "params.yaml"
        text = path.read_text()
        assert old in text, f"{old!r} not in params.yaml"
        path.write_text(text.replace(old, new, 1))

    return edit


def model_pr(world: World, number: int, fork: str | None = None) -> ActRun:
    event = world.pull_request_event(number, fork_repo=fork)
    return world.act("model-pr.yml", "pull_request", event, ref=f"refs/pull/{number}/merge")


def pr_comment(world: World, run_id: int, head: str, branch: str) -> ActRun:
    return world.act("pr-comment.yml", "workflow_run", world.workflow_run_event(run_id, head, branch))


def report_of(world: World, run: ActRun) -> str:
    return (world.artifact(run, "model-pr-report") / "report.md").read_text()


def artifact_checks(world: World, run: ActRun, number: int) -> None:
    """The uploaded folder is what pr-comment accepts, and it names this pull request."""
    proc = subprocess.run(
        ["mlops", "pr-target", "--artifact", str(world.artifact(run, "model-pr-report"))],
        capture_output=True,
        text=True,
        check=False,
        env=tool_env(),
    )
    assert proc.stdout.strip() == f"pr={number}", proc.stderr


def test_a_param_change_shows_its_diff_and_the_signed_metric_changes(pipeline_world: World) -> None:
    world = pipeline_world
    world.commit("faster", "pr: faster learning rate", set_param("learning_rate: 0.05", "learning_rate: 0.1"))
    number = world.open_pr("faster")

    run = model_pr(world, number)

    assert run.jobs == {"model": "success"}, run.log
    assert run.step("Restore the DVC cache") == "success"
    assert "Cache restored from key: dvc-cache-seed" in run.log  # main's outputs: only train onwards reran
    assert "Running stage 'ingest'" not in run.log and "Running stage 'train'" in run.log
    report = report_of(world, run)
    assert "## Model report: ✅ All" in report
    assert "| `train.hist_gradient_boosting.learning_rate` | 0.05 | 0.1 |" in report
    base = world.sha("refs/heads/main")
    old = json.loads(
        world.git("--git-dir", str(world.bare), "show", f"{base}:reports/metrics.json", cwd=world.root)
    )
    new = json.loads((run.workspace() / "reports/metrics.json").read_text())
    assert new["roc_auc"] != old["roc_auc"]
    for metric in ("roc_auc", "pr_auc", "f1", "recall", "log_loss"):
        diff = new[metric] - old[metric]
        better = diff < 0 if metric == "log_loss" else diff > 0
        mark = "⚪\ufe0f" if abs(diff) < 5e-7 else ("🟢" if better else "🔴")
        sign = "+" if diff >= 0 else "-"
        row = f"| {metric} | {old[metric]:.4g} | {new[metric]:.4g} | {mark} {sign}"
        assert row in report, f"{row!r} not in the report:\n{report}"
    assert len(re.findall(r"!\[[^]]+\]\(\./[a-z-]+\.png\)", report)) == 5
    artifact_checks(world, run, number)

    # The report as GitHub would show it: tables and every image actually rendered in headless Chromium
    # (in a copy: the preview writes its HTML beside the report, and pr-comment reads the artifact next).
    copy = shutil.copytree(world.artifact(run, "model-pr-report"), world.root / "preview")
    preview = subprocess.run(
        [
            "mlops",
            "report-preview",
            "--report",
            str(copy / "report.md"),
            "--png",
            str(world.root / "preview.png"),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=tool_env(),
    )
    tables, images = map(int, re.findall(r"(\d+) tables, (\d+) images", preview.stdout)[0])
    assert tables >= 6 and images == 5, preview.stdout
    assert (world.root / "preview.png").stat().st_size > 50_000

    # pr-comment, twice for the same run (a re-run): ONE comment, updated; only the artifact's PNGs published.
    head = world.sha(f"refs/pull/{number}/head")
    for _ in range(2):
        posted = pr_comment(world, run.run_id, head, "faster")
        assert posted.jobs == {"comment": "success"}, posted.log
    (pr,) = world.pulls("open")
    (comment,) = pr["comments"]
    assert comment["updates"] == 1
    assert "## Model report: ✅ All" in comment["body"] and "https://asset.cml.dev/" in comment["body"]
    published = [Path(p["path"]) for p in world.published()]
    assert len(published) == 10 and {p.suffix for p in published} == {".png"}  # 5 images, twice
    assert {p.parent.name for p in published} == {"pr-comment"}  # the staging folder, nothing else


def test_a_forks_corrupted_data_fails_the_job_at_validation_and_the_report_names_the_expectation(
    pipeline_world: World,
) -> None:
    world = pipeline_world

    def new_extract(repo: Path) -> None:
        bad = generate(50_000, seed=99)
        bad.loc[7, "tenure_months"] = 999
        bad.to_csv(repo / "data" / "extract" / "extract.csv", index=False)  # where ingest.source may point
        set_param("source: synthetic", "source: data/extract/extract.csv")(repo)

    world.commit("extract", "pr: a new extract", new_extract)
    number = world.open_pr("extract", fork=True)  # from a fork: its branch exists only as refs/pull/N/head

    run = model_pr(world, number, fork="mallory/model")

    assert run.jobs == {"model": "failure"}
    assert run.step("Reproduce the pipeline") == "failure"
    assert run.step("Build the comparison report") == "success", run.log
    assert run.step("Upload the report") == "success"
    assert "failed to reproduce 'validate'" in run.log
    report = report_of(world, run)
    assert "## Model report: ❌ Data validation failed: 1 of" in report
    assert "| `expect_column_values_to_be_between` | `tenure_months` |" in report
    assert "| `validate` | ❌ did not complete |" in report
    # Nothing downstream is passed off as this branch's: main's metrics and gates are not shown.
    assert "| `train` | ⏭️ not run" in report
    assert "The gates did not run on this candidate" in report
    assert "Not computed: `evaluate` did not run on this branch." in report
    artifact_checks(world, run, number)


def test_a_model_that_fails_a_gate_fails_the_job_and_the_checklist_shows_it(pipeline_world: World) -> None:
    world = pipeline_world
    world.commit("tiny", "pr: a much smaller model", set_param("max_iter: 200", "max_iter: 4"))
    number = world.open_pr("tiny")

    run = model_pr(world, number)

    assert run.jobs == {"model": "failure"}
    assert run.step("Reproduce the pipeline") == "failure"
    assert "failed to reproduce 'gate'" in run.log
    gates = json.loads((run.workspace() / "reports/gates.json").read_text())
    assert gates["passed"] is False and gates["failed"]
    report = report_of(world, run)
    assert f"❌ {len(gates['failed'])} of {len(gates['results'])} gate checks failed" in report
    failed_table = report.split("failed:**", 1)[1].split("<details>", 1)[0]
    for name in gates["failed"]:
        gate, check = name.split("/", 1)
        assert f"| ❌ | {gate} | {check} |" in failed_table, name
    # The metrics of the failed candidate are reported (evaluate did complete), with their drop.
    assert "| roc_auc |" in report and "🔴 -" in report
    artifact_checks(world, run, number)
    assert (world.artifact(run, "model-pr-report") / "roc.png").is_file()
