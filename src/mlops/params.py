"""The typed, frozen model of params.yaml: `load_params` validates the whole file once per command.

params.yaml is the one place a number lives: every field is required (no defaults here), except the
opt-in lists and maps whose empty value means "nothing asked for" (train.monotonic, gates.performance.max,
gates.behaviour.invariance / directional). The estimators the pipeline can train are the rows of
ESTIMATORS: adding one is a settings model here, a builder in mlops.modeling and one row.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator


class ParamsError(ValueError):
    """params.yaml is missing a key or has a wrong value: the message names the dotted key."""


class _Section(BaseModel):
    # extra="forbid": a misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProjectParams(_Section):
    # The one project name: MLflow experiment and registered model, BentoML model / bento / service,
    # image name and Kubernetes `app` label, so it must be a DNS label.
    name: str = Field(pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
    threshold: float = Field(gt=0.0, lt=1.0)  # decision threshold: evaluate, gate, package, drift


class SyntheticParams(_Section):
    """The example's seeded generator (src/mlops/generate.py): only read when ingest.source is synthetic."""

    rows: int = Field(gt=0)
    seed: int
    start_date: dt.date
    days: int = Field(gt=0)
    covariate_shift: float = Field(ge=0.0, le=3.0)
    concept_shift: float = Field(ge=0.0, le=1.0)


class ReadParams(_Section):
    """How a CSV extract is read (Parquet carries its own schema and ignores all but `strip`/`na_values`)."""

    header: bool  # false: no header row; the columns are the contract's, in the contract's order
    delimiter: str = Field(min_length=1, max_length=1)
    encoding: str
    na_values: list[str]  # extra markers that mean "missing" (e.g. "?", "n/a"); "" is always missing
    strip: bool  # strip blanks around text values and header names (" Private" -> "Private")


class IngestParams(_Section):
    source: str  # `synthetic`, or a .csv / .parquet file under dvc.yaml paths.extracts
    read: ReadParams
    synthetic: SyntheticParams | None = None  # required when source is synthetic (the example)

    @model_validator(mode="after")
    def _synthetic_settings(self) -> IngestParams:
        if self.source == "synthetic" and self.synthetic is None:
            raise ValueError("source `synthetic` needs the `ingest.synthetic` settings (rows, seed, ...)")
        return self


class SplitParams(_Section):
    strategy: Literal["time", "random"]
    test_fraction: float = Field(gt=0.0, lt=1.0)
    seed: int
    # |holdout positive rate - train positive rate| above this fails the split (censored recent labels)
    max_target_rate_gap: float = Field(ge=0.0, le=1.0)


class EstimatorSettings(_Section):
    """Base of every estimator's settings model (a row of ESTIMATORS)."""


class HistGradientBoostingParams(EstimatorSettings):
    learning_rate: float = Field(gt=0.0)
    max_iter: int = Field(gt=0)
    max_leaf_nodes: int = Field(gt=1)
    min_samples_leaf: int = Field(gt=0)
    l2_regularization: float = Field(ge=0.0)


class LogisticRegressionParams(EstimatorSettings):
    C: float = Field(gt=0.0)
    max_iter: int = Field(gt=0)


class RandomForestParams(EstimatorSettings):
    n_estimators: int = Field(gt=0)
    max_depth: int | None = Field(gt=0)  # required; null = grow until the leaves are pure
    min_samples_leaf: int = Field(gt=0)


@dataclass(frozen=True)
class Estimator:
    settings: type[EstimatorSettings]  # validates train.<name>
    builder: str  # function in mlops.modeling: (train params, settings, numeric, categorical) -> Pipeline


# THE list of estimators: `train.estimator` is one of these keys, `train.<key>` holds its settings.
ESTIMATORS: dict[str, Estimator] = {
    "hist_gradient_boosting": Estimator(HistGradientBoostingParams, "hist_gradient_boosting_pipeline"),
    "logistic_regression": Estimator(LogisticRegressionParams, "logistic_regression_pipeline"),
    "random_forest": Estimator(RandomForestParams, "random_forest_pipeline"),
}


