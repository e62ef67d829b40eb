"""The service over real HTTP: good requests answered and logged, every bad one a 4xx naming the problem."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mlops.serving.predlog import read_records
from mlops.serving.runtime import routes_to_challenger
from tests.serving.conftest import Server, start_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]


def call(
    server: Server, path: str, body: bytes | str, ctype: str | None = "application/json", **headers: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(f"{server.url}{path}", data=data, method="POST")
    if ctype is not None:
        req.add_header("content-type", ctype)
    for key, value in headers.items():
        req.add_header(key.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = {"raw": raw.decode("utf-8", "replace")}
        return exc.code, parsed, dict(exc.headers)


def record(bento: dict[str, Any], **changes: Any) -> dict[str, Any]:
    base = dict(bento["golden"][0]["record"])
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def test_a_golden_request_gets_the_packaged_answer_and_is_logged(
    server: Server, bento: dict[str, Any]
) -> None:
    golden = bento["golden"][1]
    payload = json.dumps({"record": golden["record"]})
    status, body, headers = call(server, "/predict", payload, x_request_id="t-1")
    assert status == 200, body
    # The server issues the id (what /feedback takes); the client's own is echoed and logged beside it.
    rid = body["request_id"]
    assert (
        len(rid) == 32 and headers.get("x-request-id") == rid and headers.get("x-client-request-id") == "t-1"
    )
    assert body["probability"] == pytest.approx(golden["probability"], abs=1e-9)
    assert body["churned"] == golden["predicted"] and body["model_version"] == server.model_version
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        logged = [r for r in read_records(server.log_dir) if r["request_id"] == rid]
        if logged:
            break
        time.sleep(0.1)
    (entry,) = logged
    assert entry["inputs"]["customer_id"] == golden["record"]["customer_id"]
    assert entry["probability"] == body["probability"] and entry["role"] == "champion"
    assert entry["client_request_id"] == "t-1"


def test_a_batch_is_answered_in_order(server: Server, bento: dict[str, Any]) -> None:
    customers = [g["record"] for g in bento["golden"][:5]]
    status, body, _ = call(server, "/predict_batch", json.dumps({"records": customers}))
    assert status == 200, body
    got = [p["probability"] for p in body["predictions"]]
    assert got == pytest.approx([g["probability"] for g in bento["golden"][:5]], abs=1e-9)


def changed(**changes: Any) -> Any:
    return lambda r: json.dumps({"record": {**r, **changes}})


def without(field: str) -> Any:
    return lambda r: json.dumps({"record": {k: v for k, v in r.items() if k != field}})


def overflow(r: dict[str, Any]) -> str:
    text = json.dumps({"record": {**r, "support_calls": 1}})
    return text.replace('"support_calls": 1', '"support_calls": 1e999')  # parses to inf


BAD = [
    ("nan", changed(monthly_charges=float("nan")), "monthly_charges"),
    ("infinity", changed(monthly_charges=float("inf")), "monthly_charges"),
    ("overflow", overflow, "support_calls"),
    ("missing", without("contract"), "contract"),
    ("extra", changed(favourite_colour="red"), "favourite_colour"),
    ("string number", changed(tenure_months="12"), "tenure_months"),
    ("float for int", changed(tenure_months=1.5), "tenure_months"),
    ("bool for int", changed(support_calls=True), "support_calls"),
    ("out of range", changed(tenure_months=999), "tenure_months"),
    ("unknown category", changed(contract="lifetime"), "contract"),
    ("bad id", changed(customer_id="X1"), "customer_id"),
    ("bad date", changed(event_date="yesterday"), "event_date"),
    ("not an object", lambda r: json.dumps({"record": [1, 2]}), "record"),
    ("empty body", lambda r: "", ""),
    ("invalid json", lambda r: '{"record": {', ""),
    ("json null", lambda r: "null", ""),
]


@pytest.mark.parametrize(("case", "make", "field"), BAD, ids=[b[0] for b in BAD])
def test_invalid_single_records_get_a_4xx_naming_the_field(
    server: Server, bento: dict[str, Any], case: str, make: Any, field: str
) -> None:
    status, body, _ = call(server, "/predict", make(record(bento)))
    assert 400 <= status < 500, (case, status, body)
    assert field in json.dumps(body), (case, body)


def test_batch_size_limits_and_wrong_content_types_are_4xx(server: Server, bento: dict[str, Any]) -> None:
    one = record(bento)
    status, body, _ = call(server, "/predict_batch", json.dumps({"records": []}))
    assert status == 400 and "records" in json.dumps(body)
    status, body, _ = call(server, "/predict_batch", json.dumps({"records": [one] * 1001}))
    assert status == 400 and "1000" in json.dumps(body)
    for ctype in ("text/plain", "multipart/form-data", "application/x-www-form-urlencoded", None):
        status, body, _ = call(server, "/predict", json.dumps({"record": one}), ctype=ctype)
        assert status == 415 and "application/json" in body["error"], (ctype, status, body)
    status, body, _ = call(server, "/predict", b"--x\r\n\r\n", ctype="multipart/form-data; boundary=")
    assert status == 415
    status, body, _ = call(server, "/predict", b"x" * 3_000_000)
    assert status == 413 and "bytes" in body["error"]


def test_feedback_labels_are_stored_by_request_id(server: Server, bento: dict[str, Any]) -> None:
    _, answer, _ = call(server, "/predict", json.dumps({"record": bento["golden"][0]["record"]}))
    labels = [{"request_id": answer["request_id"], "label": 1}, {"request_id": "t-1", "label": 0}]
    # Both stored; the one this server never answered is reported.
    expected = {"accepted": 2, "unknown": 1, "unknown_ids": ["t-1"]}
    assert call(server, "/feedback", json.dumps({"labels": labels}))[:2] == (200, expected)
    status, body, _ = call(server, "/feedback", json.dumps({"labels": [{"request_id": "t-1", "label": 2}]}))
    assert status == 400 and "label" in json.dumps(body)


def test_metrics_count_predictions_by_model_and_rejections_by_reason(
    server: Server, bento: dict[str, Any]
) -> None:
    # One answered request of its own: under -n 2 without --dist loadgroup this test may get a fresh server.
    assert call(server, "/predict", json.dumps({"record": record(bento)}))[0] == 200
    call(server, "/predict", json.dumps({"record": record(bento, contract="lifetime")}))
    call(server, "/predict", json.dumps({"record": record(bento)}), ctype="text/plain")
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    counted = [
        line
        for line in text.splitlines()
        if line.startswith("mlops_predictions_total{") and f'model_version="{server.model_version}"' in line
    ]
    # The class label is the contract's own value (the example's target lists 0 and 1).
    assert counted and all(re.search(r'prediction="[01]"', line) for line in counted), counted
    assert 'mlops_rejected_requests_total{reason="unknown_category"}' in text
    assert 'mlops_rejected_requests_total{reason="content_type"}' in text
    assert "mlops_model_info" in text
    # The packaged parity proof held, so the compiled path serves (the golden answers above are its).
    assert 'role="champion",scoring="compiled"' in text, [x for x in text.splitlines() if "model_info" in x]


def test_schemathesis_finds_no_server_error(server: Server, tmp_path: Path) -> None:
    """Property-based requests from the service's own OpenAPI (bounded, loopback): never a 5xx."""
    st = Path(sys.executable).parent / "schemathesis"
    proc = subprocess.run(
        [
            str(st),
            "run",
            f"{server.url}/docs.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "40",
            "--include-path-regex",
            "^/(predict|predict_batch|feedback)$",
            "--seed",
            "7",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("mode", ["split", "shadow"])
def test_a_challenger_answers_its_sticky_share_or_only_shadows(
    bento: dict[str, Any], tmp_path: Path, mode: str
) -> None:

    srv = start_server(
        bento,
        tmp_path / "predictions",
        MLOPS_CHALLENGER_TAG=bento["challenger_tag"],
        MLOPS_CHALLENGER_MODE=mode,
        MLOPS_CHALLENGER_SHARE="0.5",
    )
    try:
        case = bento["golden"][0]
        answers = {}
        for i in range(40):
            rid = f"ab-{i}"
            payload = json.dumps({"record": case["record"]})
            status, body, _ = call(srv, "/predict", payload, x_request_id=rid)
            assert status == 200, body
            answers[rid] = body
    finally:
        srv.stop()
    champion, challenger = bento["model_tag"], bento["challenger_tag"]
    for rid, body in answers.items():
        expected = challenger if mode == "split" and routes_to_challenger(rid, 0.5) else champion
        assert body["model_version"] == expected, rid
        golden = bento["challenger_golden" if expected == challenger else "golden"][0]
        assert body["probability"] == pytest.approx(golden["probability"], abs=1e-9)
    assert len({b["model_version"] for b in answers.values()}) == (2 if mode == "split" else 1)
    # Sticky by the client's id (the server's is new on every request); logged under both.
    logged = {r["client_request_id"]: r for r in read_records(srv.log_dir)}
    assert set(logged) == set(answers)
    assert {e["request_id"] for e in logged.values()} == {b["request_id"] for b in answers.values()}
    for entry in logged.values():
        assert entry["role"] == ("challenger" if entry["model_version"] == challenger else "champion")
        if mode == "shadow":
            assert entry["shadow"]["model_version"] == challenger
            assert entry["shadow"]["probability"] == pytest.approx(
                bento["challenger_golden"][0]["probability"], abs=1e-9
            )


def test_the_smoke_test_knows_which_server_answered(
    bento: dict[str, Any], tmp_path: Path, server: Server
) -> None:
    from mlops.deploy import smoke

    started = start_server(bento, tmp_path / "predictions", MLOPS_SERVER_NONCE="deploy-7")
    try:
        golden = bento["golden"][:3]
        ok = smoke.probe(started.url, golden, started.model_version, 10_000, nonce="deploy-7")
        assert ok.passed, ok.failures
        # What an orphan of an earlier server looks like to the smoke test: a right model, another nonce
        # (or none, as this module's server): it fails, naming the port.
        for other, nonce in ((started, "deploy-8"), (server, "deploy-7")):
            result = smoke.probe(other.url, golden, other.model_version, 10_000, nonce=nonce)
            (failure,) = result.failures
            assert f"3 of 3 golden requests answered by another process on port {other.port}" in failure
    finally:
        started.stop()


def test_the_served_api_document_describes_the_api_not_the_repository(server: Server) -> None:
    with urllib.request.urlopen(f"{server.url}/docs.json", timeout=10) as resp:
        info = json.loads(resp.read())["info"]
    described = json.dumps(info)
    assert "/predict" in described and "data contract" in described
    assert "GitOps MLOps template" not in described and len(described) < 2000  # not the README
