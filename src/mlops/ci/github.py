"""GitHub through `gh`: which token acts, a branch's ONE open pull request, a label's ONE open issue.

gh's `--json` output is parsed here (not with `--jq`), so the choices are pure functions; an empty output
(no match, or a stand-in that prints nothing) counts as an empty list.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mlops.ci.shell import output, run
from mlops.io import InputError

# Which token pushes and opens pull requests, said in the job log (TOKEN_KIND from the workflow).
TOKEN_NOTICES = {
    "app": "::notice title=token::as the GitHub App (BOT_APP_ID): workflows start on its pushes and pull "
    "requests",
    "pat": "::notice title=token::as BOT_TOKEN (a personal access token): workflows start on its pushes and "
    "pull requests",
    "github": "::warning title=token::as GITHUB_TOKEN: its pushes and pull requests start no workflow (no "
    "model-pr, ci or deploy run), and pull requests need 'Allow GitHub Actions to create and approve pull "
    "requests'; set BOT_APP_ID and BOT_APP_PRIVATE_KEY (or BOT_TOKEN)",
}


def token_notice(kind: str) -> str | None:
    """The workflow command naming the token (TOKEN_KIND: app | pat | github); None for anything else."""
    return TOKEN_NOTICES.get(kind)


def say_token(kind: str) -> None:
    notice = token_notice(kind)
    if notice:
        print(notice, file=sys.stderr)


def entries(list_json: str) -> list[dict[str, Any]]:
    """gh's `--json` list output; empty output is an empty list."""
    text = list_json.strip()
    data = json.loads(text) if text else []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InputError(f"gh printed no JSON list of objects: {text[:200]!r}")
    return data


def pick_open_pr(list_json: str) -> int | None:
    """The number of this repository's own PR in `gh pr list --head <branch> --json number,isCrossRepository`.

    `--head` matches a fork's branch of the same name too: only a PR that is not cross-repository counts.
    """
    own = [item for item in entries(list_json) if not item.get("isCrossRepository")]
    return int(own[0]["number"]) if own else None


def pr_for_head(list_json: str, head_sha: str) -> int | None:
    """The first open PR whose head is `head_sha` (`gh pr list --json number,headRefOid`), if any."""
    for item in entries(list_json):
        if item.get("headRefOid") == head_sha:
            return int(item["number"])
    return None


def first_number(list_json: str) -> int | None:
    """The first entry's number (`gh issue list --json number`), if any."""
    found = entries(list_json)
    return int(found[0]["number"]) if found else None


def open_or_update_pr(gh: str, branch: str, title: str, body: Path) -> None:
    """Edit the branch's OPEN pull request, or open one.

    Not `gh pr edit <branch>`: gh finds a branch's pull request in any state, so it "succeeds" on the merged
    one and no new pull request is ever opened.
    """
    listed = output(
        gh, "pr", "list", "--head", branch, "--state", "open", "--json", "number,isCrossRepository"
    )
    number = pick_open_pr(listed)
    if number is not None:
        run(gh, "pr", "edit", str(number), "--body-file", str(body))
    else:
        run(
            gh, "pr", "create", "--base", "main", "--head", branch, "--title", title, "--body-file", str(body)
        )