class _TrainBase(_Section):
    estimator: str
    seed: int
    use_sensitive_features: bool
    monotonic: dict[str, Literal[-1, 1]] = Field(default_factory=dict)  # opt-in: {} = no constraint

    @property
    def settings(self) -> EstimatorSettings:
        """The chosen estimator's settings (train.<estimator>)."""
        chosen: EstimatorSettings = getattr(self, self.estimator)
        return chosen


if TYPE_CHECKING:
    TrainParams = _TrainBase
else:
    # One required field per ESTIMATORS row, and `estimator` one of the table's keys: nothing to keep in sync.
    TrainParams = create_model(
        "TrainParams",
        __base__=_TrainBase,
        __module__=__name__,
        estimator=(Literal[tuple(ESTIMATORS)], ...),
        **{name: (row.settings, ...) for name, row in ESTIMATORS.items()},
    )


class EvaluateParams(_Section):
    calibration_bins: int = Field(ge=2)
    importance_rows: int = Field(gt=0)
    importance_repeats: int = Field(gt=0)
    seed: int


class PerformanceGate(_Section):
    enabled: bool
    min: dict[str, float]  # floors, for metrics where higher is better
    max: dict[str, float] = Field(default_factory=dict)  # opt-in ceilings, for log_loss and brier


class ChampionGate(_Section):
    enabled: bool
    metric: Literal["roc_auc", "pr_auc", "log_loss", "brier"]
    tolerance: float = Field(ge=0.0)
    confidence: float = Field(gt=0.5, lt=1.0)
    bootstrap_samples: int = Field(ge=100)
    seed: int


class RobustnessGate(_Section):
    enabled: bool
    metric: Literal["roc_auc", "pr_auc"]
    noise_std: float = Field(ge=0.0)
    missing_rate: float = Field(ge=0.0, le=1.0)
    category_swap_rate: float = Field(ge=0.0, le=1.0)
    max_drop: float = Field(ge=0.0)
    max_rows: int = Field(gt=0)
    seed: int


class LeakageGate(_Section):
    """Each model feature alone against the target on the holdout; the ceiling is the contract's
    table.max_single_feature_auc (a property of the data, so it lives with the data's description)."""

    enabled: bool


class TooGoodGate(_Section):
    """The candidate may not beat its baseline (the champion, else a reference logistic regression fit in
    the gate) by more than max_gain unless a reviewer wrote down why the gain is real."""

    enabled: bool
    metric: Literal["roc_auc", "pr_auc"]
    max_gain: float = Field(gt=0.0, le=1.0)
    acknowledge: str  # "" = not acknowledged; a reason = a larger gain is accepted (shown in the report)


FairnessCriterion = Literal["demographic_parity", "equal_opportunity", "group_roc_auc"]


class FairnessAttribute(_Section):
    """One sensitive attribute's own settings; a field left out takes the gate-wide value."""

    criteria: list[FairnessCriterion] | None = None  # which checks apply (None: all three)
    max_demographic_parity_difference: float | None = Field(default=None, ge=0.0, le=1.0)
    max_equal_opportunity_difference: float | None = Field(default=None, ge=0.0, le=1.0)
    min_group_roc_auc: float | None = Field(default=None, ge=0.0, le=1.0)


class FairnessGate(_Section):
    enabled: bool
    max_demographic_parity_difference: float = Field(ge=0.0, le=1.0)
    max_equal_opportunity_difference: float = Field(ge=0.0, le=1.0)
    min_group_roc_auc: float = Field(ge=0.0, le=1.0)
    min_group_size: int = Field(ge=1)
    # opt-in, per sensitive attribute of the contract: {} = the gate-wide settings for every attribute
    attributes: dict[str, FairnessAttribute] = Field(default_factory=dict)


