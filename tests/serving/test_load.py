"""Bounded load on loopback: zero errors, and exactly one prediction-log record per answered request,
also when the server is sent SIGTERM in the middle of the load (graceful shutdown flushes the log)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mlops.serving.predlog import read_records
from tests.serving.conftest import Server, start_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]
CLIENTS = 16


def hammer(server: Server, bento: dict[str, Any], seconds: float, stop: threading.Event) -> dict[str, Any]:
    """CLIENTS keep-alive clients posting golden records until `seconds` pass or `stop` is set."""
    records = [json.dumps({"record": g["record"]}).encode() for g in bento["golden"]]
    ok: list[str] = []
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        i = 0
        while time.monotonic() < deadline and not stop.is_set():
            rid = f"c{n}-{i}"
            i += 1
            try:
                conn.request(
                    "POST",
                    "/predict",
                    body=records[i % len(records)],
                    headers={"content-type": "application/json", "x-request-id": rid},
                )
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                conn.close()
                if stop.is_set():
                    return
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                continue
            with lock:
                answered = json.loads(body).get("request_id") if resp.status == 200 else None
                if answered and resp.getheader("x-client-request-id") == rid:
                    ok.append(rid)
                else:
                    errors[f"HTTP {resp.status}"] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"ok": ok, "errors": errors}


def logged_ids(log_dir: Path) -> list[str]:
    """The clients' ids of the logged answers (each also has its own server-issued, unique request_id)."""
    records = read_records(log_dir)
    assert len({r["request_id"] for r in records}) == len(records)
    return [r["client_request_id"] for r in records]


def test_sixteen_clients_get_no_errors_and_every_answer_is_logged_once(
    bento: dict[str, Any], tmp_path: Path
) -> None:
    server = start_server(bento, tmp_path / "predictions")
    try:
        result = hammer(server, bento, seconds=12, stop=threading.Event())
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
    finally:
        code = server.stop()
    # Loss would be visible: the dropped-records series exists (from 0) and stayed at 0 under the load.
    assert 'mlops_prediction_log_records_total{log="predictions",outcome="dropped"} 0.0' in metrics
    assert not result["errors"], result["errors"]
    assert len(result["ok"]) > 500
    logged = logged_ids(server.log_dir)
    assert sorted(logged) == sorted(result["ok"])  # exactly one record per successful response
    assert code != -signal.SIGKILL  # it stopped on SIGTERM, within the timeout (the log was drained)


def test_sigterm_mid_load_loses_no_record_of_an_answered_request(
    bento: dict[str, Any], tmp_path: Path
) -> None:
    server = start_server(bento, tmp_path / "predictions")
    stop = threading.Event()
    outcome: dict[str, Any] = {}
    loader = threading.Thread(target=lambda: outcome.update(hammer(server, bento, 60, stop)))
    loader.start()
    time.sleep(4)
    os.killpg(server.proc.pid, signal.SIGTERM)  # what Kubernetes and `mlops stop` send
    server.proc.wait(60)
    stop.set()
    loader.join(60)
    answered = outcome["ok"]
    assert len(answered) > 100
    logged = logged_ids(server.log_dir)
    # Every answered request is in the log exactly once; requests cut off by the shutdown got no answer.
    assert len(logged) == len(set(logged))
    assert set(answered) <= set(logged), f"{len(set(answered) - set(logged))} answered but not logged"
    assert len(set(logged) - set(answered)) <= 16  # at most the in-flight requests of the 16 clients
