"""pr-comment trusts nothing in the artifact: only a report, metadata and PNGs, and a numeric PR number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.cli import main
from mlops.io import InputError
from mlops.pr_artifact import MAX_REPORT_BYTES, pr_number


def artifact(tmp_path: Path, pr: object = 12, **files: str) -> Path:
    folder = tmp_path / "pr-report"
    folder.mkdir()
    (folder / "report.md").write_text("## Model report\n")
    (folder / "roc.png").write_bytes(b"\x89PNG")
    (folder / "meta.json").write_text(json.dumps({"pr": pr, "base": "abc"}))
    for name, text in files.items():
        (folder / name.replace("_", ".")).write_text(text)
    return folder


def test_a_well_formed_artifact_yields_its_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = artifact(tmp_path)
    assert pr_number(folder) == 12
    assert main(["pr-target", "--artifact", str(folder)]) == 0
    assert capsys.readouterr().out == "pr=12\n"


@pytest.mark.parametrize(
    "pr", ["12", "12\nother=1", 0, -3, 1.5, True, None, [12]], ids=lambda v: repr(v)[:12]
)
def test_a_number_that_is_not_a_positive_integer_is_refused(tmp_path: Path, pr: object) -> None:
    with pytest.raises(InputError, match="'pr' must be a positive integer"):
        pr_number(artifact(tmp_path, pr=pr))


@pytest.mark.parametrize("name", ["run_sh", "report_html", "Roc_png", "_hidden_png"])
def test_unexpected_files_are_refused_by_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match="unexpected file"):
        pr_number(artifact(tmp_path, **{name: "x"}))


def test_a_symlink_or_folder_is_refused(tmp_path: Path) -> None:
    folder = artifact(tmp_path)
    (folder / "evil.png").symlink_to("/etc/passwd")
    with pytest.raises(InputError, match=r"evil\.png is not a regular file"):
        pr_number(folder)


def test_a_missing_or_oversized_report_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = artifact(tmp_path)
    (folder / "report.md").write_text("x" * (MAX_REPORT_BYTES + 1))
    with pytest.raises(InputError, match=r"report\.md is larger"):
        pr_number(folder)
    (folder / "report.md").unlink()
    assert main(["pr-target", "--artifact", str(folder)]) == 2
    assert "report.md is missing" in capsys.readouterr().err


def test_missing_metadata_says_how_the_report_was_made(tmp_path: Path) -> None:
    folder = artifact(tmp_path)
    (folder / "meta.json").unlink()
    with pytest.raises(InputError, match="run without --pr"):
        pr_number(folder)


def test_the_number_must_be_the_pull_request_of_the_runs_head_commit(tmp_path: Path) -> None:
    folder = artifact(tmp_path, pr=12)
    assert pr_number(folder, expected=12) == 12
    with pytest.raises(InputError, match="names pull request 12; the run belongs to 13"):
        pr_number(folder, expected=13)
    assert main(["pr-target", "--artifact", str(folder), "--expect-pr", ""]) == 2  # no PR for that commit


@pytest.mark.parametrize(
    "markdown",
    ["![x](/etc/passwd)", "![x](../secret.png)", "![x](./other.png)", '<img src="/proc/self/environ">'],
)
def test_images_outside_the_artifact_are_refused(tmp_path: Path, markdown: str) -> None:
    folder = artifact(tmp_path)
    (folder / "report.md").write_text(f"## Model report\n\n![ROC](./roc.png)\n{markdown}\n")
    with pytest.raises(InputError, match="image"):
        pr_number(folder)


def test_the_pr_comment_step_checks_the_artifact_against_the_head_commit(tmp_path: Path) -> None:
    """`make pr-comment-target` as pr-comment runs it, with a fake `gh` that knows one open PR."""
    import shutil
    import subprocess

    from tests.conftest import ROOT, tool_env

    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    for name in ("uv.lock", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    folder = artifact(tmp_path, pr=12)
    assert folder.name == "pr-report"
    gh = tmp_path / "gh"
    gh.write_text('#!/bin/sh\necho "$@" > gh.args\necho 13\n')  # GitHub says: the head commit is PR 13's
    gh.chmod(0o755)
    env = {**tool_env(), "MAKEFLAGS": "--assume-old=.venv/.synced", "REPOSITORY": "acme/churn"}

    def target(head: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "-s", "pr-comment-target", f"GH={gh}"],
            cwd=tmp_path,
            env={**env, "HEAD_SHA": head},
            capture_output=True,
            text=True,
            check=False,
        )

    refused = target("a" * 40)
    assert refused.returncode == 2 and "names pull request 12; the run belongs to 13" in refused.stderr
    assert "--search " + "a" * 40 in (tmp_path / "gh.args").read_text()
    gh.write_text("#!/bin/sh\necho 12\n")
    accepted = target("b" * 40)
    assert (accepted.returncode, accepted.stdout) == (0, "pr=12\n"), accepted.stderr
    assert target("$(id)").returncode == 2  # not a SHA: refused before anything runs
