"""Our Prometheus metrics, beside BentoML's own request metrics on /metrics.

BentoML runs its workers in Prometheus multiprocess mode and exposes the default registry, so counters
created here with prometheus_client appear on /metrics of every worker's server.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge

PREDICTIONS = Counter(
    "mlops_predictions", "Predictions served, by model version and class", ["model_version", "churn"]
)
REJECTED = Counter("mlops_rejected_requests", "Requests refused before scoring, by reason", ["reason"])
MODEL = Gauge(
    "mlops_model_info",
    "The models this server runs (value 1), with their role",
    ["model_version", "role"],
    multiprocess_mode="max",
)


def count_prediction(model_version: str, churn: int) -> None:
    PREDICTIONS.labels(model_version=model_version, churn=str(churn)).inc()


def count_rejected(reason: str) -> None:
    REJECTED.labels(reason=reason).inc()


def model_info(champion: Any, challenger: Any) -> None:
    MODEL.labels(model_version=champion.version, role="champion").set(1)
    if challenger is not None:
        MODEL.labels(model_version=challenger.loaded.version, role=f"challenger-{challenger.mode}").set(1)
