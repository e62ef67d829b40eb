"""Serving logic without a server: request schema, routing, the prediction log, smoke verdicts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mlops.contract import Contract
from mlops.deploy.smoke import Observation, evaluate
from mlops.serving.guard import RequestGuard, reason_of
from mlops.serving.predlog import PredictionLog, read_records
from mlops.serving.runtime import (
    Challenger,
    LoadedModel,
    MicroBatcher,
    Runtime,
    client_request_id,
    request_id,
    routes_to_challenger,
)
from mlops.serving.schema import record_model

GOOD = {
    "customer_id": "C0000001",
    "tenure_months": 3,
    "monthly_charges": 70,
    "total_charges": None,
    "support_calls": 1,
    "data_usage_gb": 3.5,
    "contract": "one-year",
    "payment_method": "mailed-check",
    "internet_service": "dsl",
    "region": "north",
}


class Constant:
    """A stand-in model that scores every row the same (the serving logic is what is under test)."""

    def __init__(self, p: float) -> None:
        self.p = p

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([np.full(len(frame), 1 - self.p), np.full(len(frame), self.p)])


def test_the_schema_follows_the_contract(contract: Contract) -> None:
    schema = record_model(contract)
    assert schema.model_validate(GOOD).model_dump()["monthly_charges"] == 70.0
    assert "churned" not in schema.model_fields  # the target is never an input
    cases = {
        "tenure_months": 1.5,
        "support_calls": "2",
        "monthly_charges": float("nan"),
        "contract": "lifetime",
        "region": None,
    }
    for field, value in cases.items():
        with pytest.raises(ValidationError) as err:
            schema.model_validate({**GOOD, field: value})
        assert err.value.errors()[0]["loc"] == (field,), field


def test_the_server_issues_every_request_id_and_keeps_the_clients_beside_it() -> None:
    issued = {request_id() for _ in range(1000)}
    assert len(issued) == 1000 and all(len(i) == 32 for i in issued)  # unique: one label, one prediction
    assert client_request_id("order-42") == "order-42"
    assert client_request_id("bad id with spaces") is None and client_request_id(None) is None
    ids = [f"r{i}" for i in range(4000)]
    share = sum(routes_to_challenger(r, 0.25) for r in ids) / len(ids)
    assert 0.22 < share < 0.28
    # Ramping the share up keeps every request id that already went to the challenger there.
    at_10, at_25 = ({r for r in ids if routes_to_challenger(r, s)} for s in (0.1, 0.25))
    assert at_10 <= at_25
    assert not any(routes_to_challenger(r, 0.0) for r in ids)


def runtime(challenger: Challenger | None, logged: list[dict[str, Any]]) -> Runtime:
    champion = LoadedModel("churn:a", Constant(0.2), threshold=0.3)
    return Runtime(
        champion, logged.extend, challenger, time_column="event_date", target="churned", labels=(0, 1)
    )


def test_split_traffic_answers_from_the_challenger_for_its_share_and_logs_who_answered() -> None:
    logged: list[dict[str, Any]] = []
    challenger = Challenger(LoadedModel("churn:b", Constant(0.9), threshold=0.3), "split", 0.5)
    rids = [f"r{i}" for i in range(200)]
    answers = runtime(challenger, logged).predict([GOOD] * 200, rids)
    by = {a["model_version"] for a in answers}
    assert by == {"churn:a", "churn:b"}
    for answer, entry, rid in zip(answers, logged, rids, strict=True):
        expected = "churn:b" if routes_to_challenger(rid, 0.5) else "churn:a"
        assert answer["model_version"] == entry["model_version"] == expected
        assert entry["role"] == ("challenger" if expected == "churn:b" else "champion")
        assert answer["churned"] == entry["predicted"] == int(answer["probability"] >= 0.3)
        assert entry["inputs"]["event_date"]  # stamped with the request date when omitted


def test_shadow_mode_answers_from_the_champion_and_logs_the_challenger() -> None:
    logged: list[dict[str, Any]] = []
    challenger = Challenger(LoadedModel("churn:b", Constant(0.9), threshold=0.3), "shadow", 0.0)
    answers = runtime(challenger, logged).predict([GOOD] * 3, ["a", "b", "c"])
    assert {a["model_version"] for a in answers} == {"churn:a"}
    assert all(
        e["shadow"] == {"model_version": "churn:b", "probability": 0.9, "predicted": 1} for e in logged
    )


def test_the_micro_batcher_scores_concurrent_requests_together() -> None:
    logged: list[dict[str, Any]] = []
    rt = runtime(None, logged)
    batcher = MicroBatcher(rt.predict, max_batch=64)

    async def burst() -> list[dict[str, Any]]:
        return await asyncio.gather(*(batcher.submit(GOOD, f"r{i}") for i in range(100)))

    answers = asyncio.run(burst())
    assert [a["request_id"] for a in answers] == [f"r{i}" for i in range(100)]
    assert sum(batcher.batch_sizes) == 100 and max(batcher.batch_sizes) > 1  # batched, none lost
    assert max(batcher.batch_sizes) <= 64 and len(logged) == 100


def test_the_log_rotates_drains_on_close_and_copies_rotated_files(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", max_records_per_file=30, remote_url=f"file://{tmp_path / 'remote'}")
    log.extend([{"request_id": str(i)} for i in range(100)])
    log.close()
    files = sorted((tmp_path / "log").glob("predictions-*.jsonl"))
    assert len(files) == 4  # 30 + 30 + 30 + 10
    assert [r["request_id"] for r in read_records(tmp_path / "log")] == [str(i) for i in range(100)]
    remote = sorted(p.name for p in (tmp_path / "remote").glob("*.jsonl"))
    assert remote == [f.name for f in files] and not log.errors


def test_rejection_reasons_come_from_the_first_pydantic_error() -> None:
    def body(kind: str) -> bytes:
        return json.dumps({"error": "x", "detail": [{"type": kind, "loc": ["customer", "a"]}]}).encode()

    assert reason_of(body("finite_number")) == "non_finite"
    assert reason_of(body("literal_error")) == "unknown_category"
    assert reason_of(body("int_type")) == "wrong_type"
    assert reason_of(body("missing")) == "missing_field"
    assert reason_of(b"not json") == "invalid"


def guarded(
    path: str,
    pieces: list[bytes],
    stall: bool = False,
    token: str = "",
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> tuple[int, list[bytes]]:
    """One POST through RequestGuard (100-byte limit, 0.05 s body timeout) in front of an echo app: the
    status answered and the bodies the app got. The body comes in `pieces`, with no Content-Length."""
    seen: list[bytes] = []

    class Echo:
        routes = tuple(SimpleNamespace(path=p) for p in ("/predict", "/feedback", "/livez"))

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append((await receive())["body"])
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

    messages = [
        {"type": "http.request", "body": b, "more_body": i < len(pieces) - 1} for i, b in enumerate(pieces)
    ]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if messages and not (stall and len(messages) < len(pieces)):
            return messages.pop(0)
        await asyncio.sleep(3600)  # the client stalls
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-type", b"application/json"), *headers],
    }
    guard = RequestGuard(Echo(), max_body_bytes=100, body_timeout_s=0.05, feedback_token=token)
    asyncio.run(guard(scope, receive, send))
    return status[0], seen


def test_the_guard_refuses_unknown_paths_and_bounds_bodies_in_bytes_and_time() -> None:
    assert guarded("/predict", [b"{", b'"a": 1', b"}"]) == (200, [b'{"a": 1}'])  # replayed whole
    assert guarded("/wp-admin.php", [b"{}"]) == (404, [])
    assert guarded("/predict", [b" " * 60, b" " * 60, b"{}"]) == (413, [])  # chunked: no Content-Length
    assert guarded("/predict", [b'{"a":', b" 1}"], stall=True) == (408, [])


def test_feedback_needs_the_bearer_token_once_one_is_set() -> None:
    body = [b'{"labels": []}']
    assert guarded("/feedback", body)[0] == 200  # no token configured: open (a developer's loopback)
    assert guarded("/feedback", body, token="s3cret") == (401, [])
    assert (
        guarded("/feedback", body, token="s3cret", headers=((b"authorization", b"Bearer wrong"),))[0] == 401
    )
    authorized = ((b"authorization", b"Bearer s3cret"),)
    assert guarded("/feedback", body, token="s3cret", headers=authorized)[0] == 200
    assert guarded("/predict", body, token="s3cret")[0] == 200  # predictions need no token


def test_smoke_verdicts_name_the_request_and_the_numbers() -> None:
    golden = [{"record": GOOD, "key": "k0", "probability": 0.25, "predicted": 0}] * 3
    good = Observation(200, 0.010, {"probability": 0.25, "model_version": "m:1"})
    assert evaluate(golden, [good] * 3, "m:1", 100) == ([], pytest.approx(10.0))
    wrong = Observation(200, 0.010, {"probability": 0.31, "model_version": "m:1"})
    other = Observation(200, 0.010, {"probability": 0.25, "model_version": "m:0"})
    failed = Observation(503, 0.010, {"error": "not ready"})
    slow = Observation(200, 0.500, {"probability": 0.25, "model_version": "m:1"})
    failures, _ = evaluate(golden * 4, [wrong, other, failed, slow], "m:1", 100)
    assert any(
        f.startswith(
            "golden request 0 (key k0): m:1 answered probability 0.31, the packaged model gives 0.250000"
        )
        for f in failures
    )
    assert "golden request 1: served by m:0, not m:1" in failures
    assert "golden request 2: HTTP 503 not ready" in failures
    assert any(f.startswith("p95 latency 500.0 ms over the budget 100 ms") for f in failures)


def test_smoke_checks_a_split_challenger_answer_against_its_own_golden_set() -> None:
    golden = [{"record": GOOD, "key": "k0", "probability": 0.25, "predicted": 0}]
    theirs = [{"record": GOOD, "key": "k0", "probability": 0.61, "predicted": 1}]
    by_challenger = Observation(200, 0.01, {"probability": 0.61, "model_version": "m:2"})
    assert evaluate(golden, [by_challenger], "m:1", 100, challenger=("m:2", theirs))[0] == []
    wrong = Observation(200, 0.01, {"probability": 0.25, "model_version": "m:2"})
    failures, _ = evaluate(golden, [wrong], "m:1", 100, challenger=("m:2", theirs))
    assert (
        len(failures) == 1
        and "m:2 answered probability 0.25, the packaged model gives 0.610000" in failures[0]
    )


def test_the_log_survives_a_bad_record_rotates_by_age_and_reads_past_a_half_line(tmp_path: Path) -> None:
    import time

    from mlops.io import InputError

    log = PredictionLog(tmp_path / "log", max_seconds_per_file=0.2)
    circular: dict[str, Any] = {"request_id": "bad"}
    circular["self"] = circular  # json.dumps raises: the batch is counted as dropped, the writer lives on
    log.append(circular)
    time.sleep(0.3)
    log.extend([{"request_id": "a"}])
    time.sleep(0.5)  # older than max_seconds_per_file: the next write goes to a new file
    log.extend([{"request_id": "b"}])
    log.close()
    assert log.dropped == 1 and "Circular reference" in log.errors[0]
    files = [f for f in sorted((tmp_path / "log").glob("predictions-*.jsonl")) if f.stat().st_size]
    assert [f.read_text().count("request_id") for f in files] == [1, 1]  # a and b: one file each
    files[-1].write_text(files[-1].read_text() + '{"request_id": "c", "proba')  # a write in progress
    assert [r["request_id"] for r in read_records(tmp_path / "log")] == ["a", "b"]
    files[0].write_text('not json\n{"request_id": "a"}\n')
    with pytest.raises(InputError, match=r"predictions-.*\.jsonl:1: not a JSON record"):
        read_records(tmp_path / "log")


def test_a_log_that_cannot_write_counts_every_dropped_record_logs_it_and_turns_unready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Disk full (a file on /dev/full: every flush fails with ENOSPC), then space again."""
    import logging

    from mlops.serving.predlog import PredictionLog

    events: list[tuple[str, int]] = []
    log = PredictionLog(tmp_path, observe=lambda event, count: events.append((event, count)))
    real_open = log._open

    def full_disk() -> None:
        real_open()
        log._file.close()
        log._file = Path("/dev/full").open("a", encoding="utf-8")  # noqa: SIM115 (the log closes it)

    log._open = full_disk  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="mlops.predlog"):
        log.extend([{"request_id": f"r{i}"} for i in range(10)])
        deadline = 200
        while not log.errors and deadline:
            import time

            time.sleep(0.01)
            deadline -= 1
    assert log.dropped == 10 and ("dropped", 10) in events and ("write_error", 1) in events
    assert not log.healthy()  # the service's readiness follows this
    assert "10 records failed, 10 dropped" in caplog.text and "No space left on device" in caplog.text
    log._open = real_open  # type: ignore[method-assign]
    log.append({"request_id": "after"})
    log.close()
    assert log.healthy() and ("written", 1) in events
    assert [r["request_id"] for r in read_records(tmp_path)] == ["after"]


