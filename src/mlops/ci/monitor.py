"""The drift and retrain workflows' steps: fetch the log, judge it, open the ONE drift issue, open the ONE
retrain pull request."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from mlops.ci.github import first_number, open_or_update_pr, say_token
from mlops.ci.remote import push
from mlops.ci.shell import BOT, output, run, step, tool

EXIT_DRIFT = 3  # mlops drift's exit code on drift
NO_LOG_NOTICE = (
    "::notice title=drift::no prediction log configured: set the MLOPS_PREDICTION_LOG_URL secret to where "
    "the service uploads it; nothing to judge"
)


def drift_output(code: int) -> str | None:
    """`mlops drift`'s exit code as the $GITHUB_OUTPUT line: 0 -> drift=false, 3 -> drift=true, else an
    error (None: the step fails with that code)."""
    return {0: "drift=false", EXIT_DRIFT: "drift=true"}.get(code)


@step("drift-log")
def run_drift_log(log_dir: Path) -> int:
    """The drift workflow's first step: fetch the log into --log-dir; print log=true|false.

    Before any pipeline work: a template with no log configured answers in seconds, green, with a notice.
    """
    from mlops.monitoring.command import run_fetch

    url = os.environ.get("MLOPS_PREDICTION_LOG_URL", "")
    if not url:
        print(NO_LOG_NOTICE, file=sys.stderr)
        print("log=false")
        return 0
    with contextlib.redirect_stdout(sys.stderr):  # stdout is $GITHUB_OUTPUT
        code = run_fetch(url, log_dir)
    if code != 0:
        return code
    print("log=true")
    return 0


@step("drift-ci")
def run_drift_ci(
    log_dir: Path,
    params: Path,
    contract: Path,
    reference: Path,
    holdout: Path,
    model: Path,
    production: Path,
    out: Path,
) -> int:
    """The drift workflow's check of --log-dir: print drift=true|false (any alarm: the issue) and
    retrain=true|false (the model is degrading: the retrain pull request); fail only on errors."""
    if not log_dir.is_dir():
        print(
            f"drift-ci: no prediction log in {log_dir} "
            "(make drift-log fetches it from MLOPS_PREDICTION_LOG_URL)",
            file=sys.stderr,
        )
        print("drift=false\nretrain=false")
        return 0
    flags = {"log-dir": log_dir, "params": params, "contract": contract, "reference": reference,
             "holdout": holdout, "model": model, "production": production, "out": out}  # fmt: skip
    command = [
        tool("mlops"),
        "drift",
        *(part for flag, value in flags.items() for part in (f"--{flag}", str(value))),
    ]
    code = subprocess.run(command, stdout=sys.stderr, check=False).returncode
    verdict = drift_output(code)
    if verdict is None:
        return code
    print(verdict)
    print(f"retrain={str(retrain_wanted(out / 'drift.json')).lower()}")
    return 0


def retrain_wanted(summary: Path) -> bool:
    """drift.json's harm verdict: True only when the model is degrading (moved inputs alone report)."""
    import json

    if not summary.is_file():
        return False
    return bool(json.loads(summary.read_text()).get("retrain"))


@step("drift-issue")
def run_drift_issue(summary: Path, out: Path, run_url: str | None, gh: str) -> int:
    """Open or update the ONE open drift issue with the drift summary."""
    from mlops.monitoring.command import run_issue_body

    code = run_issue_body(summary, out, run_url)
    if code != 0:
        return code
    # The label may not exist yet in a repository made from the template: create it (no-op when it does).
    label = ("drift", "--force", "--color", "D93F0B", "--description", "mlops drift detected")
    run(gh, "label", "create", *label, quiet=True)
    number = first_number(
        output(gh, "issue", "list", "--state", "open", "--label", "drift", "--json", "number")
    )
    if number is not None:
        run(gh, "issue", "edit", str(number), "--body-file", str(out))
    else:
        run(gh, "issue", "create", "--title", "Drift detected in production", "--label", "drift",
            "--body-file", str(out))  # fmt: skip
    return 0


RETRAIN_COMMIT = "Retrain on the labelled production window"
RETRAIN_TITLE = "Retrain on recent production data"


@step("retrain-pr")
def run_retrain_pr(push_url: str, gh: str, branch: str) -> int:
    """Commit the retrained pipeline on --branch, push its data and it, and open or update the ONE PR.

    One branch and one pull request: a later retrain (drift that persists) updates them.
    """
    from mlops import paths

    say_token(os.environ.get("TOKEN_KIND", ""))
    run("git", "switch", "-q", "-C", branch)
    run("git", "add", str(paths.path("params")), "dvc.lock", "reports/", f"{paths.path('extracts')}/")
    run("git", *BOT, "commit", "-qm", RETRAIN_COMMIT)
    push()
    run("git", "push", "-q", "--force", push_url, branch)
    open_or_update_pr(gh, branch, RETRAIN_TITLE, paths.path("gates_md"))
    return 0
