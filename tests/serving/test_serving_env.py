"""The image's environment: pyproject.toml's `serving` group plus the project without its dependencies
(what the Dockerfile installs), built from uv.lock, is under its size budget, holds none of the pipeline's
heavy libraries, and serves the real bento on its own. One venv build, one server start."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import sys
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mlops.deploy import local
from mlops.serving import NONCE_ENV, SERVER_HEADER
from tests.conftest import ROOT
from tests.serving import conftest as serving
from tests.serving.test_service import call

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]


def _env_size() -> ModuleType:
    """benchmarks/env_size.py (not a package): the build and the measurement `make bench-env-size` uses."""
    spec = importlib.util.spec_from_file_location("env_size", ROOT / "benchmarks" / "env_size.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("env_size", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_the_serving_group_alone_is_small_and_serves_the_bento(
    bento: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_size = _env_size()
    python, figure = env_size.measure_env("serving", tmp_path / "venvs")  # bytecode compiled, as in the image
    assert figure.mb < env_size.BUDGET_MB, f"serving environment {figure.mb} MB (decimal)"
    assert figure.heavy_importable == [], f"the serving group pulls in {figure.heavy_importable}"

    # The serving venv's bentoml, and a PATH without the dev venv: nothing of the full stack is reachable.
    venv_bin = python.parent
    monkeypatch.setattr(serving, "BENTOML", str(venv_bin / "bentoml"))
    dev_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(
        [str(venv_bin), *(p for p in os.environ["PATH"].split(os.pathsep) if p != dev_bin)]
    )
    nonce = os.urandom(8).hex()
    # A service that cannot start with the group only (a missing import) fails here, with its log.
    started = serving.start_server(
        bento,
        tmp_path / "predictions",
        PATH=path,
        PYTHONPATH="",
        VIRTUAL_ENV=str(venv_bin.parent),
        **{NONCE_ENV: nonce},
    )
    family = [started.proc.pid, *local._descendants(started.proc.pid)]
    try:
        # Every process of the server (the arbiter and its worker) runs the serving venv's interpreter.
        argv0 = {Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode() for pid in family}
        assert len(family) >= 2 and argv0 == {str(venv_bin / "python")}, argv0

        golden = bento["golden"][0]
        status, body, headers = call(started, "/predict", json.dumps({"record": golden["record"]}))
        assert status == 200, body
        # This test's server answered, not another one on the port (headers: a plain dict, lower-case keys).
        assert {k.lower(): v for k, v in headers.items()}.get(SERVER_HEADER.lower()) == nonce
        assert body["probability"] == pytest.approx(golden["probability"], abs=1e-9)
        with urllib.request.urlopen(f"{started.url}/readyz", timeout=10) as resp:
            assert resp.status == 200 and resp.headers.get(SERVER_HEADER) == nonce
    finally:
        # SIGTERM to the process group (the suite's Server.stop); BentoML's worker runs in a session of
        # its own, so a process of the family still alive afterwards is killed by pid.
        started.stop()
        for pid in family[1:]:
            with contextlib.suppress(OSError):  # gone already (no /proc entry, or no such process)
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(str(venv_bin).encode()):
                    os.kill(pid, signal.SIGKILL)  # still ours (a pid is not reused by another program)
