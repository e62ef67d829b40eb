"""`mlops deploy --target local` verifies the server it started, not whatever answers on the port: the
slot's port must be free before the start (its holder named from /proc), and the candidate must still be
alive when the switch happens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlops.deploy import local, smoke
from mlops.deploy.local import check_port_free, listen_inodes
from mlops.deploy.records import DeployedModel, EnvRecord
from mlops.deploy.smoke import Observation, foreign_answers
from mlops.io import InputError
from mlops.serving.guard import RequestGuard

RECORD = EnvRecord(environment="staging", model=DeployedModel(md5="0" * 32, commit="abcdef1"))


@contextlib.contextmanager
def held_port() -> Iterator[int]:
    """A loopback port a plain socket listens on (below 65000: MLOPS_PORT_BASE's upper bound)."""
    while True:
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        if holder.getsockname()[1] <= 65000:
            break
        holder.close()
    with holder:
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """deploy_local with its state in tmp_path and no real server: `_start` runs world["command"] (in a
    session of its own, as the real one) and `smoke.probe` answers world["result"]."""
    w: dict[str, Any] = {
        "state": tmp_path / "staging",
        "started": [],
        "command": ["sleep", "60"],
        "result": smoke.SmokeResult(True, [], 1.0),
    }

    def start(env: str, port: int, *args: Any) -> tuple[int, str]:
        (tmp_path / env).mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(w["command"], start_new_session=True)
        local._CHILDREN[proc.pid] = proc
        if w["command"][0] != "sleep":  # a server that ends at once: ended before the smoke verdict
            proc.wait()
        w["started"].append(proc)
        return proc.pid, "nonce-1"

    monkeypatch.setattr(local, "state_root", lambda: tmp_path)
    monkeypatch.setattr(local, "golden_for", lambda name, md5: [])
    monkeypatch.setattr(local, "_start", start)
    monkeypatch.setattr(local.smoke, "probe", lambda *a, **k: w["result"])
    yield w
    for proc in w["started"]:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


TCP = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:0C1C 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0",
    "   1: 0100007F:0C1C 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0",
    "   2: 0100007F:0C1D 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4244 1 0",
    "   3: 0100007F:0C1C 0100007F:D432 06 00000000:00000000 03:00000F6A 00000000     0        0 0 3 0",
]
TCP6 = [
    "  sl  local_address                         remote_address                        st tx_queue ...",
    "   0: 00000000000000000000000001000000:0C1C 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000  1000        0 5151 1 0",
]


def test_only_listening_sockets_on_the_port_are_named() -> None:
    assert listen_inodes(TCP, 0x0C1C) == [4242]  # not the connection (01) nor the TIME_WAIT one (06)
    assert listen_inodes(TCP, 0x0C1D) == [4244]
    assert listen_inodes(TCP6, 0x0C1C) == [5151]
    assert listen_inodes(TCP, 9) == [] and listen_inodes(["garbage", ""], 0x0C1C) == []


def test_a_held_port_is_refused_naming_the_port_and_its_holder() -> None:
    with held_port() as port, pytest.raises(InputError) as err:
        check_port_free(port)
    message = str(err.value)
    assert f"port {port} " in message
    cmdline = Path("/proc/self/cmdline").read_bytes().split(b"\0")[0].decode()
    assert f"pid {os.getpid()} ({cmdline}" in message  # this process, by its command line
    check_port_free(port)  # free again once the holder closed


def test_a_deploy_to_a_held_slot_refuses_before_starting(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with held_port() as port:
        monkeypatch.setenv("MLOPS_PORT_BASE", str(port))  # the idle slot of a first deploy is the base
        with pytest.raises(InputError, match=f"port {port} "):
            local.deploy_local("staging", RECORD, "churn:1", 100.0, "churn")
    assert world["started"] == []


def stamped_headers(path: str, nonce: str) -> dict[bytes, bytes]:
    """The headers RequestGuard (started with `nonce`) answers a GET of `path` with, in front of an app."""

    class App:
        routes = (SimpleNamespace(path="/readyz"),)

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]})
            await send({"type": "http.response.body", "body": b"ok"})

    starts: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            starts.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    asyncio.run(RequestGuard(App(), server_nonce=nonce)(scope, receive, send))
    (start,) = starts
    return dict(start["headers"])


def test_every_answer_names_the_server_that_gave_it() -> None:
    assert stamped_headers("/readyz", "n-1")[b"x-mlops-server"] == b"n-1"  # the app's answer
    assert stamped_headers("/wp-login.php", "n-1")[b"x-mlops-server"] == b"n-1"  # the guard's own 404
    assert b"x-mlops-server" not in stamped_headers("/readyz", "")  # not started by a deploy


