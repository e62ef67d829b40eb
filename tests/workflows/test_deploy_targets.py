"""The deploy workflow's git steps, run for real on a throwaway repository and a bare "GitHub" remote:
`mlops production-plan` (does this run deploy production?) and `make revert-production` (only a failed
production smoke test reverts the change of deploy/production.yaml, and never a revert)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mlops.deploy.local import EXIT_SMOKE_FAILED
from mlops.deploy.promotion import changed_since, production_plan
from mlops.deploy.records import DeployedModel, EnvRecord
from tests.conftest import GIT, ROOT

pytestmark = pytest.mark.xdist_group("workflows")
MODEL = DeployedModel(path="models/model.joblib", md5="a" * 32, commit="b" * 40)


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def make(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = ["make", "--no-print-directory", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False)


def commit(work: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (work / name).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-qm", message)
    return git(work, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    remote, work = tmp_path / "github.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    shutil.copy(ROOT / "Makefile", work / "Makefile")
    shutil.copy(ROOT / "dvc.yaml", work / "dvc.yaml")  # the paths (deploy_state, production) the revert reads
    (work / "deploy").mkdir()
    commit(work, "production runs A", {"deploy/production.yaml": "model: A\n"})
    (work / ".gitignore").write_text("/.deploy\n/.venv\n")
    (work / ".venv").symlink_to(ROOT / ".venv")  # `mlops revert-production` (no uv sync: no $(STAMP))
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    return work, remote


def merge_promotion(work: Path, number: int, record: str) -> None:
    """A promotion PR merged on main as GitHub's merge button does (a merge commit)."""
    git(work, "switch", "-qc", "promote/production")
    commit(work, "Promote B", {"deploy/production.yaml": record})
    git(work, "switch", "-q", "main")
    message = f"Merge pull request #{number} from promote/production"
    git(work, "merge", "-q", "--no-ff", "-m", message, "promote/production")


def smoke_exit(work: Path, code: int) -> None:
    (work / ".deploy" / "production").mkdir(parents=True, exist_ok=True)
    (work / ".deploy" / "production" / "deploy.exit").write_text(f"{code}\n")


def test_only_a_failed_smoke_test_reverts_the_production_change_and_a_revert_is_never_reverted(
    repo: tuple[Path, Path],
) -> None:
    work, remote = repo
    merge_promotion(work, 3, "model: B\n")
    commit(
        work, "docs in the same push", {"README": "docs\n"}
    )  # the production change is not the last commit
    git(work, "push", "-q", "origin", "main")

    smoke_exit(work, 2)  # the deploy could not even start (no model bytes): not the record's fault
    refused = make(work, "revert-production", f"PUSH_URL={remote}")
    assert refused.returncode != 0 and "nothing reverted" in refused.stderr
    assert git(work, "--git-dir", str(remote), "show", "main:deploy/production.yaml") == "model: B"

    smoke_exit(work, EXIT_SMOKE_FAILED)
    proc = make(work, "revert-production", f"PUSH_URL={remote}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(work, "--git-dir", str(remote), "show", "main:deploy/production.yaml") == "model: A"
    assert git(work, "--git-dir", str(remote), "show", "main:README") == "docs"  # only the promotion undone
    reverted = git(work, "--git-dir", str(remote), "log", "-1", "--format=%s", "main")
    assert reverted == 'Revert "Merge pull request #3 from promote/production"'

    # The revert's push deploys A; if A's smoke test fails too, nothing is reverted again (no loop).
    again = make(work, "revert-production", f"PUSH_URL={remote}")
    assert again.returncode != 0 and "never reverted" in again.stderr
    assert git(work, "--git-dir", str(remote), "log", "-1", "--format=%s", "main") == reverted


def test_the_plan_deploys_a_changed_record_or_a_redeploy_and_never_an_empty_record() -> None:
    record = EnvRecord(environment="production", model=MODEL)
    assert production_plan("push", True, record)[0]
    assert production_plan("workflow_dispatch", False, record)[0]
    assert not production_plan("push", False, record)[0]
    empty = EnvRecord(environment="production")
    deploy, reason = production_plan("push", True, empty)
    assert not deploy and "nothing to deploy" in reason


def test_every_commit_of_a_push_counts_not_only_the_last(
    repo: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    work, _ = repo
    before = git(work, "rev-parse", "HEAD")
    commit(work, "promote B", {"deploy/production.yaml": "model: B\n"})
    commit(work, "docs", {"README": "docs\n"})
    monkeypatch.chdir(work)
    path = Path("deploy/production.yaml")
    assert changed_since(before, path)  # HEAD^..HEAD alone would say no
    assert not changed_since(git(work, "rev-parse", "HEAD^"), path)
    assert not changed_since("0" * 40, path)  # unknown before (new branch): HEAD^..HEAD


def test_when_main_refuses_the_push_a_revert_pr_and_an_issue_are_opened(repo: tuple[Path, Path]) -> None:
    work, remote = repo
    merge_promotion(work, 4, "model: B\n")
    git(work, "push", "-q", "origin", "main")
    hook = remote / "hooks" / "pre-receive"  # branch protection: nobody pushes to main directly
    hook.write_text('#!/bin/sh\nwhile read old new ref; do [ "$ref" != refs/heads/main ] || exit 1; done\n')
    hook.chmod(0o755)
    gh_log, gh = work.parent / "gh.log", work.parent / "gh"
    gh.write_text(f'#!/bin/sh\necho "$@" >> {gh_log}\n')
    gh.chmod(0o755)
    smoke_exit(work, EXIT_SMOKE_FAILED)

    proc = make(work, "revert-production", f"PUSH_URL={remote}", f"GH={gh}")

    assert proc.returncode != 0 and "a revert PR and an issue are open" in proc.stderr
    calls = gh_log.read_text().splitlines()
    assert calls[0].startswith("pr create --base main --head revert/production-")
    assert calls[1].startswith("issue create --title Production smoke test failed")
    branch = calls[0].split("--head ")[1].split()[0]
    assert git(work, "--git-dir", str(remote), "show", f"{branch}:deploy/production.yaml") == "model: A"
    assert git(work, "--git-dir", str(remote), "show", "main:deploy/production.yaml") == "model: B"
