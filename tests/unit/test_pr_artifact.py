"""pr-comment trusts nothing in the artifact: only a report, metadata and PNGs, and a numeric PR number.

CML 0.20.6 uploads every local file that a markdown image, link or reference definition names, resolved
against the markdown's folder (src/cml.js publishLocalFiles): report.md may name only https:// URLs and the
artifact's own PNGs, CML runs in a folder holding only those, and the repository picks how images travel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mlops.cli import main
from mlops.io import InputError
from mlops.pr.artifact import (
    MAX_REPORT_BYTES,
    ImageMode,
    image_mode,
    pr_number,
    report_problems,
    run_stage,
    without_images,
)

PNGS = {"roc.png", "pr.png"}
RUN_URL = "https://github.com/acme/churn/actions/runs/42"


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
    assert main(["pr-target", "--artifact", str(folder), "--expect-pr", "12 13"]) == 2  # not one number


def test_a_run_whose_commit_no_open_pr_has_is_stale_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The branch moved on: the newer run posts. Green, a notice, and no `pr=` for $GITHUB_OUTPUT."""
    assert main(["pr-target", "--artifact", str(tmp_path / "absent"), "--expect-pr", ""]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("::notice title=pr-comment::") and "outdated commit" in err and "not posted" in err


# --- what report.md may name ------------------------------------------------------------------------------


def problems(markdown: str) -> list[str]:
    return report_problems(f"## Model report\n\n{markdown}\n", PNGS)


@pytest.mark.parametrize(
    ("markdown", "target"),
    [
        ("[log](../.git/config)", "'../.git/config'"),  # the incident: a link, not an image
        ("[x]: ../.git/config", "reference definition '../.git/config'"),  # published even when unused
        ("<file:///etc/passwd>", "autolink 'file:///etc/passwd'"),
        ("[site](http://example.com)", "link 'http://example.com'"),
        ("[env](/proc/self/environ)", "link '/proc/self/environ'"),  # CML's own environment: its token
        ("[a](&#47;etc/passwd)", "link '/etc/passwd'"),  # entities are decoded, by remark too
        ("![x](/etc/passwd)", "image '/etc/passwd'"),
        ("![x](../secret.png)", "image '../secret.png'"),
        ("![x](./other.png)", "image './other.png'"),  # a PNG, but not one of the artifact's
        ("![x](data:image/png;base64,AAAA)", "image 'data:image/png;base64,AAAA'"),  # CML uploads these too
        ("[see](roc.png)", "link 'roc.png'"),  # only images (and definitions) may name the PNGs
        ("[x](https://github.com/../../../.git/config)", "'.' or '..' segment"),  # path.resolve(folder, url)
        ("[x](https://example.com/?q=/../../.git/config)", "'.' or '..' segment"),
    ],
)
def test_a_destination_that_is_neither_https_nor_an_own_png_is_refused(markdown: str, target: str) -> None:
    found = problems(markdown)
    assert any(target in p and p.startswith("line 3: ") for p in found), found


def test_a_second_definition_of_a_label_is_checked_too(tmp_path: Path) -> None:
    """A parser keeps the first definition of a label; CML visits every definition node."""
    found = problems("![ROC][r]\n\n[r]: roc.png\n[r]: /proc/self/environ")
    assert found == [
        "line 6: reference definition '/proc/self/environ' is neither an https:// URL nor one of the "
        "artifact's PNGs (name or ./name)"
    ]


@pytest.mark.parametrize(
    "markdown",
    [
        '<img src="roc.png">',
        '<a href="https://example.com">x</a>',
        "<details open><summary>x</summary>",
        "<!-- never closed",
        'text <span style="x">y</span>',
    ],
)
def test_raw_html_other_than_the_reports_own_folds_is_refused(markdown: str) -> None:
    found = problems(markdown)
    assert found and all(p.startswith("line 3: raw HTML") for p in found), found


@pytest.mark.parametrize(
    "markdown",
    [
        "[docs](https://example.com/a?b=c#d)",
        "<https://example.com>",
        "![badge](https://img.shields.io/badge/x.svg)",
        "| ![ROC](./roc.png) | ![PR](pr.png) |",
        "![ROC][r]\n\n[r]: ./roc.png",
        "<!-- mlops-model-pr-report -->\n<details><summary>By <code>x</code></summary>\n\n</details>",
    ],
)
def test_https_destinations_own_pngs_and_the_reports_folds_are_allowed(markdown: str) -> None:
    assert problems(markdown) == []


@pytest.mark.parametrize(
    "markdown",
    [
        "> " * 20 + "[a](/etc/passwd)",  # markdown-it stops at 20 levels; CML's parser does not
        "[" * 21 + "x" + "]" * 21 + "(/etc/passwd)",
        '[r]: /etc/passwd\n""x',  # markdown-it: a paragraph; remark 13: a definition (measured)
        "`[log](../.git/config)`",  # the raw-text belt reads code spans too: refusing text costs nothing
        # remark 13: a definition of https://h/a>/../../.git/config (the escaped > does not end it)
        '[r]: <https://h/a\\>/../../../../../.git/config>\n""x\n\nSee [the log][r].',
        "[x](https://h/a\\)/../../.git/config)",  # any backslash inside a destination
    ],
)
def test_what_the_checking_parser_might_read_differently_from_cmls_is_refused(markdown: str) -> None:
    assert problems(markdown)


def test_every_refusal_is_listed_with_its_line(tmp_path: Path) -> None:
    folder = artifact(tmp_path)
    (folder / "report.md").write_text("## R\n\n![ROC](./roc.png)\n\n[a](../.git/config)\n\n<img src=x>\n")
    with pytest.raises(InputError) as refused:
        pr_number(folder)
    assert "line 5: link '../.git/config'" in str(refused.value)
    assert "line 7: raw HTML '<img src=x>'" in str(refused.value)


# --- how images travel ------------------------------------------------------------------------------------


def test_unset_the_mode_follows_the_visibility_and_an_explicit_value_wins() -> None:
    assert image_mode("", private=True) == ImageMode("none")
    assert image_mode("", private=False) == ImageMode("public", "https://asset.cml.dev")
    assert image_mode("public", private=True).kind == "public"
    assert image_mode(" none ", private=False).kind == "none"
    assert image_mode("url:https://assets.acme.dev/cml", private=True) == ImageMode(
        "url", "https://assets.acme.dev/cml"
    )
    assert ImageMode("none").cml_flags == ["--no-publish"]
    assert image_mode("", private=False).cml_flags == ["--publish", "--publish-url=https://asset.cml.dev"]


@pytest.mark.parametrize("value", ["Public", "off", "url:http://assets.acme.dev", "url:https://a b", "url:"])
def test_an_invalid_mode_names_the_variable_and_the_choices(value: str) -> None:
    with pytest.raises(InputError, match=r"PR_REPORT_IMAGES=.* is not one of public, none or url:https://"):
        image_mode(value, private=False)


def test_none_turns_every_image_into_a_link_to_the_run() -> None:
    report = (
        "| | |\n|---|---|\n| ![ROC \\| x](./roc.png) | ![PR](pr.png) |\n\n"
        "![badge](https://img.shields.io/x.svg) and ![ROC][r]\n\n[r]: roc.png\n"
    )
    text = without_images(report, RUN_URL)
    assert "![" not in text
    assert f"| [ROC \\| x]({RUN_URL}) | [PR]({RUN_URL}) |" in text  # the table keeps its two cells
    assert f"[badge]({RUN_URL})" in text and f"[ROC]({RUN_URL})" in text
    assert text.endswith(f"[model-pr-report]({RUN_URL}).\n")
    with pytest.raises(InputError, match="run URL"):
        without_images(report, "https://github.com/acme/churn/actions/runs/")


# --- the staging folder -----------------------------------------------------------------------------------


def test_the_staging_folder_holds_report_md_and_only_the_pngs_it_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = artifact(tmp_path)
    (folder / "report.md").write_text("## R\n\n![ROC](./roc.png)\n")
    (folder / "unused.png").write_bytes(b"\x89PNG")
    out = tmp_path / "stage"
    assert run_stage(folder, out, "public", "false", "") == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "roc.png"]
    assert (out / "report.md").read_text() == (folder / "report.md").read_text()
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"dir={out}", "images=public", "publish=--publish", "publish_url=https://asset.cml.dev"]
    with pytest.raises(InputError, match="must be fresh"):
        run_stage(folder, out, "public", "false", "")

    private = tmp_path / "private"
    assert run_stage(folder, private, "", "true", RUN_URL) == 0  # unset in a private repository: none
    assert [p.name for p in private.iterdir()] == ["report.md"]
    assert "![" not in (private / "report.md").read_text()
    assert capsys.readouterr().out.splitlines()[1:] == ["images=none", "publish=--no-publish", "publish_url="]


