"""Fixtures of the workflow tests: GitHub worlds on loopback whose `main` is this checkout (act/world.py),
with the tests' own contract and params (tests/world) in place of a fork's.

The act scenarios share the xdist group "act": one worker runs them and pays once for the reproduced
pipeline that seeds the worlds whose jobs need pipeline outputs.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_project, run
from tests.workflows.act.world import World


@pytest.fixture(scope="session", autouse=True)
def prepared_node_modules() -> None:
    """The Node tools every job links (lint-workflows), installed from package-lock.json once: under a lock,
    since both test workers start here and `npm ci` first deletes node_modules."""
    with (ROOT / "package-lock.json").open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run(["make", "--no-print-directory", "node_modules/.installed"], ROOT)


@pytest.fixture(scope="session")
def reproduced_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout on the tests' world after `dvc repro`: its files seed `main`, its DVC cache an earlier
    run's cache entry."""
    repo = copy_project(tmp_path_factory.mktemp("act-seed"))
    run(["dvc", "repro"], repo)  # its lock and reports become the world's main (edits under test included)
    return repo


@pytest.fixture
def world(tmp_path: Path, reproduced_seed: Path) -> Iterator[World]:
    """A repository whose main holds this checkout's files and nothing else (a fresh clone's view: no data,
    model or cache), on the tests' world. Seeded from the reproduced copy, so main's dvc.lock and reports/
    are the world's own run, as a project commits them: a fork's would describe another dataset, and
    `make ci`'s check that a fresh `make pipeline` reproduces them could never pass on the world."""
    created = World(tmp_path / "world").start(reproduced_seed)
    yield created
    created.stop()


@pytest.fixture
def pipeline_world(tmp_path: Path, reproduced_seed: Path) -> Iterator[World]:
    """A repository whose earlier main run left its DVC cache in actions/cache (key dvc-cache-seed)."""
    created = World(tmp_path / "world").start(reproduced_seed, cache_seed=reproduced_seed / ".dvc" / "cache")
    yield created
    created.stop()
