"""The deploy workflow's git steps, run for real on a throwaway repository and a bare "GitHub" remote:
`make production-changed` (does this push change what production runs?) and `make revert-production`
(a failed production smoke test reverts the merge that changed it and pushes the revert)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import GIT, ROOT

pytestmark = pytest.mark.xdist_group("workflows")


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def make(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = ["make", "--no-print-directory", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    remote, work = tmp_path / "github.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    shutil.copy(ROOT / "Makefile", work / "Makefile")
    (work / "deploy").mkdir()
    (work / "deploy" / "production.yaml").write_text("model: A\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "production runs A")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    return work, remote


def test_a_merged_promotion_is_detected_and_a_failed_one_is_reverted_and_pushed(
    repo: tuple[Path, Path],
) -> None:
    work, remote = repo
    (work / "README").write_text("docs\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "docs only")
    assert make(work, "production-changed").stdout.strip() == "changed=false"

    git(work, "switch", "-qc", "promote/production")
    (work / "deploy" / "production.yaml").write_text("model: B\n")
    git(work, "commit", "-qam", "Promote B")
    git(work, "switch", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "-m", "Merge the promotion of B", "promote/production")
    assert make(work, "production-changed").stdout.strip() == "changed=true"

    proc = make(work, "revert-production", f"PUSH_URL={remote}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(work, "--git-dir", str(remote), "show", "main:deploy/production.yaml") == "model: A"
    assert git(work, "--git-dir", str(remote), "log", "-1", "--format=%s", "main").startswith("Revert")
