"""A real `bentoml serve` of a real small model, on a free loopback port, shared by the serving tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port, tool_env

BENTOML = str(Path(sys.executable).parent / "bentoml")


@dataclass
class Server:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log_dir: Path
    model_version: str

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                return self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="session")
def bento(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("bentoml")
    out = home / "built.json"
    env = {**tool_env(), "BENTOML_HOME": str(home)}
    subprocess.run(
        [sys.executable, str(Path(__file__).with_name("make_bento.py")), str(ROOT), str(out)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return {**json.loads(out.read_text()), "home": str(home)}


def start_server(bento: dict[str, Any], log_dir: Path, **extra_env: str) -> Server:
    log_dir.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **tool_env(),
        "BENTOML_HOME": bento["home"],
        "MLOPS_MODEL_TAG": bento["model_tag"],
        "MLOPS_PREDICTION_LOG_DIR": str(log_dir),
        "MLOPS_ACCESS_LOG": "false",
        **extra_env,
    }
    proc = subprocess.Popen(
        [BENTOML, "serve", bento["bento_tag"], "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=(log_dir.parent / f"server-{port}.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return Server(url, port, proc, log_dir, bento["model_tag"])
        except OSError:
            if proc.poll() is not None:
                break
        time.sleep(0.3)
    with contextlib.suppress(ProcessLookupError):  # it may have died already: show its log, not this
        os.killpg(proc.pid, signal.SIGKILL)
    log = (log_dir.parent / f"server-{port}.log").read_text(errors="replace")
    raise AssertionError(f"bentoml serve did not become ready:\n{log[-3000:]}")


@pytest.fixture(scope="module")
def server(bento: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_dir = tmp_path_factory.mktemp("serve") / "predictions"
    srv = start_server(bento, log_dir)
    yield srv
    srv.stop()
