"""The BentoML 1.4 service: /predict, /predict_batch, /feedback, plus BentoML's /readyz, /livez, /metrics.

The one module besides mlops.adapters.bento that imports bentoml: the service class is BentoML's
decorators. Model-store reads (the champion's folder and metadata) go through the adapter.

Configuration comes from the environment, set by `mlops deploy` from deploy/<env>.yaml (and baked into
the bento as defaults by `mlops package`):
  MLOPS_PROJECT            params.yaml project.name: the service's name (baked in by `mlops package`)
  MLOPS_MODEL_TAG          champion model in the BentoML model store (<project>:<md5 prefix>)
  MLOPS_CHALLENGER_TAG     optional challenger; MLOPS_CHALLENGER_MODE split|shadow; MLOPS_CHALLENGER_SHARE
  MLOPS_PREDICTION_LOG_DIR prediction log folder (rotating JSONL); MLOPS_PREDICTION_LOG_URL fsspec copy;
                           MLOPS_PREDICTION_LOG_ROTATE_SECONDS its file age limit (default 3600)
  MLOPS_CONTRACT           the data contract the request schema is generated from

Invalid requests never reach the model: the request schema (from the contract) rejects them with a 4xx
naming the field (unknown top-level fields too), and `RequestGuard` rejects what BentoML would otherwise
answer with a 500 (non-JSON content types, multipart bodies, oversized bodies), unknown paths (404),
oversized and stalled bodies (413, 408), and counts every rejection by reason. The guard wraps the whole
ASGI app, outside BentoML's own middlewares: its metrics middleware labels requests by raw path, so an
unknown path must be answered before it is seen there. A client's 4xx leaves no traceback in the log.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import bentoml
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from mlops.adapters import bento as bento_store
from mlops.contract import load_contract
from mlops.serving import SMOKE_TRAFFIC, TRAFFIC_HEADER, telemetry
from mlops.serving.guard import RequestGuard
from mlops.serving.predlog import FEEDBACK_PREFIX, PredictionLog, rotate_seconds
from mlops.serving.runtime import (
    Challenger,
    MicroBatcher,
    Runtime,
    client_request_id,
    load_packaged,
    request_id,
)
from mlops.serving.schema import MAX_BATCH, record_model

# params.yaml project.name, which the container cannot read: MLOPS_PROJECT (the Dockerfile's ENV, the
# bento's envs), else the name part of MLOPS_MODEL_TAG (`mlops deploy` sets it; tags are <project>:<md5>).
PROJECT = os.environ.get("MLOPS_PROJECT") or os.environ.get("MLOPS_MODEL_TAG", "").split(":", 1)[0]
MODEL_TAG = os.environ.get("MLOPS_MODEL_TAG") or f"{PROJECT}:latest"
LOG_DIR = os.environ.get("MLOPS_PREDICTION_LOG_DIR", "predictions")


def _contract_path() -> Path:
    """The contract the champion was trained on: packaged beside it, so schema and model always agree."""
    if explicit := os.environ.get("MLOPS_CONTRACT"):
        return Path(explicit)
    return bento_store.model(MODEL_TAG).path / "contract.yaml"


CONTRACT = load_contract(_contract_path())
Record = record_model(CONTRACT)
LABELS = CONTRACT.labels  # (negative, positive), as the contract spells them

# One answer: {request_id, model_version, probability, <target>: <the contract's value>}. A pydantic model
# rather than a dict: BentoML derives a dict's response schema anew on every request (measured: ~0.3-0.4 ms
# of a ~9 ms request, and 16 % of the throughput at 32 clients).
Prediction: type[BaseModel] = create_model(
    "Prediction",
    request_id=(str, ...),
    model_version=(str, ...),
    probability=(float, ...),
    **{CONTRACT.target: (type(LABELS[1]), ...)},  # type: ignore[call-overload]
)


class Predictions(BaseModel):
    predictions: list[Prediction]


class Label(BaseModel):
    """A fed-back outcome: the contract's target value (or 0/1), stored as 0/1 for the monitoring job."""

    model_config = ConfigDict(extra="forbid", strict=True)
    request_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
    label: str | int

    @field_validator("label")
    @classmethod
    def _known(cls, value: str | int) -> int:
        if value in (LABELS[1], 1) and not isinstance(value, bool):
            return 1
        if value in (LABELS[0], 0) and not isinstance(value, bool):
            return 0
        raise ValueError(f"label must be one of {[*LABELS]} (or 0 / 1), got {value!r}")


