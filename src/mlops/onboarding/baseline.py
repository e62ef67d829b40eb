"""The quick baseline init measures on the ingested sample: a logistic regression's holdout metrics, the
performance floors set below it, and each input's single-feature ROC AUC (a leak reads as near 1).

Pure computations (sklearn imported inside, when they run).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mlops.contract import Contract

BASELINE_ROWS = 20_000  # the quick baseline fits on at most this many sampled rows (~1 s)
FLOOR_MARGIN = 0.05  # performance floors sit at least this far below the baseline
NOISE_SES = 3.0  # ... and at least this many standard errors of a rate at the holdout's minority class size
MIN_ROC_AUC_FLOOR = 0.55  # a floor below this would pass a model no better than chance


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(rows, random_state=seed) if len(frame) > rows else frame


def baseline(
    frame: pd.DataFrame, contract: Contract, threshold: float, use_sensitive: bool, seed: int = 42
) -> dict[str, float] | None:
    """Holdout roc_auc, pr_auc and recall at `threshold` of a logistic regression (one-hot categories,
    imputed and scaled numbers) on a stratified quarter of the sample; None when there is nothing to fit."""
    from sklearn import metrics as skm
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlops.modeling import targets
    from mlops.threads import one_native_thread

    features = contract.features(include_sensitive=use_sensitive)
    numeric, categorical = contract.numeric(features), contract.categorical(features)
    data = _sample(frame, BASELINE_ROWS, seed)
    y = targets(data, contract)
    if not numeric + categorical or np.bincount(y, minlength=2).min() < 8:
        return None
    x = data[numeric + categorical].astype(dict.fromkeys(categorical, object))
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    encode = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()),
                numeric,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=1000))
    with one_native_thread():
        proba = model.fit(x_train, y_train).predict_proba(x_test)[:, 1]
    return {
        "roc_auc": round(float(skm.roc_auc_score(y_test, proba)), 4),
        "pr_auc": round(float(skm.average_precision_score(y_test, proba)), 4),
        "recall": round(float(skm.recall_score(y_test, proba >= threshold, zero_division=0)), 4),
    }


def margin(holdout_minority: int) -> float:
    """How far below the baseline a floor sits: FLOOR_MARGIN, or NOISE_SES standard errors of a rate
    (at most sqrt(0.25 / n)) measured on the holdout's minority class, whichever is larger. The pipeline's
    holdout is not the baseline's and its model is not logistic: on a small holdout, sample noise alone
    moves PR AUC or recall by several points, and a floor inside that noise fails honest models."""
    return max(FLOOR_MARGIN, NOISE_SES * math.sqrt(0.25 / max(holdout_minority, 1)))


def floors(base: dict[str, float] | None, holdout_minority: int = 10**9) -> dict[str, float]:
    """Each floor `margin(holdout_minority)` below the baseline (rounded down), roc_auc never below
    MIN_ROC_AUC_FLOOR."""
    if base is None:
        return {"roc_auc": MIN_ROC_AUC_FLOOR, "pr_auc": 0.0, "recall": 0.0}
    gap = margin(holdout_minority)
    # round() first: 0.83 - 0.05 is 0.7799999... in binary, and would floor to 0.77
    out = {k: max(0.0, math.floor(round((v - gap) * 100, 6)) / 100) for k, v in base.items()}
    out["roc_auc"] = max(MIN_ROC_AUC_FLOOR, out["roc_auc"])
    return out


def single_feature_aucs(frame: pd.DataFrame, contract: Contract, seed: int = 42) -> dict[str, float]:
    """Each numeric / category input alone as a score (numbers as they are, a category as its positive
    rate): ROC AUC, the better of the two directions."""
    from sklearn.metrics import roc_auc_score

    from mlops.modeling import targets

    data = _sample(frame, 50_000, seed)
    y = targets(data, contract)
    if len(set(y)) < 2:
        return {}
    aucs: dict[str, float] = {}
    inputs = contract.features(include_sensitive=True)
    for name in contract.numeric(inputs) + contract.categorical(inputs):
        column = data[name]
        if name in contract.categorical(inputs):
            keys = column.astype("string").fillna("(missing)")
            score = pd.Series(y, index=data.index).groupby(keys).transform("mean")
        else:
            score = pd.to_numeric(column, errors="coerce")
            if score.isna().all():
                continue
            score = score.fillna(score.median())
        auc = float(roc_auc_score(y, score))
        aucs[name] = round(max(auc, 1 - auc), 4)
    return aucs
