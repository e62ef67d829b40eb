"""The pipeline tests' shared starting point: one cold `dvc repro --force` of the project on the tests' world
(copy_project: the example's contract and params, whatever a fork put in data/ and params.yaml).

Session-scoped: the tests of this folder share the xdist group "dvc-pipeline", so one worker runs them all
and pays for the cold run once. Tests that change something work on their own copy (`fork`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GIT, ROOT, commit_all, copy_project, free_port_base, run


def set_param(repo: Path, old: str, new: str) -> None:
    """Edit params.yaml textually (keeps its comments), failing loudly if the anchor is not there."""
    path = repo / "params.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} not in params.yaml"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    repo = copy_project(tmp_path_factory.mktemp("pipeline"))
    # --force: the copy carries the committed reports, so DVC would rightly skip stages whose inputs hash
    # the same (fresh-clone semantics, which .ci/run checks); here every stage must run for real.
    proc = run(["dvc", "repro", "--force"], repo)
    return repo, proc.stdout


@pytest.fixture
def fork(reproduced: tuple[Path, str], tmp_path: Path) -> Path:
    """A private copy of the reproduced project (data, DVC cache, MLflow store and git history included)."""
    dest = tmp_path / "fork"
    shutil.copytree(reproduced[0], dest, symlinks=True)
    return dest


@pytest.fixture
def project(fork: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fork as a GitOps repository on `main`: its own BentoML store, this checkout's venv; every
    environment it serves is stopped afterwards (gracefully, so prediction logs are complete)."""
    monkeypatch.setenv("BENTOML_HOME", str(fork / ".bentoml"))
    monkeypatch.setenv("MLOPS_PORT_BASE", str(free_port_base()))  # never the default 3100: not alone here
    (fork / ".venv").symlink_to(ROOT / ".venv")
    commit_all(fork, "main: reproduced pipeline")
    run([*GIT, "branch", "-M", "main"], fork)
    yield fork
    for env in ("staging", "production"):
        run(["mlops", "stop", "--env", env], fork, check=False)
