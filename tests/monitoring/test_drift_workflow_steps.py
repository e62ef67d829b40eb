"""The drift workflow's make steps on real logs: `make drift-ci` prints the verdict for $GITHUB_OUTPUT and
fails only on errors; `make drift-issue` creates the ONE drift issue, then edits it (fake `gh`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, tool_env
from tests.monitoring.conftest import World
from tests.world import WORLD_CONTRACT, WORLD_PARAMS

pytestmark = pytest.mark.xdist_group("monitoring")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with the project's Makefile and dvc.yaml (its paths), the test world's params and contract
    (whatever a fork did to its own), sharing the venv."""
    for name in ("Makefile", "dvc.yaml", "uv.lock", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copy2(WORLD_PARAMS, tmp_path / "params.yaml")
    (tmp_path / "data").mkdir()
    shutil.copy2(WORLD_CONTRACT, tmp_path / "data" / "contract.yaml")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


def make(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**tool_env(), "MAKEFLAGS": "--assume-old=.venv/.synced", **env}
    full.pop("MLOPS_PREDICTION_LOG_URL", None)
    return subprocess.run(
        ["make", "-s", *args], cwd=workdir, env=full, capture_output=True, text=True, check=False, timeout=300
    )


def drift_args(world: World) -> str:
    return (
        f"--reference {world.reference} --model {world.model_path} --holdout {world.holdout} "
        f"--production {world.root / 'none.yaml'}"
    )


def test_drift_ci_prints_the_verdict_and_fails_only_on_errors(world: World, workdir: Path) -> None:
    calm = world.log("ci-calm", rows=1500, seed=301)
    shifted = world.log("ci-shifted", rows=1500, seed=302, shift="covariate")
    degrading = world.log("ci-concept", rows=1500, seed=304, shift="concept", labels=True)
    out = make(workdir, "drift-ci", f"LOG_DIR={calm}", f"DRIFT_ARGS={drift_args(world)}")
    assert (out.returncode, out.stdout) == (0, "drift=false\nretrain=false\n"), out.stderr
    out = make(workdir, "drift-ci", f"LOG_DIR={shifted}", f"DRIFT_ARGS={drift_args(world)}")
    # Green on drift; moved inputs update the issue, only a degrading model dispatches the retrain.
    assert (out.returncode, out.stdout) == (0, "drift=true\nretrain=false\n"), out.stderr
    out = make(workdir, "drift-ci", f"LOG_DIR={degrading}", f"DRIFT_ARGS={drift_args(world)}")
    assert (out.returncode, out.stdout) == (0, "drift=true\nretrain=true\n"), out.stderr
    assert (workdir / "reports" / "drift" / "drift.html").exists()
    # No log configured anywhere: nothing to judge, said so, green (not a daily red job on a new template).
    out = make(workdir, "drift-ci", f"LOG_DIR={world.root / 'missing'}", f"DRIFT_ARGS={drift_args(world)}")
    assert (out.returncode, out.stdout) == (0, "drift=false\nretrain=false\n")
    assert "MLOPS_PREDICTION_LOG_URL" in out.stderr
    broken = world.root / "broken-log"
    broken.mkdir()
    (broken / "predictions-1.jsonl").write_text('not json\n{"request_id": "a"}\n')
    out = make(workdir, "drift-ci", f"LOG_DIR={broken}", f"DRIFT_ARGS={drift_args(world)}")
    assert out.returncode != 0 and "drift=" not in out.stdout  # red on errors, with the reason
    assert "predictions-1.jsonl:1: not a JSON record" in out.stderr


def test_drift_issue_creates_one_issue_then_updates_it(world: World, workdir: Path) -> None:
    shifted = world.log("issue-shifted", rows=1500, seed=303, shift="covariate")
    verdict = make(workdir, "drift-ci", f"LOG_DIR={shifted}", f"DRIFT_ARGS={drift_args(world)}")
    assert verdict.stdout == "drift=true\nretrain=false\n"
    calls, state = workdir / "gh.log", workdir / "gh.state"
    gh = workdir / "gh"
    gh.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {calls}\n'
        f'if [ "$1 $2" = "issue list" ]; then cat {state} 2>/dev/null; fi\n'
        f'if [ "$1 $2" = "issue create" ]; then echo \'[{{"number":7}}]\' > {state}; fi\n'
    )
    gh.chmod(0o755)
    for _ in range(2):
        out = make(workdir, "drift-issue", f"GH={gh}", "RUN_URL=https://example.invalid/run/1")
        assert out.returncode == 0, out.stdout + out.stderr
    assert make(workdir, "dispatch-retrain", f"GH={gh}").returncode == 0
    lines = calls.read_text().splitlines()
    assert [" ".join(line.split()[:2]) for line in lines] == [
        "label create",  # the label may not exist in a new repository
        "issue list",
        "issue create",
        "label create",
        "issue list",
        "issue edit",
        "workflow run",
    ]
    assert lines[6] == "workflow run retrain.yml"
    assert lines[5].startswith("issue edit 7 --body-file reports/drift/issue.md")
    body = (workdir / "reports" / "drift" / "issue.md").read_text()
    assert "## Drift in production: the inputs moved, the model is not shown to degrade" in body
    assert "monthly_charges" in body and "No retrain was dispatched" in body
    assert "| estimated, 1500 rows (CBPE) |" in body  # the harm numbers, estimated without labels