def _traffic(ctx: Any) -> str | None:
    """ "smoke" for a deploy's own smoke requests (logged, and left out of drift and retrain), else None."""
    return SMOKE_TRAFFIC if ctx.request.headers.get(TRAFFIC_HEADER.lower()) == SMOKE_TRAFFIC else None


def _id_headers(ctx: Any, rid: str, client: str | None) -> None:
    """X-Request-ID: the server's id (what /feedback takes); X-Client-Request-ID: the caller's, echoed."""
    ctx.response.headers["x-request-id"] = rid
    if client:
        ctx.response.headers["x-client-request-id"] = client


def _load(tag: str) -> Any:
    model = bento_store.model(tag)
    return load_packaged(model.path, model.tag, model.metadata)


@bentoml.service(
    name=PROJECT or None,
    workers=1,
    traffic={"timeout": 30, "max_concurrency": 256},
    logging={"access": {"enabled": os.environ.get("MLOPS_ACCESS_LOG", "true") == "true"}},
)
class ModelService:
    def __init__(self) -> None:
        rotate = rotate_seconds(os.environ)  # a bad value stops the start, naming the variable
        self.log = PredictionLog(
            LOG_DIR,
            max_seconds_per_file=rotate,
            remote_url=os.environ.get("MLOPS_PREDICTION_LOG_URL"),
            observe=telemetry.log_observer("predictions"),
        )
        self.feedback = PredictionLog(  # copied to the same bucket: a drift job fed from it needs labels
            LOG_DIR,
            prefix=FEEDBACK_PREFIX,
            max_seconds_per_file=rotate,
            remote_url=os.environ.get("MLOPS_PREDICTION_LOG_URL"),
            observe=telemetry.log_observer(FEEDBACK_PREFIX),
        )
        champion = _load(MODEL_TAG)
        challenger = None
        if tag := os.environ.get("MLOPS_CHALLENGER_TAG"):
            mode = os.environ.get("MLOPS_CHALLENGER_MODE", "shadow")
            share = float(os.environ.get("MLOPS_CHALLENGER_SHARE", "0"))
            challenger = Challenger(_load(tag), "split" if mode == "split" else "shadow", share)
        self.runtime = Runtime(
            champion,
            self.log.extend,
            challenger,
            telemetry.count_prediction,
            CONTRACT.time_column,
            CONTRACT.target,
            LABELS,
        )
        self.batcher = MicroBatcher(self.runtime.predict, max_batch=256)
        telemetry.model_info(champion, challenger)
        # Drift gauges from the monitoring job's latest report: beside the log by default (make drift).
        default = Path(LOG_DIR).parent / "drift" / "drift.json"
        every = float(os.environ.get("MLOPS_DRIFT_REFRESH_SECONDS", "30"))
        telemetry.watch_drift(Path(os.environ.get("MLOPS_DRIFT_SUMMARY") or default), every)

    def __is_ready__(self) -> bool:
        # Not ready while predictions cannot reach the log: a deploy onto an unwritable log folder fails
        # its smoke test (readiness) instead of serving answers that are silently lost.
        return self.runtime is not None and self.log.healthy() and self.feedback.healthy()

    @bentoml.on_shutdown
    def _flush(self) -> None:
        """Graceful shutdown (SIGTERM): every accepted prediction reaches the log before exit."""
        self.log.close()
        self.feedback.close()

    @bentoml.api(route="/predict")
    async def predict(self, record: Record, ctx: bentoml.Context) -> Prediction:  # type: ignore[valid-type]
        rid, client = request_id(), client_request_id(ctx.request.headers.get("x-request-id"))
        kind = _traffic(ctx)
        answer: dict[str, Any] = await self.batcher.submit(record.model_dump(), rid, client, kind)  # type: ignore[attr-defined]
        _id_headers(ctx, rid, client)
        return Prediction(**answer)

    @bentoml.api(route="/predict_batch")
    def predict_batch(
        self,
        records: Annotated[list[Record], Field(min_length=1, max_length=MAX_BATCH)],  # type: ignore[valid-type]
        ctx: bentoml.Context,
    ) -> Predictions:
        rid, client = request_id(), client_request_id(ctx.request.headers.get("x-request-id"))
        rids = [f"{rid}:{i}" for i in range(len(records))]
        clients = [f"{client}:{i}" if client else None for i in range(len(records))]
        kinds = [_traffic(ctx)] * len(records)
        answers = self.runtime.predict([r.model_dump() for r in records], rids, clients, kinds)  # type: ignore[attr-defined]
        _id_headers(ctx, rid, client)
        return Predictions(predictions=[Prediction(**a) for a in answers])

    @bentoml.api(route="/feedback")
    def feedback_labels(
        self, labels: Annotated[list[Label], Field(min_length=1, max_length=10_000)]
    ) -> dict[str, Any]:
        """Ground truth for served predictions, by request id (for the monitoring job's concept drift).

        Every label is stored (it may be for an answer of an earlier server); the ones this server did not
        answer are reported, so a client sending ids it never got from us (its own, a typo) finds out."""
        self.feedback.extend([label.model_dump() for label in labels])
        unknown = self.runtime.unknown([label.request_id for label in labels])
        return {"accepted": len(labels), "unknown": len(unknown), "unknown_ids": unknown[:20]}


