"""Pure evaluation functions: headline metrics, plot data, per-group (slice) metrics, and `evaluate`,
which computes all of them for one model on one holdout.

Every function takes arrays / frames and returns plain, JSON-ready Python data rounded to 6 decimals, so
the git-tracked reports are small, stable and diff cleanly between commits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance

from mlops.contract import Contract
from mlops.modeling import input_columns, targets
from mlops.params import EvaluateParams

ROUND = 6


def _r(x: float) -> float:
    return round(float(x), ROUND)


def headline(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC AUC, PR AUC, F1, precision, recall, accuracy, log loss and Brier score at `threshold`."""
    pred = (proba >= threshold).astype(int)
    return {
        "roc_auc": _r(skm.roc_auc_score(y, proba)),
        "pr_auc": _r(skm.average_precision_score(y, proba)),
        "f1": _r(skm.f1_score(y, pred, zero_division=0)),
        "precision": _r(skm.precision_score(y, pred, zero_division=0)),
        "recall": _r(skm.recall_score(y, pred, zero_division=0)),
        "accuracy": _r(skm.accuracy_score(y, pred)),
        "log_loss": _r(skm.log_loss(y, proba, labels=[0, 1])),
        "brier": _r(skm.brier_score_loss(y, proba)),
    }


# Probability-based metrics usable by the gates, with the direction in which they improve.
SCORERS: dict[str, tuple[Any, bool]] = {
    "roc_auc": (skm.roc_auc_score, True),
    "pr_auc": (skm.average_precision_score, True),
    "log_loss": (lambda y, p: skm.log_loss(y, p, labels=[0, 1]), False),
    "brier": (skm.brier_score_loss, False),
}


def score(metric: str, y: np.ndarray, proba: np.ndarray) -> float:
    """A probability-based metric by name (see SCORERS); NaN when any score is not a finite number."""
    if metric not in SCORERS:
        raise ValueError(f"unknown metric {metric!r}: use one of {sorted(SCORERS)}")
    if not np.isfinite(proba).all():
        return float("nan")  # a model emitting NaN / inf has no metric, and a NaN never passes a gate
    return float(SCORERS[metric][0](y, proba))


def _thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most `max_points` evenly spaced points, always keeping the first and the last."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def roc_points(y: np.ndarray, proba: np.ndarray, max_points: int = 200) -> list[dict[str, float]]:
    fpr, tpr, thr = skm.roc_curve(y, proba)
    thr = np.minimum(thr, 1.0)  # sklearn's first threshold is +inf
    return [
        {"fpr": _r(fpr[i]), "tpr": _r(tpr[i]), "threshold": _r(thr[i])} for i in _thin(len(fpr), max_points)
    ]


def pr_points(y: np.ndarray, proba: np.ndarray, max_points: int = 200) -> list[dict[str, float]]:
    precision, recall, thr = skm.precision_recall_curve(y, proba)
    thr = np.append(thr, 1.0)  # precision/recall have one more point than thresholds
    return [
        {"recall": _r(recall[i]), "precision": _r(precision[i]), "threshold": _r(thr[i])}
        for i in _thin(len(recall), max_points)
    ]


def confusion_counts(y: np.ndarray, proba: np.ndarray, threshold: float) -> list[dict[str, int]]:
    """Aggregated cells (4 rows), not one row per prediction: keeps the git-tracked file tiny."""
    pred = (proba >= threshold).astype(int)
    cm = skm.confusion_matrix(y, pred, labels=[0, 1])
    return [{"actual": a, "predicted": p, "count": int(cm[a, p])} for a in (0, 1) for p in (0, 1)]


def calibration(y: np.ndarray, proba: np.ndarray, bins: int) -> list[dict[str, float]]:
    """Reliability diagram data on equal-width bins; empty bins are left out."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(proba, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            rows.append(
                {
                    "bin": b,
                    "mean_predicted": _r(proba[mask].mean()),
                    "fraction_positive": _r(y[mask].mean()),
                    "count": int(mask.sum()),
                }
            )
    return rows


def group_metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, Any]:
    """Metrics for one group; AUC is null when the group holds a single class (undefined, not zero)."""
    pred = proba >= threshold
    positives = y == 1
    return {
        "count": len(y),
        "positive_rate": _r(y.mean()) if len(y) else None,
        "selection_rate": _r(pred.mean()) if len(y) else None,
        "true_positive_rate": _r(pred[positives].mean()) if positives.any() else None,
        "false_positive_rate": _r(pred[~positives].mean()) if (~positives).any() else None,
        "roc_auc": _r(skm.roc_auc_score(y, proba)) if 0 < positives.sum() < len(y) else None,
    }


def slices(
    frame: pd.DataFrame, y: np.ndarray, proba: np.ndarray, threshold: float, columns: list[str]
) -> dict[str, Any]:
    """Per-group metrics for each column in `columns` (the contract's sensitive attributes by default)."""
    out: dict[str, Any] = {}
    for column in columns:
        values = frame[column].astype(str).to_numpy()
        out[column] = {
            str(group): group_metrics(y[values == group], proba[values == group], threshold)
            for group in sorted(set(values))
        }
    return out


def importance(
    model: Any, x: pd.DataFrame, y: np.ndarray, features: list[str], p: EvaluateParams
) -> list[dict[str, Any]]:
    """Permutation importance (drop in ROC AUC) of each model feature on a seeded holdout sample."""
    rows = np.random.default_rng(p.seed).permutation(len(x))[: p.importance_rows]
    result = permutation_importance(
        model,
        x.iloc[rows],
        y[rows],
        scoring="roc_auc",
        n_repeats=p.importance_repeats,
        random_state=p.seed,
        n_jobs=1,
    )
    scores = dict(zip(x.columns, result.importances_mean, strict=True))
    ranked = sorted(features, key=lambda f: -scores[f])
    return [{"feature": f, "importance": round(float(scores[f]), 6)} for f in ranked]


def evaluate(
    model: Any,
    df: pd.DataFrame,
    contract: Contract,
    p: EvaluateParams,
    features: list[str],
    threshold: float,
) -> dict[str, Any]:
    """Every evaluation output, as plain data: {metrics, plots: {name: rows}, slices}, at `threshold`."""
    x = df[input_columns(contract)]
    y = targets(df, contract)
    proba = model.predict_proba(x)[:, 1]
    scores = {**headline(y, proba, threshold), "holdout_rows": len(df), "threshold": threshold}
    return {
        "metrics": scores,
        "plots": {
            "roc": roc_points(y, proba),
            "precision_recall": pr_points(y, proba),
            "confusion": confusion_counts(y, proba, threshold),
            "calibration": calibration(y, proba, p.calibration_bins),
            "importance": importance(model, x, y, features, p),
        },
        "slices": slices(df, y, proba, threshold, contract.sensitive),
    }
