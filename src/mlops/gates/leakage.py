"""Gate `leakage`: how well each model feature alone separates the classes on the holdout (ROC AUC).

A single column that nearly predicts the label is almost always the label in disguise: a value recorded
after the outcome (a cancellation date, a closing status, a "retention offer made" flag). The ceiling is
the contract's `table.max_single_feature_auc`, a property of the data rather than of a model.

- numeric and date features: the value itself ranks the rows; max(auc, 1 - auc), so a feature that works
  downwards counts as much as one that works upwards. Missing values are ranked below every value and then
  above, and the better of the two kept: a column filled in only for one class leaks through its
  missingness.
- category and string features: the positive rate per category, learnt on one half of the holdout and
  scored on the other, both ways round (alternate rows, so both halves span the whole period). Nothing is
  random, and a row's own label never scores it: an id-like column with unique values scores 0.5, not 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mlops.contract import NUMERIC_TYPES, Contract
from mlops.gates.result import GateResult, note

GATE, CHECK = "leakage", "max_single_feature_auc"


def as_float(values: pd.Series) -> np.ndarray:
    """Numbers as float, dates as nanoseconds since the epoch (NaN where missing)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        numbers = values.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
        return np.where(values.isna().to_numpy(), np.nan, numbers)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def numeric_auc(values: pd.Series, y: np.ndarray) -> float:
    """max(auc, 1 - auc) of the value as a score, missing values placed at whichever end separates more."""
    v = as_float(values)
    missing = np.isnan(v)
    if missing.all():
        return 0.5
    low, high = np.nanmin(v), np.nanmax(v)
    best = 0.5
    for fill in (low - 1.0, high + 1.0) if missing.any() else (low,):
        auc = float(roc_auc_score(y, np.where(missing, fill, v)))
        best = max(best, auc, 1.0 - auc)
    return best


def categorical_auc(values: pd.Series, y: np.ndarray) -> float:
    """max(auc, 1 - auc) of the positive rate per category, cross-fitted over the holdout's two halves."""
    keys = values.astype("string").fillna("<missing>").to_numpy()  # missing is a category of its own
    first = np.arange(len(y)) % 2 == 0
    scores = np.empty(len(y), dtype=float)
    overall = float(y.mean())  # for a category the learning half never saw: one value for all, no signal
    for learn, apply in ((first, ~first), (~first, first)):
        rates = pd.Series(y[learn]).groupby(keys[learn]).mean()
        scores[apply] = pd.Series(keys[apply]).map(rates).fillna(overall).to_numpy()
    auc = float(roc_auc_score(y, scores))
    return max(auc, 1.0 - auc)


def single_feature_aucs(
    frame: pd.DataFrame, y: np.ndarray, contract: Contract, features: list[str]
) -> dict[str, float]:
    """Each feature's single-column ROC AUC, strongest first."""
    aucs = {
        name: round(
            numeric_auc(frame[name], y)
            if contract.columns[name].type in NUMERIC_TYPES | {"date"}
            else categorical_auc(frame[name], y),
            6,
        )
        for name in features
    }
    return dict(sorted(aucs.items(), key=lambda item: (-item[1], item[0])))


def check(frame: pd.DataFrame, y: np.ndarray, contract: Contract, features: list[str]) -> list[GateResult]:
    ceiling = contract.table.max_single_feature_auc
    if len(np.unique(y)) < 2 or not features:
        return [note(GATE, CHECK, False, "the holdout has one class (or the model no feature): no AUC")]
    aucs = single_feature_aucs(frame, y, contract, features)
    strongest, auc = next(iter(aucs.items()))
    above = {name: a for name, a in aucs.items() if a > ceiling}
    limit = f"contract table.max_single_feature_auc {ceiling:.2f}"
    if above:
        others = ", ".join(f"`{n}` {a:.3f}" for n, a in list(above.items())[1:])
        reason = (
            f"`{strongest}` alone separates the classes with ROC AUC {auc:.3f} > {limit}: likely target "
            "leakage (a value known only after the outcome); drop it (role: ignore in the contract) or "
            "raise the ceiling with a reason" + (f"; also above the ceiling: {others}" if others else "")
        )
    else:
        reason = f"strongest single feature `{strongest}`: ROC AUC {auc:.3f}, within {limit}"
    return [
        GateResult(
            GATE, CHECK, not above, auc, ceiling, "<=", reason, {"column": strongest, "feature_auc": aucs}
        )
    ]