MAX_BODY_BYTES = 2_000_000


def _forbid_unknown_top_level_fields(service: Any) -> None:
    """BentoML's generated input models (the body's top level: {"record": ...}) ignore unknown keys;
    refuse them, as the records do: {"record": ..., "dry_run": true} must not be silently ignored."""
    for method in service.apis.values():
        spec = method.input_spec
        if getattr(spec, "__root_input__", False):
            continue
        attrs = {"model_config": ConfigDict(extra="forbid"), "__module__": spec.__module__}
        method.input_spec = type(spec.__name__, (spec,), attrs)


def _guard_outside_bentoml(to_asgi: Any) -> Any:
    """`add_asgi_middleware` puts a middleware inside BentoML's (metrics, tracing, access log, timeout):
    too late for unknown paths and stalled bodies. So the app BentoML builds for this service is wrapped."""

    @functools.wraps(to_asgi)
    def wrapped(service: Any, is_main: bool = True) -> Any:
        app = to_asgi(service, is_main)
        return RequestGuard(app, max_body_bytes=MAX_BODY_BYTES) if service is ModelService else app

    return wrapped


class _NoClientErrorTracebacks(logging.Filter):
    """BentoML logs every schema violation (a 400) as an error with the ValidationError's traceback: a
    client's mistake, already answered, counted (mlops_rejected_requests_total) and in the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        if type(exc).__name__ == "ValidationError":
            return False
        code = getattr(getattr(exc, "error_code", None), "value", 500)
        return not (isinstance(code, int) and 400 <= code < 500)


_forbid_unknown_top_level_fields(ModelService)
_service_type: Any = type(ModelService)  # bentoml's Service class (there is one service per process)
_service_type.to_asgi = _guard_outside_bentoml(_service_type.to_asgi)
logging.getLogger("bentoml._internal.server.http_app").addFilter(_NoClientErrorTracebacks())
