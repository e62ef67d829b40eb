"""The default DVC remote, when it is reachable: pull before a pipeline run, push the data a PR adds.

A local-folder remote that is absent (a fresh CI runner) or a remote whose credentials a fork's PR does not
get is not an error: dvc repro rebuilds whatever the cache lacks, only slower.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Literal

from mlops.ci.shell import ToolError, output, step, succeeds, tool

RemoteState = Literal["none", "absent", "reachable"]


def remote_url(remote_list: str, default: str) -> str:
    """The default remote's URL in `dvc remote list` output (`<name>\\t<url>` lines); empty when none."""
    for line in remote_list.splitlines():
        fields = line.split()
        if default and len(fields) >= 2 and fields[0] == default:
            return fields[1]
    return ""


def remote_state(url: str, is_dir: bool) -> RemoteState:
    """none: no default remote; absent: a local-folder remote that is not there (is_dir: it is); reachable:
    a URL (s3://, gs://, ... where credentials decide) or a present folder."""
    if not url:
        return "none"
    if "://" not in url and not is_dir:
        return "absent"
    return "reachable"


def default_remote() -> tuple[str, RemoteState]:
    """The default DVC remote's URL (as DVC resolves it) and its state."""
    dvc = tool("dvc")
    named = subprocess.run([dvc, "remote", "default"], capture_output=True, text=True, check=False)
    default = named.stdout.strip() if named.returncode == 0 else ""
    url = remote_url(output(dvc, "remote", "list"), default)
    return url, remote_state(url, bool(url) and Path(url).is_dir())


@step("pull-if-remote")
def run_pull() -> int:
    """dvc pull when the default remote is reachable; otherwise say so and go on (exit 0)."""
    url, state = default_remote()
    if state == "none":
        print("pull-if-remote: no default DVC remote configured; dvc repro rebuilds what is missing")
    elif state == "absent":
        print(f"pull-if-remote: local remote {url} not present; dvc repro rebuilds what is missing")
    elif succeeds(tool("dvc"), "pull", "--allow-missing"):
        print(f"pull-if-remote: pulled from {url}")
    else:
        print(
            f"pull-if-remote: WARNING: dvc pull from {url} failed (no credentials on a fork PR?); "
            "dvc repro rebuilds what is missing"
        )
    return 0


def push() -> None:
    """dvc push when the default remote is reachable, else a warning (the PR's CI will say)."""
    url, state = default_remote()
    if state == "reachable":
        # Not `-q`: it hides DVC's own ERROR line (no credentials, no such bucket): the line that says why.
        command = (tool("dvc"), "push")
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ToolError(command, proc.returncode, push_failure(proc.stdout + proc.stderr, url))
    else:
        print(
            "push-if-remote: WARNING: no reachable DVC remote; the extract stays local (dvc push it before "
            "review)"
        )


def push_failure(output: str, url: str) -> str:
    """DVC's own reason (its ERROR lines), with where credentials go when that is what is missing."""
    errors = [line.removeprefix("ERROR:").strip() for line in output.splitlines() if line.startswith("ERROR")]
    reason = "; ".join(errors) or (output.strip().splitlines() or ["no output"])[-1]
    if "credential" in reason.lower():
        reason += f" (pushing to {url}: set the store's credentials in the job, docs/team-scale.md)"
    return reason


@step("push-if-remote")
def run_push() -> int:
    push()
    return 0
