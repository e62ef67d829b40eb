"""ASGI middleware in front of the whole app: refuse what must not reach BentoML, count every refusal.

BentoML answers some bad requests with a 500 (a multipart body without a boundary, seen here), and the
reviewer must never see a 5xx for a client's mistake. So POSTs to our routes must be JSON with a body
under the size limit; anything else gets a 4xx naming the problem before BentoML parses it. 4xx answers
BentoML gives itself (schema violations) are counted by reason, read from pydantic's error type.

Hostile traffic stays bounded (issue 13):
- unknown paths: BentoML's metrics middleware labels every request with its raw path, so each distinct
  path a scanner tries would add series to /metrics for good. The guard wraps the whole app (outside
  BentoML's middlewares, see `guard_app` in service.py) and answers 404 itself to any path that is not a
  route of the app, counted once under reason="unknown_path";
- the body limit counts the bytes actually received (chunked bodies have no Content-Length);
- the whole body must arrive within BODY_TIMEOUT_S, else 408: a stalled or short body must not hold a
  concurrency slot until BentoML's 30 s timeout answers 504.
- `/feedback` writes ground truth the retrain trains on: with MLOPS_FEEDBACK_TOKEN set (a Kubernetes
  Secret, a CI secret), only `Authorization: Bearer <token>` may post labels (401 otherwise, counted as
  reason="unauthorized"). Unset, it is open, as on a developer's loopback server.
The body of a POST to our routes is read here, up to the limit, and replayed to BentoML (which reads all
of it anyway to parse the JSON).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
from pathlib import Path
from typing import Any

from mlops.serving import NONCE_ENV, SERVER_HEADER
from mlops.serving.runtime import CLIENT_REQUEST_ID
from mlops.serving.telemetry import count_rejected

ROUTES = ("/predict", "/predict_batch", "/feedback")
# Seconds a client has to send the whole request body once the headers are in. Small: the largest body we
# accept (2 MB) takes well under a second on any network a client should call from, and every stalled
# request holds one of the server's concurrency slots. MLOPS_BODY_TIMEOUT_S overrides it (the tests use 1).
BODY_TIMEOUT_S = float(os.environ.get("MLOPS_BODY_TIMEOUT_S", "10"))
FEEDBACK_TOKEN_ENV = "MLOPS_FEEDBACK_TOKEN"
# pydantic error types -> the reason label of mlops_rejected_requests_total
REASONS = (
    ("finite_number", "non_finite"),
    ("missing", "missing_field"),
    ("extra_forbidden", "unknown_field"),
    ("literal_error", "unknown_category"),
    ("greater_than", "out_of_range"),
    ("less_than", "out_of_range"),
    ("string_pattern_mismatch", "bad_format"),
    ("too_short", "batch_size"),
    ("too_long", "batch_size"),
    ("json_invalid", "invalid_json"),
    ("_type", "wrong_type"),
    ("value_error", "bad_value"),
)


def reason_of(body: bytes) -> str:
    """The rejection reason of a 4xx body: the first pydantic error's type, mapped; else 'invalid'."""
    try:
        detail = json.loads(body).get("detail")
        kind = str(detail[0]["type"]) if isinstance(detail, list) and detail else ""
    except (ValueError, AttributeError, KeyError, TypeError):
        kind = ""
    for needle, reason in REASONS:
        if needle in kind:
            return reason
    return "invalid"


def known_paths(app: Any) -> frozenset[str]:
    """Every path the app answers, as exact strings: its parameterless routes, and the files of its static
    mounts (a mount's prefix alone would let /static_content/<anything> through to the metrics)."""
    paths: set[str] = set(ROUTES)
    for route in getattr(app, "routes", ()):
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        directory = getattr(getattr(route, "app", None), "directory", None)
        if directory is not None:  # a StaticFiles mount
            root = Path(directory)
            paths.update(f"{path}/{f.relative_to(root).as_posix()}" for f in root.rglob("*") if f.is_file())
        elif not getattr(route, "param_convertors", None) and not hasattr(route, "routes"):
            paths.add(path or "/")
    return frozenset(paths)


class BodyTooLargeError(Exception):
    pass


class ClientGoneError(Exception):
    pass


