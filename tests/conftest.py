"""Shared fixtures: the tests' own world (the example's contract and params), small seeded frames, and
throwaway project copies that run on that world whatever a fork did to data/ and params.yaml."""

from __future__ import annotations

import os

# Before anything loads OpenMP: tests run in parallel workers, and one OpenMP pool per worker with as many
# threads as cores oversubscribes the machine (spin-waiting pools slowed the gate tests 17x). Inherited by
# the DVC stages the pipeline tests start. `make test` sets the same.
os.environ.setdefault("OMP_NUM_THREADS", "1")
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops.contract import Contract
from mlops.generate import generate
from tests.world import WORLD_CONTRACT, WORLD_PARAMS, world_contract

ROOT = Path(__file__).resolve().parents[1]


# Telemetry off for every tool the tests start (the Makefile sets the same for humans).
for key, value in {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "ITERATIVE_DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "GIT_PYTHON_REFRESH": "quiet",
}.items():
    os.environ.setdefault(key, value)


@pytest.fixture(scope="session")
def contract() -> Contract:
    """The world's contract (tests/world/contract.yaml): the columns `generate` produces."""
    return world_contract()


@pytest.fixture(scope="session")
def small_frame() -> pd.DataFrame:
    """2,000 seeded rows: enough for every contract rule, small enough for milliseconds."""
    return generate(rows=2000, seed=7)


def project_files(repo: Path = ROOT) -> list[str]:
    """What a fresh clone holds: tracked files plus new, not-ignored ones (so tests see uncommitted work)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in out.stdout.splitlines() if (repo / line).is_file()]


def free_port() -> int:
    """A port on 127.0.0.1 the kernel says is free now (a server started on it must still be checked)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_base() -> int:
    """An MLOPS_PORT_BASE whose four local slot ports (staging base, base + 1; production base + 100,
    + 101) are free right now: a test's servers never meet another clone's, a developer's or a CI job's
    on the same machine (the deploy refuses a held port, naming its holder)."""
    import random
    import socket

    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 60_000)
        try:
            for port in (base, base + 1, base + 100, base + 101):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free block of ports on 127.0.0.1")


def tool_env() -> dict[str, str]:
    """Environment for subprocesses: the venv's console scripts (mlops, dvc) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("MLFLOW_TRACKING_URI", None)  # each copy uses its own embedded sqlite store
    return env


def run(
    cmd: list[str], cwd: Path, check: bool = True, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command in a project copy; on an unexpected failure show its output in the assertion."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=tool_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]


def copy_project(dest: Path) -> Path:
    """A fresh-clone-like copy in `dest` on the tests' world: a git repository (as DVC expects) with no data,
    cache or store, whose contract and params are tests/world's, whose deploy records name no model and whose
    data/extract/ holds no fork data. So the pipeline, deploy and workflow tests run the example whatever a
    fork did to data/, params.yaml and deploy/ (its dvc.lock and reports are then stale: they rerun)."""
    for rel in project_files():
        if _fork_data(rel):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    shutil.copy2(WORLD_CONTRACT, dest / "data" / "contract.yaml")
    shutil.copy2(WORLD_PARAMS, dest / "params.yaml")
    for env in ("staging", "production"):
        record = dest / "deploy" / f"{env}.yaml"
        record.write_text(unrecorded(record.read_text()))
    run(["git", "init", "-q"], dest)
    commit_all(dest, "copy")
    return dest


# What data/extract/ may hold in the world: the folder's own files, never a fork's extract or its .dvc file.
EXTRACT_KEEP = frozenset({".gitkeep", ".gitignore", "README.md"})


def _fork_data(rel: str) -> bool:
    path, extracts = Path(rel), Path("data", "extract")
    return extracts in path.parents and not (path.parent == extracts and path.name in EXTRACT_KEEP)


RECORDED = ("model", "challenger", "image")


def unrecorded(text: str) -> str:
    """A deploy record with no model, challenger or image (each `null`), its comments and other keys kept."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        key = re.match(r"^([A-Za-z_]+):", line)
        if key:
            skipping = key.group(1) in RECORDED
            kept.append(f"{key.group(1)}: null\n" if skipping else line)
        elif not (skipping and line[:1] in (" ", "-", "\t")):  # a recorded value's nested lines go
            kept.append(line)
    record = yaml.safe_load("".join(kept))
    assert all(record.get(k) is None for k in RECORDED), record
    return "".join(kept)


def commit_all(repo: Path, message: str) -> None:
    run([*GIT, "add", "-A"], repo)
    run([*GIT, "commit", "-qm", message, "--allow-empty"], repo)


@pytest.fixture
def make_project(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """A factory of throwaway project copies."""
    return lambda name="project": copy_project(tmp_path_factory.mktemp(name))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make `xdist_group` work again: pytest-xdist 3.8 tags a grouped test by setting `item._nodeid`, which
    pytest 9 no longer reads (nodeid comes from `_id`), so groups were split across workers (two cold
    pipelines, two servers on one port at once). Same tag, set where pytest 9 reads it; a no-op once
    xdist's own tag takes effect. tests/unit/test_xdist_groups.py checks the scheduling."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodes import coerce_node_id

    for item in items:
        names = sorted(
            {
                str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                for m in item.iter_markers("xdist_group")
            }
        )
        if names and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")