class DirectionalRule(_Section):
    column: str
    delta: float
    direction: Literal["increase", "decrease"]


class BehaviourGate(_Section):
    enabled: bool
    rows: int = Field(gt=0)
    seed: int
    tolerance: float = Field(ge=0.0)
    invariance: list[str] = Field(default_factory=list)  # opt-in checks: [] = none
    directional: list[DirectionalRule] = Field(default_factory=list)  # opt-in checks: [] = none


class OperationalGate(_Section):
    enabled: bool
    max_p99_latency_ms: float = Field(gt=0.0)
    latency_samples: int = Field(ge=20)
    min_throughput_rows_per_s: float = Field(gt=0.0)
    batch_rows: int = Field(gt=0)
    max_model_size_mb: float = Field(gt=0.0)
    max_peak_memory_mb: float = Field(gt=0.0)


class GatesParams(_Section):
    performance: PerformanceGate
    champion: ChampionGate
    too_good: TooGoodGate
    leakage: LeakageGate
    robustness: RobustnessGate
    fairness: FairnessGate
    behaviour: BehaviourGate
    operational: OperationalGate


class DeployParams(_Section):
    smoke_p95_ms: float = Field(gt=0)


class PerformanceParams(_Section):
    min_labels: int = Field(gt=0)
    max_roc_auc_drop: float = Field(ge=0.0, le=1.0)
    min_relation_drop: float = Field(ge=0.0, le=1.0)
    bootstrap: int = Field(ge=50)


class FalseAlarmParams(_Section):
    """Per-rule false-alarm probabilities on calm traffic: their sum bounds the calibrated rules' per-run
    rate (the data-quality checks, e.g. a vanished category, are set to fire by chance far more rarely)."""

    inputs: float = Field(gt=0.0, lt=0.5)
    prediction: float = Field(gt=0.0, lt=0.5)
    relation: float = Field(gt=0.0, lt=0.5)
    drop: float = Field(gt=0.0, lt=0.5)


class MonitoringParams(_Section):
    window_hours: float = Field(gt=0.0)
    min_rows: int = Field(gt=0)
    retrain_min_rows: int = Field(gt=0)
    sample_cap: int = Field(gt=0)
    drift_share: float = Field(gt=0.0, le=1.0)
    column_threshold: float = Field(gt=0.0)
    prediction_threshold: float = Field(gt=0.0)
    max_missing_increase: float = Field(ge=0.0, le=1.0)
    false_alarms: FalseAlarmParams
    resamples: int = Field(ge=100)
    performance: PerformanceParams
    seed: int

    @model_validator(mode="after")
    def _enough_resamples(self) -> MonitoringParams:
        # A tail probability is estimated from the resamples: below 4 expected calm crossings the
        # calibrated limit is the sample's extreme, not a quantile.
        smallest = min(self.false_alarms.model_dump().values())
        if self.resamples * smallest < 4:
            raise ValueError(
                f"resamples {self.resamples} is too few for a false-alarm rate of {smallest}: "
                f"at least {math.ceil(4 / smallest)} are needed (4 expected calm crossings)"
            )
        return self


class Params(_Section):
    """The whole of params.yaml."""

    project: ProjectParams
    ingest: IngestParams
    split: SplitParams
    train: TrainParams
    evaluate: EvaluateParams
    gates: GatesParams
    deploy: DeployParams
    monitoring: MonitoringParams


def load_params(path: str | Path) -> Params:
    """params.yaml validated into Params; errors name the file and each dotted key."""
    path = Path(path)
    try:
        raw: Any = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ParamsError(f"params file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return Params.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise ParamsError(f"{path}: {describe_errors(exc)}") from exc


def describe_errors(exc: ValidationError, prefix: str = "") -> str:
    """One `dotted.key: message` per problem, instead of pydantic's multi-line dump."""
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{key}: {err['msg']}" if key else err["msg"])
    return "; ".join(parts)
