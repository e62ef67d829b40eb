"""DVC 3 adapter: the PR report's diffs and stage status, and a tracked file's bytes at a git revision.

The CLI's `--json` output is DVC's documented interface for the diffs (its Python internals changed across
3.x), so each diff is `python -m dvc ... --json` in the project directory, parsed here and nowhere else.
A recorded model's bytes come from the local cache (DVC 3's `files/md5` layout) or `dvc.api.read`, the
public API, which fetches them from the remote at the recording commit, else from the current default
remote (a project that moved its data keeps its champions reachable).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlops.io import InputError


def _dvc(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise InputError(f"`dvc {' '.join(args)}` failed: {detail[-1] if detail else 'no output'}")
    return proc.stdout


def _json(args: list[str], cwd: Path) -> Any:
    out = _dvc([*args, "--json"], cwd).strip()
    return json.loads(out) if out else {}


def params_diff(base: str, cwd: Path) -> dict[str, dict[str, Any]]:
    """Changed params, flattened: {"train.hist_gradient_boosting.learning_rate": {"old": .., "new": ..}}."""
    per_file: dict[str, dict[str, dict[str, Any]]] = _json(["params", "diff", base], cwd)
    return {key: change for changes in per_file.values() for key, change in changes.items()}


def metrics_diff(base: str, cwd: Path) -> dict[str, dict[str, Any]]:
    """Every metric (changed or not) of the workspace against `base`: {"roc_auc": {"old", "new", "diff"}}."""
    per_file: dict[str, dict[str, dict[str, Any]]] = _json(["metrics", "diff", base, "--all"], cwd)
    return {key: change for changes in per_file.values() for key, change in changes.items()}


def plots_diff(base: str, cwd: Path) -> dict[str, dict[str, Any]]:
    """One Vega-Lite spec per plot of dvc.yaml, data of `base` and the workspace inlined (renders offline)."""
    data: dict[str, list[dict[str, Any]]] = _json(["plots", "diff", base], cwd).get("data", {})
    return {name: entries[0]["content"] for name, entries in data.items() if entries}


def changed_stages(cwd: Path) -> set[str]:
    """Stages whose recorded state in dvc.lock no longer matches the workspace (`dvc status`)."""
    return set(_json(["status"], cwd))


def stage_edges(cwd: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The pipeline's stages (in dvc.yaml order) and its dependency edges, from `dvc dag --dot`."""
    dot = _dvc(["dag", "--dot"], cwd)
    nodes = re.findall(r'^"([^"]+)";$', dot, flags=re.MULTILINE)
    edges = re.findall(r'^"([^"]+)" -> "([^"]+)";$', dot, flags=re.MULTILINE)
    return nodes, [(a, b) for a, b in edges]


def cache_path(repo: Path, md5: str) -> Path:
    """Where DVC 3's local cache keeps a file of this md5."""
    return repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def read_at(path: str, repo: Path, rev: str) -> bytes:
    """The bytes of the DVC-tracked `path` at git revision `rev` (cache first, then the remote).

    The remote is the one `rev` configured; when that read fails (the project has since moved its data
    to another remote: the old one is gone, or this job holds no credentials for it), the current
    default remote, with its config and credentials (.dvc/config + config.local), is tried at `rev`.
    """
    import dvc.api

    try:
        data: bytes = dvc.api.read(path, repo=str(repo), rev=rev, mode="rb")
        return data
    except Exception as first:  # DVC raises many types (no remote, not in storage, auth)
        current = current_remote(repo)
        if current is None:
            raise
        name, config = current
        try:
            data = dvc.api.read(path, repo=str(repo), rev=rev, mode="rb", remote=name, remote_config=config)
        except Exception as second:
            raise InputError(
                f"at {rev}'s remote: {first}; at the current remote {name!r}: {second}"
            ) from second
        return data


def current_remote(repo: Path) -> tuple[str, dict[str, Any]] | None:
    """The workspace's default DVC remote: its name and merged config (credentials included), or None."""
    from dvc.repo import Repo

    with Repo(str(repo)) as project:
        config = project.config
        name = config["core"].get("remote")
        if not name or name not in config["remote"]:
            return None
        settings = {k: str(v) if k == "url" else v for k, v in config["remote"][name].items()}
        return str(name), settings