def test_a_reused_client_id_is_logged_beside_unique_server_ids_and_a_shared_id_gets_no_label() -> None:
    from mlops.monitoring import drift as rules

    logged: list[dict[str, Any]] = []
    rt = runtime(None, logged)
    rt.predict([GOOD], [request_id()], ["order-42"])
    rt.predict([GOOD], [request_id()], ["order-42"])  # the client reused its id
    assert [e["client_request_id"] for e in logged] == ["order-42", "order-42"]
    assert logged[0]["request_id"] != logged[1]["request_id"]
    # A log where two predictions share an id (merged logs, or written before ids were server-issued):
    # a label for it lands on neither, and the join says how many it left out.
    frame = rules.log_frame([logged[0], {**logged[1], "request_id": logged[0]["request_id"]}])
    feedback = [
        {"request_id": logged[0]["request_id"], "label": 1},
        {"request_id": "never-served", "label": 0},
    ]
    assert rules.labelled(frame, feedback).empty
    assert rules.label_join(frame, feedback) == {"ambiguous_predictions": 2, "unmatched_labels": 1}


def test_smoke_requests_are_logged_as_such_and_left_out_of_drift_and_retrain() -> None:
    from mlops.monitoring import drift as rules

    logged: list[dict[str, Any]] = []
    rt = runtime(None, logged)
    rt.predict([GOOD, GOOD], ["a", "b"], None, ["smoke", None])
    assert logged[0]["traffic"] == "smoke" and "traffic" not in logged[1]
    kept, smoke = rules.production_traffic(logged)
    assert smoke == 1 and [r["request_id"] for r in kept] == ["b"]


