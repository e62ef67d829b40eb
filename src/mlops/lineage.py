"""Lineage facts recorded with every model: git commit, dirty flag, and file hashes as DVC computes them."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


def file_md5(path: str | Path) -> str:
    """MD5 of the file's bytes: the value DVC 3 records for a file in dvc.lock."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_state(cwd: str | Path = ".") -> dict[str, str]:
    """The commit checked out and whether the work tree differs from it ('unknown' outside git)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": commit or "unknown",
        "git_dirty": "unknown" if status is None else str(bool(status)).lower(),
    }
