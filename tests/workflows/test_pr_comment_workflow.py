"""pr-comment.yml, executed by act (workflow_run) with artifacts a pull request's run could have uploaded.

The artifact is untrusted: a fork controls the workflow that made it. Nothing it names may be published,
a run whose pull request moved on is news, not a failure, and a private repository's images stay home.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.workflows.act.world import ActRun, World

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("act")]
PNG = ROOT / "docs" / "images" / "pr-report.png"
REPORT = (
    "<!-- mlops-model-pr-report -->\n## Model report: ✅ All 23 gate checks passed\n\n![ROC](./roc.png)\n"
)


def upload(world: World, run_id: int, number: int, report: str) -> Path:
    """An artifact as model-pr uploads it: report.md, meta.json and a PNG."""
    folder = world.root / "artifacts" / str(run_id) / "model-pr-report"
    folder.mkdir(parents=True)
    (folder / "report.md").write_text(report)
    (folder / "meta.json").write_text(json.dumps({"pr": number}))
    shutil.copy2(PNG, folder / "roc.png")
    return folder


def comment(world: World, run_id: int, head: str, branch: str, fork: str | None = None) -> ActRun:
    payload = world.workflow_run_event(run_id, head, branch, fork_repo=fork)
    return world.act("pr-comment.yml", "workflow_run", payload)


@pytest.mark.parametrize(
    ("attack", "named"),
    [
        ("[the log](../.git/config)", "../.git/config"),  # a link: CML uploads what links name too
        ("[see][cfg]\n\n[cfg]: ../../.git/config", "../../.git/config"),  # a link reference definition
        ("[x](https://github.com/../../../.git/config)", ".git/config"),  # path.resolve collapses the ..
        ('[r]: <https://h/a\\>/../../../../../.git/config>\n""x\n\nSee [the log][r].', ".git/config"),
        ("<img src='../.git/config'>", "img"),  # raw HTML
    ],
    ids=["link", "definition", "https-dots", "escaped-angle", "html"],
)
def test_a_forks_crafted_artifact_is_refused_and_nothing_is_published(
    world: World, attack: str, named: str
) -> None:
    world.commit("fork-branch", "fork: a change", lambda d: (d / "note.txt").write_text("hi\n"))
    number = world.open_pr("fork-branch", fork=True)
    head = world.sha(f"refs/pull/{number}/head")
    upload(world, 7001, number, f"{REPORT}\n{attack}\n")

    run = comment(world, 7001, head, "fork-branch", fork="mallory/model")

    assert run.jobs == {"comment": "failure"}
    assert run.step("Check the artifact") == "failure"
    refusal = next(line for line in run.log.splitlines() if "line 6:" in line)  # the attack's line
    assert named in refusal, run.log
    assert run.step("Create or update the one report comment") == "skipped"
    assert world.published() == [] and world.pulls("open")[0]["comments"] == []


def test_a_run_whose_pull_request_moved_on_is_green_with_a_notice_and_posts_nothing(world: World) -> None:
    old = world.commit("topic", "pr: first try", lambda d: (d / "note.txt").write_text("1\n"))
    number = world.open_pr("topic")
    upload(world, 7002, number, REPORT)
    world.commit("topic", "pr: second try", lambda d: (d / "note.txt").write_text("2\n"))  # head moved on

    run = comment(world, 7002, old, "topic")

    assert run.jobs == {"comment": "success"}, run.log
    assert any("outdated" in notice for notice in run.notices), run.notices
    assert run.step("Create or update the one report comment") == "skipped"
    assert world.pulls("open")[0]["comments"] == [] and world.published() == []


def test_a_private_repository_gets_one_comment_updated_and_uploads_no_image(world: World) -> None:
    world.private = True
    head = world.commit("topic", "pr: a change", lambda d: (d / "note.txt").write_text("1\n"))
    number = world.open_pr("topic")
    upload(world, 7003, number, REPORT)
    first = comment(world, 7003, head, "topic")
    assert first.jobs == {"comment": "success"}, first.log

    # The next push: a new model-pr run, a new head; the same ONE comment, updated with the new report.
    head = world.commit("topic", "pr: a second change", lambda d: (d / "note.txt").write_text("2\n"))
    upload(world, 7004, number, REPORT.replace("✅ All 23", "❌ 1 of 23"))
    second = comment(world, 7004, head, "topic")
    assert second.jobs == {"comment": "success"}, second.log

    (posted,) = world.pulls("open")[0]["comments"]
    assert posted["updates"] == 1 and "❌ 1 of 23" in posted["body"]
    assert "## Model report" in posted["body"] and "asset.cml.dev" not in posted["body"]
    assert f"/{world.repository}/actions/runs/7004" in posted["body"]  # the images stay in the artifact
    assert world.published() == []
    setup = [json.loads(line) for line in (world.root / "setup-cml.jsonl").read_text().splitlines()]
    assert setup == [{"version": "0.20.6", "vega": "false"}] * 2  # pinned CML, no global vega install