def test_answers_from_another_server_fail_the_smoke_test() -> None:
    mine = Observation(200, 0.01, {}, server="n-2")
    assert foreign_answers([mine, mine], "n-2", 3101) == []
    assert foreign_answers([mine, Observation(0, 0.01, {"error": "refused"})], "n-2", 3101) == []
    orphan, unnamed = Observation(200, 0.01, {}, server="n-1"), Observation(200, 0.01, {})
    (failure,) = foreign_answers([mine, orphan, unnamed], "n-2", 3101)
    assert failure.startswith("2 of 3 golden requests answered by another process on port 3101 ")
    assert "X-MLOPS-Server n-1, none, expected n-2" in failure


def free_slot(monkeypatch: pytest.MonkeyPatch) -> int:
    with held_port() as port:
        pass
    monkeypatch.setenv("MLOPS_PORT_BASE", str(port))
    return port


def test_a_server_that_never_got_ready_shows_its_exit_code_and_log_tail(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_slot(monkeypatch)
    world["state"].mkdir()
    log = world["state"] / f"server-{port}.log"
    log.write_text("".join(f"line {i}\n" for i in range(30)) + "OSError: [Errno 98] Address already in use\n")
    world["command"] = ["sh", "-c", "exit 3"]
    world["result"] = smoke.SmokeResult(False, ["http://127.0.0.1/readyz not ready within 60 s"])
    assert local.deploy_local("staging", RECORD, "churn:1", 100.0, "churn") == local.EXIT_SMOKE_FAILED
    err = capsys.readouterr().err
    assert "the server exited with code 3" in err
    assert f"last 20 lines of {log}:" in err and "| line 11\n" in err and "| line 10\n" not in err
    assert "| OSError: [Errno 98] Address already in use" in err
    assert not (world["state"] / "active.json").exists()


def test_a_server_gone_after_a_passing_smoke_test_is_not_recorded(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    free_slot(monkeypatch)
    world["command"] = ["sh", "-c", "exit 1"]  # what passed the smoke test was someone else
    assert local.deploy_local("staging", RECORD, "churn:1", 100.0, "churn") == local.EXIT_SMOKE_FAILED
    (proc,) = world["started"]
    assert f"the started server (pid {proc.pid}) is gone (exit code 1)" in capsys.readouterr().err
    assert not (world["state"] / "active.json").exists()
    assert json.loads((world["state"] / "smoke.json").read_text())["passed"] is False


def test_a_live_server_that_passed_is_switched_to(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_slot(monkeypatch)
    assert local.deploy_local("staging", RECORD, "churn:1", 100.0, "churn") == 0
    (proc,) = world["started"]
    active = json.loads((world["state"] / "active.json").read_text())
    assert (active["port"], active["pid"], active["nonce"]) == (port, proc.pid, "nonce-1")


@contextlib.contextmanager
def fake_server(delays: list[float]) -> Iterator[str]:
    """A loopback HTTP server answering /readyz and /predict like the service; the n-th /predict sleeps
    delays[min(n // 100, len - 1)] seconds (one entry per smoke latency round of 100 requests)."""
    import http.server
    import threading
    import time

    served = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            time.sleep(delays[min(served[0] // smoke.TIMED_REQUESTS, len(delays) - 1)])
            served[0] += 1
            body = json.dumps({"probability": 0.5, "model_version": "m:1"}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


GOLDEN = [{"record": {"a": i}, "key": f"k{i}", "probability": 0.5, "predicted": 1} for i in range(20)]


def test_a_latency_spike_from_a_loaded_host_is_measured_again_not_blamed_on_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(smoke, "TIMED_REQUESTS", 20)  # rounds of 20 requests: seconds, not minutes
    # Round 1 is slow (the host was busy), round 2 is the server's own latency: the best round counts.
    with fake_server([0.2, 0.0]) as url:
        result = smoke.probe(url, GOLDEN, "m:1", p95_budget_ms=100.0)
    assert result.passed, result.failures  # round 1's p95 is over 200 ms: a later round passed


def test_a_server_slow_in_every_round_fails_naming_each_rounds_p95(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke, "TIMED_REQUESTS", 10)
    with fake_server([0.03]) as url:
        result = smoke.probe(url, GOLDEN[:2], "m:1", p95_budget_ms=20.0)
    assert not result.passed
    [failure] = result.failures
    assert failure.startswith("p95 latency ") and f"in each of {smoke.LATENCY_ROUNDS} rounds of 10" in failure


def test_readiness_gives_up_at_once_when_the_started_server_has_exited() -> None:
    asked: list[bool] = []

    def alive() -> bool:
        asked.append(False)
        return False

    with held_port() as port:  # something listens but never answers HTTP: only `alive` can end the wait
        result = smoke.probe(f"http://127.0.0.1:{port}", GOLDEN, "m:1", 100.0, ready_timeout=30, alive=alive)
    assert len(asked) == 2  # once before the first /readyz call, once for the verdict: no 30 s of polling
    assert not result.ready
    assert result.failures == [f"the server exited before http://127.0.0.1:{port}/readyz answered"]