def test_staging_refuses_what_the_check_refuses(tmp_path: Path) -> None:
    folder = artifact(tmp_path)
    (folder / "report.md").write_text("[x]: ../.git/config\n")
    with pytest.raises(InputError, match="reference definition"):
        run_stage(folder, tmp_path / "stage", "public", "false", "")
    assert not (tmp_path / "stage").exists()


# --- the make targets as pr-comment runs them -------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with the Makefile and the venv: `make -s pr-comment-*` runs there as in the workflow."""
    from tests.conftest import ROOT

    for name in ("Makefile", "uv.lock", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


def make(project: Path, target: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    from tests.conftest import tool_env

    return subprocess.run(
        ["make", "-s", target, *args],
        cwd=project,
        env={**tool_env(), "MAKEFLAGS": "--assume-old=.venv/.synced", "REPOSITORY": "acme/churn", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_pr_comment_step_checks_the_artifact_against_the_head_commit(project: Path) -> None:
    """`make pr-comment-target` with a fake `gh` that knows one open PR."""
    folder = artifact(project, pr=12)
    assert folder.name == "pr-report"
    gh = project / "gh"
    # GitHub says: the head commit is PR 13's (PR 12's head is another commit)
    listed = [{"headRefOid": "f" * 40, "number": 12}, {"headRefOid": "a" * 40, "number": 13}]
    gh.write_text(f"#!/bin/sh\necho \"$@\" > gh.args\necho '{json.dumps(listed)}'\n")  # gh pr list --json
    gh.chmod(0o755)

    refused = make(project, "pr-comment-target", f"GH={gh}", HEAD_SHA="a" * 40)
    assert refused.returncode == 2 and "names pull request 12; the run belongs to 13" in refused.stderr
    args = (project / "gh.args").read_text()
    assert "--state open" in args and "--search" not in args  # the open PRs themselves, not the search index
    listed = [{"headRefOid": "b" * 40, "number": 12}]
    gh.write_text(f"#!/bin/sh\necho '{json.dumps(listed)}'\n")
    accepted = make(project, "pr-comment-target", f"GH={gh}", HEAD_SHA="b" * 40)
    assert (accepted.returncode, accepted.stdout) == (0, "pr=12\n"), accepted.stderr
    assert make(project, "pr-comment-target", f"GH={gh}", HEAD_SHA="$(id)").returncode == 2  # not a SHA

    gh.write_text("#!/bin/sh\necho '[]'\n")  # no open PR has that head: the branch moved on
    stale = make(project, "pr-comment-target", f"GH={gh}", HEAD_SHA="c" * 40)
    assert (stale.returncode, stale.stdout) == (0, ""), stale.stderr
    assert "::notice title=pr-comment::" in stale.stderr


def test_the_stage_step_prints_only_outputs_and_fills_a_fresh_folder(project: Path) -> None:
    folder = artifact(project)
    (folder / "report.md").write_text("## R\n\n![ROC](./roc.png)\n")
    stale = project / ".run" / "pr-comment"
    stale.mkdir(parents=True)
    (stale / "old.png").write_bytes(b"x")  # a previous run's leftovers never reach CML

    env = {
        "PR_REPORT_IMAGES": "",
        "REPO_PRIVATE": "false",
        "SERVER_URL": "https://github.com",
        "RUN_ID": "42",
    }
    staged = make(project, "pr-comment-stage", **env)
    assert staged.returncode == 0, staged.stderr
    outputs = dict(line.split("=", 1) for line in staged.stdout.splitlines())
    assert outputs == {
        "dir": ".run/pr-comment",
        "images": "public",
        "publish": "--publish",
        "publish_url": "https://asset.cml.dev",
    }
    assert sorted(p.name for p in stale.iterdir()) == ["report.md", "roc.png"]

    none = make(project, "pr-comment-stage", **{**env, "REPO_PRIVATE": "true"})
    assert none.returncode == 0, none.stderr
    assert "publish=--no-publish" in none.stdout.splitlines()
    assert f"[ROC]({RUN_URL})" in (stale / "report.md").read_text()
    bad = make(project, "pr-comment-stage", **{**env, "PR_REPORT_IMAGES": "s3"})
    assert bad.returncode == 2 and bad.stdout == "" and "PR_REPORT_IMAGES='s3'" in bad.stderr
