"""deploy.yml, executed by act: a push to main deploys staging and opens ONE promotion PR; merging it
deploys production on a fresh runner (its own DVC cache empty: the pipeline rebuilds bit for bit and the
recorded md5 is checked); workflow_dispatch redeploys production's record. Real `bentoml serve` on
loopback ports of this world (MLOPS_PORT_BASE), stopped at the end of each job.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port_base
from tests.workflows.act.world import ActRun, World

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("act")]


def port_base() -> str:
    """A free block of loopback ports for this world's servers (staging base, production base + 100)."""
    return str(free_port_base())


def deploy(world: World, event: str, payload: dict, ports: str) -> ActRun:  # type: ignore[type-arg]
    """The recommended set-up: a GitHub App (variable BOT_APP_ID, secret BOT_APP_PRIVATE_KEY)."""
    return world.act(
        "deploy.yml",
        event,
        payload,
        secrets={"BOT_APP_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----"},
        variables={"BOT_APP_ID": "123456"},
        env={"MLOPS_PORT_BASE": ports},
    )


def record(world: World, env: str, ref: str = "refs/heads/main") -> dict:  # type: ignore[type-arg]
    text = world.git("--git-dir", str(world.bare), "show", f"{ref}:deploy/{env}.yaml", cwd=world.root)
    return yaml.safe_load(text)


def test_a_push_deploys_staging_opens_one_promotion_and_its_merge_deploys_production(
    pipeline_world: World,
) -> None:
    world, ports = pipeline_world, port_base()
    before = world.sha("refs/heads/main")
    after = world.commit("main", "docs: a change on main", lambda d: (d / "NOTES.md").write_text("hi\n"))

    staged = deploy(world, "push", world.push_event(before, after), ports)

    assert staged.jobs.get("staging") == "success", staged.log[-6000:]
    assert staged.jobs.get("plan") == "success" and "production" not in staged.jobs  # nobody asked to approve
    assert any("did not change deploy/production.yaml" in n for n in staged.notices), staged.notices
    (promotion,) = world.pulls("open")
    assert promotion["headRefName"] == "promote/production" and promotion["author"] == "bot"  # the App's
    assert any("as the GitHub App" in n for n in staged.notices)
    promoted = record(world, "production", "refs/heads/promote/production")
    assert promoted["model"]["md5"] and promoted["environment"] == "production"
    text = world.git(
        "--git-dir",
        str(world.bare),
        "show",
        "refs/heads/promote/production:deploy/production.yaml",
        cwd=world.root,
    )
    assert text.startswith("# What production runs. Git is the source of truth")  # its comments kept
    builds = [c for c in world.docker_calls() if c[:1] == ["build"]]
    assert len(builds) == 1  # one package, one image per staging run
    image = f"ghcr.io/{world.repository}@sha256:"
    assert promoted["image"].startswith(image)  # by digest: production runs the very image staging tested

    # The merge, on a fresh runner whose DVC cache is empty: the pipeline rebuilds, the md5 is checked.
    shutil.rmtree(world.root / "cache")
    (world.root / "cache").mkdir()
    merged_before = world.sha("refs/heads/main")
    merge = world.merge_pr(promotion["number"])
    produced = deploy(world, "push", world.push_event(merged_before, merge), ports)

    assert produced.jobs.get("production") == "success", produced.log[-8000:]
    assert "smoke passed" in produced.log
    assert promoted["model"]["md5"] in produced.log
    assert not any(p["headRefName"].startswith("revert") for p in world.pulls())
    assert world.git(
        "--git-dir", str(world.bare), "log", "-1", "--format=%s", "main", cwd=world.root
    ).startswith("Merge pull request")  # nothing reverted

    # By hand: production's record redeployed, no staging run.
    again = deploy(world, "workflow_dispatch", world.plain_event(inputs={}), ports)
    assert again.jobs.get("production") == "success" and "staging" not in again.jobs, again.log[-6000:]
    assert any("redeploy by hand" in n for n in again.notices)

    # The next model after the first promotion was merged: a NEW promotion PR (not an edit of the merged one).
    def faster(repo: Path) -> None:
        params = repo / "params.yaml"
        params.write_text(params.read_text().replace("learning_rate: 0.05", "learning_rate: 0.1"))

    tip = world.sha("refs/heads/main")
    retrained = deploy(world, "push", world.push_event(tip, world.commit("main", "faster", faster)), ports)
    assert retrained.jobs.get("staging") == "success", retrained.log[-6000:]
    (second,) = world.pulls("open")
    assert second["number"] > promotion["number"] and not any(p.get("edits") for p in world.pulls())
    assert (
        record(world, "production", "refs/heads/promote/production")["model"]["md5"]
        != promoted["model"]["md5"]
    )
    world.git(
        "--git-dir", str(world.bare), "update-ref", "-d", "refs/heads/promote/production", cwd=world.root
    )
    data = world.state
    next(p for p in data["pulls"] if p["number"] == second["number"])["state"] = "closed"
    world.write_state(data)  # closed unmerged: production stays on the first promotion

    # A production change whose smoke test fails (here: an impossible latency budget in the same commit):
    # exactly one revert, pushed; the revert's own push deploys the previous record and reverts nothing.
    served = record(world, "production")
    good_commit = world.sha("refs/heads/main")

    def impossible(repo: Path) -> None:
        params = repo / "params.yaml"
        params.write_text(params.read_text().replace("smoke_p95_ms: 250.0", "smoke_p95_ms: 0.0001"))
        path = repo / "deploy" / "production.yaml"
        path.write_text(path.read_text().replace(served["model"]["commit"], good_commit))

    broken = world.commit("main", "production: a change that fails its smoke test", impossible)
    failed = deploy(world, "push", world.push_event(good_commit, broken), ports)

    assert failed.jobs.get("production") == "failure"
    assert failed.step("The smoke test failed - revert") == "success", failed.log[-6000:]
    revert = world.sha("refs/heads/main")
    subject = world.git("--git-dir", str(world.bare), "log", "-1", "--format=%s", revert, cwd=world.root)
    assert subject == 'Revert "production: a change that fails its smoke test"'

    redeployed = deploy(world, "push", world.push_event(broken, revert), ports)
    assert redeployed.jobs.get("production") == "success", redeployed.log[-6000:]
    assert world.sha("refs/heads/main") == revert  # nothing reverted this time
    assert record(world, "production") == served
