"""Pure construction of the model: one scikit-learn Pipeline (preprocessing + estimator) from the contract.

The Pipeline takes a whole record (every contract column but the target) and drops id, time and sensitive
columns itself, so serving can pass records as they arrive and "the id never changes the score" is a
property of the saved model, not of the caller.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from mlops import threads
from mlops.contract import Contract
from mlops.params import (
    ESTIMATORS,
    HistGradientBoostingParams,
    LogisticRegressionParams,
    RandomForestParams,
    TrainParams,
)


def input_columns(contract: Contract) -> list[str]:
    """What the model is called with: every contract column except the target."""
    return [name for name in contract.data_columns if name != contract.target]


def targets(df: pd.DataFrame, contract: Contract) -> np.ndarray:
    """The target as 0/1 (1 = the contract's positive label), as every model here is fitted and judged."""
    return (df[contract.target] == contract.positive_label).to_numpy(dtype=int)


def _check_monotonic(contract: Contract, numeric: list[str], monotonic: dict[str, int]) -> None:
    unknown = sorted(set(monotonic) - set(numeric))
    if unknown:
        raise ValueError(f"train.monotonic names {unknown}, which are not numeric model features {numeric}")


def hist_gradient_boosting_pipeline(
    params: TrainParams, hp: HistGradientBoostingParams, numeric: list[str], categorical: list[str]
) -> Pipeline:
    # Native NaN handling and categorical splits: numerics pass through, categories become ordinals;
    # an unseen category becomes NaN, which the trees treat as missing instead of failing at serve time.
    encode = ColumnTransformer(
        [
            ("num", "passthrough", numeric),
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
                ),
                categorical,
            ),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    model = HistGradientBoostingClassifier(
        learning_rate=hp.learning_rate,
        max_iter=hp.max_iter,
        max_leaf_nodes=hp.max_leaf_nodes,
        min_samples_leaf=hp.min_samples_leaf,
        l2_regularization=hp.l2_regularization,
        categorical_features=categorical,
        monotonic_cst=dict(params.monotonic) or None,
        early_stopping=False,  # a fixed number of iterations keeps training deterministic and reproducible
        random_state=params.seed,
    )
    return Pipeline([("preprocess", encode), ("model", model)])


def _one_hot(numeric: list[str], categorical: list[str], scale: bool) -> ColumnTransformer:
    numeric_steps = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True), *([StandardScaler()] if scale else [])
    )
    return ColumnTransformer(
        [
            ("num", numeric_steps, numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ],
        remainder="drop",
    )


def logistic_regression_pipeline(
    params: TrainParams, lr: LogisticRegressionParams, numeric: list[str], categorical: list[str]
) -> Pipeline:
    model = LogisticRegression(C=lr.C, max_iter=lr.max_iter, random_state=params.seed)
    return Pipeline([("preprocess", _one_hot(numeric, categorical, scale=True)), ("model", model)])


def random_forest_pipeline(
    params: TrainParams, rf: RandomForestParams, numeric: list[str], categorical: list[str]
) -> Pipeline:
    model = RandomForestClassifier(
        n_estimators=rf.n_estimators,
        max_depth=rf.max_depth,
        min_samples_leaf=rf.min_samples_leaf,
        n_jobs=1,  # stages run in parallel under CI; determinism does not depend on thread count
        random_state=params.seed,
    )
    return Pipeline([("preprocess", _one_hot(numeric, categorical, scale=False)), ("model", model)])


# The builders by name: an ESTIMATORS row (mlops.params) names its builder here (tests/unit/test_modeling.py
# holds the two to the same set).
BUILDERS: dict[str, Callable[..., Pipeline]] = {
    builder.__name__: builder
    for builder in (hist_gradient_boosting_pipeline, logistic_regression_pipeline, random_forest_pipeline)
}


def build_pipeline(contract: Contract, params: TrainParams) -> Pipeline:
    """An unfitted Pipeline for the estimator named in params (its builder: the ESTIMATORS row)."""
    features = contract.features(include_sensitive=params.use_sensitive_features)
    numeric, categorical = contract.numeric(features), contract.categorical(features)
    _check_monotonic(contract, numeric, dict(params.monotonic))
    builder = BUILDERS[ESTIMATORS[params.estimator].builder]
    return builder(params, params.settings, numeric, categorical)


def estimator_params(params: TrainParams) -> dict[str, object]:
    """The flat params worth logging for the chosen estimator (MLflow params are flat key/values)."""
    chosen = params.settings.model_dump()
    return {
        "estimator": params.estimator,
        "seed": params.seed,
        "use_sensitive_features": params.use_sensitive_features,
        **{f"monotonic.{k}": v for k, v in params.monotonic.items()},
        **{f"{params.estimator}.{k}": v for k, v in chosen.items()},
    }


def fit(contract: Contract, params: TrainParams, x: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """The model pipeline fitted on (x, y) on ONE native thread: parallel histogram sums round differently
    with another thread count, so the model's bytes (and dvc.lock) would depend on the machine's cores
    (measured: 1 and 2 threads, two md5s)."""
    with threads.one_native_thread():
        return build_pipeline(contract, params).fit(x, y)
