"""The tools a CI step drives (git, gh, dvc, docker): a failed call ends the step with its exit code."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec

P = ParamSpec("P")
# The commit identity of the bot's commits (the token that pushes them decides who pushes).
BOT = ("-c", "user.name=mlops-bot", "-c", "user.email=mlops-bot@users.noreply.github.com")


class ToolError(Exception):
    """A tool call failed: the step exits with its code (never 0) after naming the call."""

    def __init__(self, command: Sequence[str], code: int, reason: str = "") -> None:
        super().__init__(
            f"`{' '.join(command[:3])} ...` failed (exit {code})" + (f": {reason}" if reason else "")
        )
        self.code = code or 1


def tool(name: str) -> str:
    """The venv's own console script (dvc, mlops) beside this Python, else the one on PATH."""
    sibling = Path(sys.executable).parent / name
    return str(sibling) if sibling.exists() else (shutil.which(name) or name)


def run(*command: str, quiet: bool = False) -> None:
    """Run a tool, its output going to the step's stderr (stdout is kept for $GITHUB_OUTPUT)."""
    stdout = subprocess.DEVNULL if quiet else sys.stderr
    code = subprocess.run(command, stdout=stdout, check=False).returncode
    if code != 0:
        raise ToolError(command, code)


def output(*command: str) -> str:
    """A tool's stdout (its stderr goes to the step's stderr)."""
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise ToolError(command, proc.returncode)
    return proc.stdout


def succeeds(*command: str) -> bool:
    """Did the tool exit 0? (Its output goes to stderr, as `run`.)"""
    return subprocess.run(command, stdout=sys.stderr, check=False).returncode == 0


def step(name: str) -> Callable[[Callable[P, int]], Callable[P, int]]:
    """A CI step's entry point: a failed tool call becomes `mlops <name>: ... failed` and its exit code."""

    def decorate(function: Callable[P, int]) -> Callable[P, int]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
            try:
                return function(*args, **kwargs)
            except ToolError as exc:
                print(f"mlops {name}: {exc}", file=sys.stderr)
                return exc.code

        return wrapper

    return decorate
