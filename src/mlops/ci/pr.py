"""pr-comment's check of the untrusted artifact: the PR number it claims must be the open PR whose head is
the commit the model-pr run tested (HEAD_SHA, REPOSITORY from the workflow_run event, through env).

No open PR has that head: the report is for an outdated commit; a ::notice:: says so, nothing is printed,
exit 0 (mlops.pr.artifact.run).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from mlops.ci.github import pr_for_head
from mlops.ci.shell import output, step

EXIT_USAGE = 2  # as mlops.cli
SHA = re.compile(r"[0-9a-f]{40}")


def is_commit_sha(text: str) -> bool:
    return SHA.fullmatch(text) is not None


@step("pr-comment-target")
def run_target(artifact: Path, gh: str) -> int:
    """Print pr=<n> for $GITHUB_OUTPUT once the artifact checks out against HEAD_SHA's open PR."""
    from mlops.pr.artifact import run

    head_sha = os.environ.get("HEAD_SHA", "")
    if not is_commit_sha(head_sha):
        print("pr-comment-target: HEAD_SHA is not a commit SHA", file=sys.stderr)
        return EXIT_USAGE
    # Not --search: GitHub's search index can lag a fresh push, and a miss would drop the report as stale.
    listed = output(
        gh, "pr", "list", "--repo", os.environ.get("REPOSITORY", ""), "--state", "open", "--limit", "1000",
        "--json", "number,headRefOid",
    )  # fmt: skip
    expected = pr_for_head(listed, head_sha)
    return run(artifact, "" if expected is None else str(expected))