async def _read_body(receive: Any, limit: int) -> bytes:
    """The whole request body; BodyTooLargeError as soon as more than `limit` bytes arrived,
    ClientGoneError on a disconnect. The caller bounds it in time."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGoneError
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _drain(receive: Any, limit: int, seconds: float) -> None:
    """Read (and drop) the request body before answering: a client still sending when the server answers
    and closes gets a broken pipe instead of the 4xx (seen here with a 3 MB body). Bounded by `limit` bytes
    and by `seconds`: a client that stalls gets its answer when the time is up."""
    seen = 0
    try:
        async with asyncio.timeout(seconds):
            while seen <= limit:
                message = await receive()
                if message["type"] != "http.request":
                    return
                seen += len(message.get("body", b""))
                if not message.get("more_body"):
                    return
    except TimeoutError:
        return


async def _reply(send: Any, status: int, message: str, close: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the body may still be on its way: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(
        self,
        app: Any,
        max_body_bytes: int = 2_000_000,
        body_timeout_s: float | None = None,
        server_nonce: str | None = None,
        feedback_token: str | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.body_timeout = BODY_TIMEOUT_S if body_timeout_s is None else body_timeout_s
        self._known: frozenset[str] | None = None
        # Stamped on every answer (SERVER_HEADER): the deploy's smoke test checks it talks to
        # the server it started, not to an orphan of an earlier one on the same port.
        nonce = os.environ.get(NONCE_ENV, "") if server_nonce is None else server_nonce
        self.stamp = (SERVER_HEADER.lower().encode(), nonce.encode("latin-1", "replace")) if nonce else None
        token = os.environ.get(FEEDBACK_TOKEN_ENV, "") if feedback_token is None else feedback_token
        self.feedback_auth = f"Bearer {token}".encode("latin-1") if token else None

    def is_known(self, path: str) -> bool:
        if self._known is None:  # the app's routes are complete once it serves (mounts are added late)
            self._known = known_paths(self.app)
        return path in self._known

    def _stamped(self, send: Any) -> Any:
        async def stamped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and self.stamp is not None:
                message = {**message, "headers": [*message.get("headers", ()), self.stamp]}
            await send(message)

        return stamped

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.stamp is not None:
            send = self._stamped(send)
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif not self.is_known(scope["path"]):
            count_rejected("unknown_path")
            await _drain(receive, self.max_body, self.body_timeout)
            await _reply(send, 404, "not found")
        elif scope["method"] != "POST" or scope["path"] not in ROUTES:
            await self.app(scope, receive, send)
        elif not await self._refused_by_headers(scope, receive, send):
            await self._guard_body(scope, receive, send)

    async def _refused_by_headers(self, scope: dict[str, Any], receive: Any, send: Any) -> bool:
        """Answer 401 (feedback without its token), 415 (not JSON) or 413 (declared too large) before any
        of the body is read."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"] == "/feedback" and self.feedback_auth is not None:
            given = headers.get("authorization", "").encode("latin-1")
            if not hmac.compare_digest(given, self.feedback_auth):  # constant time: no token oracle
                count_rejected("unauthorized")
                await _drain(receive, 10 * self.max_body, self.body_timeout)
                await _reply(send, 401, f"/feedback needs Authorization: Bearer <{FEEDBACK_TOKEN_ENV}>")
                return True
        client_id = headers.get("x-request-id")
        if client_id is not None and scope["path"] != "/feedback" and not CLIENT_REQUEST_ID.match(client_id):
            count_rejected("bad_request_id")
            await _drain(receive, 10 * self.max_body, self.body_timeout)
            await _reply(
                send,
                400,
                f"X-Request-ID must match {CLIENT_REQUEST_ID.pattern} (':' is reserved for batch items)",
            )
            return True
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            count_rejected("content_type")
            await _drain(receive, 10 * self.max_body, self.body_timeout)
            shown = ctype or "none"
            await _reply(send, 415, f"content-type must be application/json, got {shown}")
            return True
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            count_rejected("too_large")
            await _drain(receive, 10 * self.max_body, self.body_timeout)
            await _reply(send, 413, f"request body over {self.max_body} bytes (content-length {length})")
            return True
        return False

    async def _guard_body(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Read the body (bounded in bytes and time), replay it to BentoML, count its 4xx answers."""
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await _read_body(receive, self.max_body)
        except BodyTooLargeError:
            count_rejected("too_large")
            await _drain(receive, 10 * self.max_body, self.body_timeout)
            await _reply(send, 413, f"request body over {self.max_body} bytes", close=True)
            return
        except TimeoutError:
            count_rejected("body_timeout")
            await _reply(send, 408, f"request body not received within {self.body_timeout:g} s", close=True)
            return
        except ClientGoneError:
            return

        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: dict[str, Any] = await receive()
            return message

        status: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "http.response.body" and 400 <= status.get("code", 0) < 500:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    count_rejected(reason_of(b"".join(chunks)))
            await send(message)

        await self.app(scope, replay, capture)
