"""drift.yml and retrain.yml, executed by act on a fresh checkout (schedule and workflow_dispatch events).

The production prediction log reaches the runner as it does on GitHub: through the MLOPS_PREDICTION_LOG_URL
secret (here a file:// URL of a log written by the serving runtime's own code path).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.contract import load_contract
from tests.monitoring.conftest import World as Logs
from tests.workflows.act.world import BOT_TOKEN, World

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("act")]


def logs(world: World, seed: Path) -> Logs:
    """Prediction logs scored by the seed's own model (the one main's pipeline trained)."""
    root = world.root / "logs"
    root.mkdir(exist_ok=True)
    contract = load_contract(seed / "data" / "contract.yaml")
    return Logs(
        root,
        seed / "models" / "model.joblib",
        seed / "data" / "processed" / "train.parquet",
        seed / "data" / "processed" / "test.parquet",
        contract,
    )


def test_drift_without_a_log_is_green_with_a_notice_and_runs_no_pipeline(world: World) -> None:
    run = world.act("drift.yml", "schedule", world.plain_event(schedule="17 5 * * *"))

    assert run.jobs == {"drift": "success"}, run.log
    assert any("MLOPS_PREDICTION_LOG_URL" in notice for notice in run.notices), run.notices
    assert run.step("Fetch the production prediction log") == "success"
    for step in ("Restore the DVC cache", "Reproduce the pipeline", "Drift of the production prediction log"):
        assert run.step(step) == "skipped", step  # nothing trained or judged without a log
    assert world.state["issues"] == [] and world.state["dispatches"] == []


def test_moved_inputs_open_the_issue_and_only_a_degrading_model_dispatches_retrain(
    pipeline_world: World, reproduced_seed: Path
) -> None:
    world = pipeline_world
    made = logs(world, reproduced_seed)
    moved = made.log("shifted", rows=1500, seed=302, shift="covariate")  # no labels: harm estimated
    degrading = made.log("degrading", rows=1500, seed=303, shift="concept", labels=True)

    first = world.act(
        "drift.yml", "schedule", world.plain_event(schedule="17 5 * * *"),
        secrets={"MLOPS_PREDICTION_LOG_URL": f"file://{moved}"},
    )  # fmt: skip
    assert world.state["dispatches"] == []  # the inputs moved, the model is not shown to degrade
    second = world.act(
        "drift.yml", "workflow_dispatch", world.plain_event(inputs={}),
        secrets={"MLOPS_PREDICTION_LOG_URL": f"file://{degrading}"},
    )  # fmt: skip

    for run in (first, second):
        assert run.jobs == {"drift": "success"}, run.log  # drift is news, not a failure
        assert run.step("Restore the DVC cache") == "success"
        assert run.step("Open or update the drift issue") == "success"
        assert (world.artifact(run, "drift-report") / "drift.html").is_file()
    assert first.step("Dispatch the retrain workflow") == "skipped"
    assert second.step("Dispatch the retrain workflow") == "success"
    (issue,) = world.state["issues"]  # ONE issue, updated by the second run
    assert issue["labels"] == ["drift"] and issue["edits"] == 1
    assert "the model is degrading" in issue["body"] and "/actions/runs/" in issue["body"]
    assert world.state["dispatches"] == [{"workflow": "retrain.yml", "ref": "main"}]


def test_retrain_turns_the_labelled_log_into_one_pull_request(
    pipeline_world: World, reproduced_seed: Path
) -> None:
    world = pipeline_world
    labelled = logs(world, reproduced_seed).log("labelled", rows=6000, seed=5, shift="both", labels=True)
    secrets = {"MLOPS_PREDICTION_LOG_URL": f"file://{labelled}", "BOT_TOKEN": BOT_TOKEN}
    # An earlier retrain's PR, merged; and a fork's open PR from a branch of the same name. Neither is
    # this retrain's PR: `gh pr edit retrain/production` would edit the merged one and open nothing.
    world.commit("retrain/production", "an earlier retrain", lambda d: (d / "old.txt").write_text("1\n"))
    world.merge_pr(world.open_pr("retrain/production", title="Retrain on recent production data"))
    world.commit("mallory", "fork: same branch name", lambda d: (d / "x.txt").write_text("x\n"))
    fork_pr = world.open_pr("mallory", fork=True)
    data = world.state
    next(p for p in data["pulls"] if p["number"] == fork_pr)["headRefName"] = "retrain/production"
    world.write_state(data)

    run = world.act("retrain.yml", "workflow_dispatch", world.plain_event(inputs={}), secrets=secrets)

    assert run.jobs == {"retrain": "success"}, run.log
    (pr,) = [p for p in world.pulls("open") if not p.get("fork")]  # a NEW pull request
    assert pr["number"] > fork_pr and not any(p.get("edits") for p in world.pulls())
    assert (pr["headRefName"], pr["baseRefName"]) == ("retrain/production", "main")
    assert pr["author"] == "bot"  # opened with BOT_TOKEN, so GitHub would start model-pr on it
    head = world.sha("refs/heads/retrain/production")
    changed = world.git("--git-dir", str(world.bare), "diff", "--name-only", "main", head, cwd=world.root)
    assert {"params.yaml", "dvc.lock", "data/extract/labelled.parquet.dvc"} <= set(changed.split())