def test_a_packaged_model_whose_bytes_changed_is_refused_naming_both_md5s(tmp_path: Path) -> None:
    import joblib

    from mlops.lineage import file_md5
    from mlops.serving.runtime import CorruptedModelError, load_packaged, verify_packaged

    joblib.dump(Constant(0.2), tmp_path / "model.joblib")
    metadata = {"model_md5": file_md5(tmp_path / "model.joblib"), "threshold": 0.3}
    verify_packaged(tmp_path, metadata)  # intact
    with (tmp_path / "model.joblib").open("ab") as fh:
        fh.write(b"\0")  # one byte more: what a bad copy or a truncated volume leaves
    with pytest.raises(CorruptedModelError) as err:
        load_packaged(tmp_path, "m:1", metadata)
    assert metadata["model_md5"] in str(err.value) and file_md5(tmp_path / "model.joblib") in str(err.value)
    assert "make package" in str(err.value)


def test_a_failed_upload_is_retried_until_the_bucket_is_back(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.write_text("not a folder")  # the "bucket" is unreachable: every copy fails
    events: list[tuple[str, int]] = []
    log = PredictionLog(
        tmp_path / "log",
        max_records_per_file=30,
        remote_url=f"file://{remote}",
        observe=lambda event, count: events.append((event, count)),
    )
    log.extend([{"request_id": str(i)} for i in range(40)])  # one rotation: its copy fails
    import time

    for _ in range(200):
        if ("upload_error", 1) in events:
            break
        time.sleep(0.01)
    assert ("upload_error", 1) in events and "upload of predictions-" in log.errors[0]
    remote.unlink()
    remote.mkdir()  # the bucket is back
    log.extend([{"request_id": str(i)} for i in range(40, 70)])  # the next batch retries first
    log.close()
    files = sorted(p.name for p in (tmp_path / "log").glob("predictions-*.jsonl"))
    assert sorted(p.name for p in remote.glob("*.jsonl")) == files  # every rotated file, the failed one too


def test_a_client_request_id_with_reserved_characters_is_refused() -> None:
    body = [b"{}"]
    assert guarded("/predict", body, headers=((b"x-request-id", b"order-42"),))[0] == 200
    assert guarded("/predict", body, headers=((b"x-request-id", b"batch-7:0"),)) == (400, [])  # ':' reserved
    assert guarded("/predict", body, headers=((b"x-request-id", b"a b"),)) == (400, [])
    assert client_request_id("batch-7:0") is None


def test_the_runtime_names_the_feedback_ids_it_never_answered() -> None:
    rt = runtime(None, [])
    rt.predict([GOOD, GOOD], ["a", "b"])
    assert rt.unknown(["a", "zzz", "b", "a:0"]) == ["zzz", "a:0"]


def test_log_failures_reach_the_server_log_once_a_minute_and_are_all_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    events: list[tuple[str, int]] = []
    log = PredictionLog(tmp_path, observe=lambda event, count: events.append((event, count)))
    with caplog.at_level(logging.ERROR, logger="mlops.predlog"):
        for i in range(5):
            log._failed("write_error", f"failure {i}")
    log.close()
    assert events.count(("write_error", 1)) == 5 and len(log.errors) == 5
    assert [r.getMessage().rsplit(": ", 1)[-1] for r in caplog.records] == ["failure 0"]


def test_the_log_rotation_age_comes_from_the_environment_and_a_bad_value_is_named() -> None:
    from mlops.io import InputError
    from mlops.serving.predlog import DEFAULT_ROTATE_SECONDS, ROTATE_ENV, rotate_seconds

    assert rotate_seconds({}) == DEFAULT_ROTATE_SECONDS == rotate_seconds({ROTATE_ENV: " "})
    assert rotate_seconds({ROTATE_ENV: "300"}) == 300.0
    for bad in ("0", "-5", "five", "nan", "inf"):
        with pytest.raises(InputError, match=f"{ROTATE_ENV}='{bad}'"):
            rotate_seconds({ROTATE_ENV: bad})
