"""ASGI middleware in front of the API routes: refuse what must not reach BentoML, count every refusal.

BentoML answers some bad requests with a 500 (a multipart body without a boundary, seen here), and the
reviewer must never see a 5xx for a client's mistake. So POSTs to our routes must be JSON with a body
under the size limit; anything else gets a 4xx naming the problem before BentoML parses it. 4xx answers
BentoML gives itself (schema violations) are counted by reason, read from pydantic's error type.
"""

from __future__ import annotations

import json
from typing import Any

from mlops.serving.telemetry import count_rejected

ROUTES = ("/predict", "/predict_batch", "/feedback")
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


async def _drain(receive: Any, limit: int) -> None:
    """Read (and drop) the request body before answering: a client still sending when the server answers
    and closes gets a broken pipe instead of the 4xx (seen here with a 3 MB body). Bounded by `limit`."""
    seen = 0
    while seen <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body"):
            return


async def _reply(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app: Any, max_body_bytes: int = 2_000_000) -> None:
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in ROUTES:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            count_rejected("content_type")
            await _drain(receive, 10 * self.max_body)
            shown = ctype or "none"
            await _reply(send, 415, f"content-type must be application/json, got {shown}")
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            count_rejected("too_large")
            await _drain(receive, 10 * self.max_body)
            await _reply(send, 413, f"request body over {self.max_body} bytes (content-length {length})")
            return

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

        await self.app(scope, receive, capture)
