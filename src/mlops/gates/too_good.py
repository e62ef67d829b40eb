"""Gate `too_good`: a candidate that beats its baseline by more than `max_gain` fails until someone says why.

Real improvements on a mature problem come in small steps; a jump is more often a leak a single-column
check cannot see (a feature that leaks only in combination, or through a code a tree can isolate but a
ranking cannot) or holdout rows seen in training. The baseline is a reference logistic regression on the
model's own features, fit on the holdout's first half and scored, like the candidate, on its second half:
what an honest linear model gets from the same data. Not the champion: after drift a retrained model
rightly beats it by far on the new data (the champion gate compares the two); a leak inflates the
candidate over a simple model on the same rows whatever production runs.
A non-empty `acknowledge` accepts a larger gain and puts its reason in the report (e.g. a dataset whose
interactions a tree captures and a linear model cannot, measured once and written down).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops import threads
from mlops.contract import Contract
from mlops.gates.result import GateResult, bounded, note
from mlops.metrics import score
from mlops.params import TooGoodGate

GATE = "too_good"
REFERENCE = "logistic regression fit on the holdout's first half, both scored on its second half"


def reference_model(contract: Contract, features: list[str]) -> Pipeline:
    """Median-imputed, scaled numerics and one-hot categories into a logistic regression (the model's own
    feature lists: other column types are left out, as the model leaves them out)."""
    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    encode = ColumnTransformer(
        [
            ("num", numeric, contract.numeric(features)),
            ("cat", OneHotEncoder(handle_unknown="ignore"), contract.categorical(features)),
        ],
        remainder="drop",
    )
    return Pipeline([("preprocess", encode), ("model", LogisticRegression(max_iter=1000))])


def reference_baseline(
    frame: pd.DataFrame, y: np.ndarray, contract: Contract, features: list[str]
) -> tuple[np.ndarray, np.ndarray] | None:
    """(reference scores on the second half, the second half's row mask), None when a half has one class."""
    second = np.arange(len(y)) >= len(y) // 2
    if len(np.unique(y[~second])) < 2 or len(np.unique(y[second])) < 2:
        return None
    with threads.one_native_thread():  # BLAS on one thread: same coefficients on any machine
        model = reference_model(contract, features).fit(frame.loc[~second, features], y[~second])
        return np.asarray(model.predict_proba(frame.loc[second, features])[:, 1]), second


def _verdict(candidate: float, baseline: float, against: str, params: TooGoodGate) -> GateResult:
    gain = candidate - baseline
    what = f"{params.metric} candidate - baseline ({against})"
    if math.isnan(gain):
        return bounded(GATE, params.metric, gain, params.max_gain, "<=", what)
    numbers = (
        f"candidate {params.metric} {candidate:.3f} vs baseline {baseline:.3f} ({against}): gain {gain:+.4f}"
    )
    limit = f"gates.too_good.max_gain {params.max_gain:g}"
    details = {"candidate": round(candidate, 6), "baseline": round(baseline, 6), "baseline_is": against}
    if gain <= params.max_gain:
        reason, passed = f"{numbers}, within {limit}", True
    elif params.acknowledge:
        reason, passed = (
            f"{numbers} > {limit}, accepted in gates.too_good.acknowledge: {params.acknowledge}",
            True,
        )
    else:
        reason, passed = (
            f"{numbers} > {limit}: a jump this large is more often leakage (a feature known only after "
            "the outcome, holdout rows seen in training) than a better model; check the leakage gate's "
            "per-feature AUCs and the feature importances, then fix the data, or set "
            "gates.too_good.acknowledge to the reason the gain is real",
            False,
        )
    return GateResult(GATE, params.metric, passed, round(gain, 6), params.max_gain, "<=", reason, details)


def check(
    frame: pd.DataFrame,
    y: np.ndarray,
    proba: np.ndarray,
    contract: Contract,
    features: list[str],
    params: TooGoodGate,
) -> list[GateResult]:
    if not contract.numeric(features) + contract.categorical(features):
        return [note(GATE, params.metric, True, "no numeric or categorical feature: no reference model")]
    fitted = reference_baseline(frame, y, contract, features)
    if fitted is None:
        return [
            note(GATE, params.metric, False, "a holdout half has one class: no reference model to compare")
        ]
    scores, rows = fitted
    return [
        _verdict(
            score(params.metric, y[rows], proba[rows]),
            score(params.metric, y[rows], scores),
            REFERENCE,
            params,
        )
    ]
