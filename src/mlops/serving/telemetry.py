"""Our Prometheus metrics, beside BentoML's own request metrics on /metrics.

BentoML runs its workers in Prometheus multiprocess mode and exposes the default registry, so counters
created here with prometheus_client appear on /metrics of every worker's server.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge

PREDICTIONS = Counter(
    "mlops_predictions",
    "Predictions served, by model version and predicted class (the contract's value)",
    ["model_version", "prediction"],
)
REJECTED = Counter("mlops_rejected_requests", "Requests refused before scoring, by reason", ["reason"])
LOG_RECORDS = Counter(
    "mlops_prediction_log_records",
    "Prediction-log records by log (predictions / feedback) and outcome (written / dropped)",
    ["log", "outcome"],
)
LOG_ERRORS = Counter(
    "mlops_prediction_log_errors", "Failed prediction-log writes and uploads", ["log", "kind"]
)
LOG_QUEUE = Gauge(
    "mlops_prediction_log_queue_depth",
    "Records accepted but not yet written, after the writer's last batch",
    ["log"],
    multiprocess_mode="max",
)
MODEL = Gauge(
    "mlops_model_info",
    "The models this server runs (value 1), with their role and scoring path (compiled | sklearn)",
    ["model_version", "role", "scoring"],
    multiprocess_mode="max",
)


DRIFT_SHARE = Gauge(
    "mlops_drift_share",
    "Share of feature columns drifted in the last drift report (-1: no report yet)",
    multiprocess_mode="max",
)
DRIFT_DETECTED = Gauge(
    "mlops_drift_detected",
    "1 when the last drift report found drift, else 0 (-1: no report yet)",
    multiprocess_mode="max",
)


def refresh_drift(summary: Path) -> None:
    """Publish the latest drift report (written by `mlops drift`) as gauges; -1 when there is none."""
    try:
        data = json.loads(summary.read_text())
    except (OSError, ValueError):
        DRIFT_SHARE.set(-1)
        DRIFT_DETECTED.set(-1)
        return
    DRIFT_SHARE.set(float(data.get("drifted_share", 0.0)))
    DRIFT_DETECTED.set(1 if data.get("status") == "drift" else 0)


def watch_drift(summary: Path, every_seconds: float = 30.0) -> threading.Thread:
    """Re-read the drift report in a daemon thread (the drift job runs elsewhere, on a schedule)."""

    def loop() -> None:
        while True:
            refresh_drift(summary)
            time.sleep(every_seconds)

    thread = threading.Thread(target=loop, name="drift-gauges", daemon=True)
    thread.start()
    return thread


def log_observer(log: str) -> Any:
    """The `observe` hook of a PredictionLog named `log`: every record written or dropped and every failed
    write or upload is a counter, the queue depth a gauge (deploy/monitoring/alerts.yml alerts on them).
    Every series exists from the start at 0, so `increase()` sees the first failure."""
    for outcome in ("written", "dropped"):
        LOG_RECORDS.labels(log=log, outcome=outcome)
    for kind in ("write_error", "upload_error"):
        LOG_ERRORS.labels(log=log, kind=kind)
    LOG_QUEUE.labels(log=log).set(0)

    def observe(event: str, count: int) -> None:
        if event in ("written", "dropped"):
            if count:
                LOG_RECORDS.labels(log=log, outcome=event).inc(count)
        elif event == "queue_depth":
            LOG_QUEUE.labels(log=log).set(count)
        else:
            LOG_ERRORS.labels(log=log, kind=event).inc(count)

    return observe


def count_prediction(model_version: str, prediction: str | int) -> None:
    PREDICTIONS.labels(model_version=model_version, prediction=str(prediction)).inc()


def count_rejected(reason: str) -> None:
    REJECTED.labels(reason=reason).inc()


def model_info(champion: Any, challenger: Any) -> None:
    MODEL.labels(model_version=champion.version, role="champion", scoring=champion.scoring).set(1)
    if challenger is not None:
        loaded, role = challenger.loaded, f"challenger-{challenger.mode}"
        MODEL.labels(model_version=loaded.version, role=role, scoring=loaded.scoring).set(1)
