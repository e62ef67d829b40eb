"""Typed, frozen models of params.yaml, one per stage section, validated when a stage starts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ParamsError(ValueError):
    """params.yaml is missing a section or has a wrong value: the message names the key."""


class _Section(BaseModel):
    # extra="forbid": a misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(frozen=True, extra="forbid")


class IngestParams(_Section):
    source: str = "synthetic"
    rows: int = Field(default=50_000, gt=0)
    seed: int = 42
    start_date: dt.date = dt.date(2025, 1, 1)
    days: int = Field(default=365, gt=0)
    covariate_shift: float = Field(default=0.0, ge=0.0, le=3.0)
    concept_shift: float = Field(default=0.0, ge=0.0, le=1.0)


class SplitParams(_Section):
    strategy: Literal["time", "random"] = "time"
    test_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 42


class HistGradientBoostingParams(_Section):
    learning_rate: float = Field(default=0.1, gt=0.0)
    max_iter: int = Field(default=200, gt=0)
    max_leaf_nodes: int = Field(default=31, gt=1)
    min_samples_leaf: int = Field(default=20, gt=0)
    l2_regularization: float = Field(default=0.0, ge=0.0)


class LogisticRegressionParams(_Section):
    C: float = Field(default=1.0, gt=0.0)
    max_iter: int = Field(default=1000, gt=0)


class RandomForestParams(_Section):
    n_estimators: int = Field(default=200, gt=0)
    max_depth: int | None = Field(default=None, gt=0)
    min_samples_leaf: int = Field(default=1, gt=0)


class MlflowParams(_Section):
    experiment: str = "customer-churn"
    registered_model: str = "customer-churn"


class TrainParams(_Section):
    estimator: Literal["hist_gradient_boosting", "logistic_regression", "random_forest"]
    seed: int = 42
    use_sensitive_features: bool = False
    monotonic: dict[str, Literal[-1, 1]] = Field(default_factory=dict)
    hist_gradient_boosting: HistGradientBoostingParams = HistGradientBoostingParams()
    logistic_regression: LogisticRegressionParams = LogisticRegressionParams()
    random_forest: RandomForestParams = RandomForestParams()
    mlflow: MlflowParams = MlflowParams()


class DeployParams(_Section):
    smoke_p95_ms: float = Field(gt=0)  # no default: params.yaml is the one source


class EvaluateParams(_Section):
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    calibration_bins: int = Field(default=10, ge=2)
    importance_rows: int = Field(default=4000, gt=0)
    importance_repeats: int = Field(default=3, gt=0)
    seed: int = 42


S = TypeVar("S", bound=BaseModel)


def load_section(path: str | Path, section: str, model: type[S]) -> S:
    """Read one section of params.yaml into its typed model; errors name the section and key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ParamsError(f"params file not found: {path}") from exc
    if section not in raw:
        raise ParamsError(f"{path}: section `{section}` is missing")
    try:
        return model.model_validate(raw[section])
    except ValidationError as exc:
        raise ParamsError(f"{path}: {describe_errors(exc, section)}") from exc


def describe_errors(exc: ValidationError, prefix: str = "") -> str:
    """One `dotted.key: message` per problem, instead of pydantic's multi-line dump."""
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{key}: {err['msg']}" if key else err["msg"])
    return "; ".join(parts)


class PerformanceGate(_Section):
    enabled: bool = True
    min: dict[str, float] = Field(default_factory=dict)  # floors, for metrics where higher is better
    max: dict[str, float] = Field(default_factory=dict)  # ceilings, for log_loss and brier


class ChampionGate(_Section):
    enabled: bool = True
    metric: Literal["roc_auc", "pr_auc", "log_loss", "brier"] = "roc_auc"
    tolerance: float = Field(default=0.005, ge=0.0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    bootstrap_samples: int = Field(default=500, ge=100)
    seed: int = 42


class RobustnessGate(_Section):
    enabled: bool = True
    metric: Literal["roc_auc", "pr_auc"] = "roc_auc"
    noise_std: float = Field(default=0.1, ge=0.0)
    missing_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    category_swap_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    max_drop: float = Field(default=0.03, ge=0.0)
    seed: int = 42


class FairnessGate(_Section):
    enabled: bool = True
    max_demographic_parity_difference: float = Field(default=0.1, ge=0.0, le=1.0)
    max_equal_opportunity_difference: float = Field(default=0.1, ge=0.0, le=1.0)
    min_group_roc_auc: float = Field(default=0.7, ge=0.0, le=1.0)
    min_group_size: int = Field(default=100, ge=1)


class DirectionalRule(_Section):
    column: str
    delta: float
    direction: Literal["increase", "decrease"]


class BehaviourGate(_Section):
    enabled: bool = True
    rows: int = Field(default=1000, gt=0)
    seed: int = 42
    tolerance: float = Field(default=1e-9, ge=0.0)
    invariance: list[str] = Field(default_factory=list)
    directional: list[DirectionalRule] = Field(default_factory=list)


class OperationalGate(_Section):
    enabled: bool = True
    max_p99_latency_ms: float = Field(default=50.0, gt=0.0)
    latency_samples: int = Field(default=300, ge=20)
    min_throughput_rows_per_s: float = Field(default=20_000.0, gt=0.0)
    batch_rows: int = Field(default=10_000, gt=0)
    max_model_size_mb: float = Field(default=25.0, gt=0.0)
    max_peak_memory_mb: float = Field(default=300.0, gt=0.0)


class GatesParams(_Section):
    performance: PerformanceGate = PerformanceGate()
    champion: ChampionGate = ChampionGate()
    robustness: RobustnessGate = RobustnessGate()
    fairness: FairnessGate = FairnessGate()
    behaviour: BehaviourGate = BehaviourGate()
    operational: OperationalGate = OperationalGate()


class ConceptParams(_Section):
    min_labels: int = Field(default=300, gt=0)
    max_roc_auc_drop: float = Field(default=0.05, ge=0.0, le=1.0)
    max_f1_drop: float = Field(default=0.08, ge=0.0, le=1.0)


class MonitoringParams(_Section):
    window_hours: float = Field(default=168.0, gt=0.0)
    min_rows: int = Field(default=500, gt=0)
    sample_cap: int = Field(default=100_000, gt=0)
    drift_share: float = Field(default=0.3, gt=0.0, le=1.0)
    column_threshold: float = Field(default=0.1, gt=0.0)
    prediction_threshold: float = Field(default=0.1, gt=0.0)
    max_missing_increase: float = Field(default=0.05, ge=0.0, le=1.0)
    concept: ConceptParams = ConceptParams()
    seed: int = 42
