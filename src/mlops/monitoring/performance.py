"""Is the model degrading? Measured with labels, estimated without: pure numpy and scipy.

Harm, not movement, is what a retrain answers, and the tests here are sample-size aware, so a small
labelled window is never judged as if it were large:

- **Relation test** (labels): do the window's labels contradict the probabilities the model serves?
  A score test of y ~ Bernoulli(sigmoid(logit p + z(x)·b)) for b = 0 in the window, where z(x) is an
  intercept, the served log-odds and the contract's features (numbers robustly scaled, the main
  categories one-hot), and the reference deviation b_h is fitted on the labelled holdout first (so a
  model that was slightly off at evaluation already is judged against itself, not against perfection).
  Its p-value is simulated: labels drawn from the reference relation at the window's own rows (plus
  b_h's estimation noise), so small windows and rare categories get an exact, not asymptotic, answer.
- **Measured drop** (labels): holdout ROC AUC minus the window's, with DeLong variances of both; it
  harms when the drop's one-sided lower confidence bound exceeds `max_roc_auc_drop`. A rejected relation
  test harms when the measured drop is at least `min_relation_drop` (significance from the test, size from
  the drop); with a smaller drop the relation moved without costing the ranking (`relation_moved`).
- **Estimated drop** (no or too few labels): confidence-based performance estimation (CBPE). If the
  served probabilities are right, the expected ROC AUC of a set of rows follows from the probabilities
  alone; the holdout's expected AUC minus the window's is the drop that the population's move costs
  (bootstrap standard errors). Measured on the holdout, the model's own calibration bias cancels.
  Computed with labels too: a population move that costs the ranking harms whether or not labels came.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlops.contract import Contract
from mlops.params import MonitoringParams

# Robust scaling of numeric features in the relation test: values beyond this many IQRs from the median
# are clipped, so one extreme value cannot dominate the score.
_CLIP_IQRS = 3.0
# The categories of a column that get their own term: at most this many, each at least this share of
# the holdout (rarer ones share the baseline, keeping the test's degrees of freedom bounded).
_MAX_LEVELS, _MIN_SHARE = 6, 0.01
_RIDGE = 1.0  # keeps the holdout fit finite when a term is collinear or separates the classes
# The relation test compares the window with the holdout's fitted relation, whose own error is fixed for a
# deployment: with many more labels than this share of the holdout, that error would decide the verdict
# (a calm deployment alarming always or never). Larger labelled windows are subsampled to it.
_HOLDOUT_PER_LABEL = 3
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1.0 - _EPS)
    out: np.ndarray = np.log(q / (1.0 - q))
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


@dataclass(frozen=True)
class Design:
    """z(x) of the relation test, fixed from the holdout: the same columns for holdout and window."""

    numeric: dict[str, tuple[float, float, bool]]  # column -> (median, scale, has a missing term)
    levels: dict[str, list[str]]  # categorical column -> categories with their own term

    @classmethod
    def from_holdout(cls, holdout: pd.DataFrame, contract: Contract) -> Design:
        features = contract.features()
        numeric = {}
        for col in contract.numeric(features):
            x = pd.to_numeric(holdout[col], errors="coerce").replace([np.inf, -np.inf], np.nan)
            iqr = float(x.quantile(0.75) - x.quantile(0.25)) if x.notna().any() else 0.0
            scale = iqr if iqr > 0 else float(x.std()) if x.notna().sum() > 1 else 0.0
            if scale > 0 and np.isfinite(scale):
                numeric[col] = (float(x.median()), scale, bool(x.isna().mean() >= _MIN_SHARE))
        levels = {}
        for col in contract.categorical(features):
            shares = holdout[col].dropna().astype(str).value_counts(normalize=True)
            levels[col] = [str(v) for v in shares.index[1 : _MAX_LEVELS + 1] if shares[v] >= _MIN_SHARE]
        return cls(numeric, levels)

    def matrix(self, frame: pd.DataFrame, probability: np.ndarray) -> np.ndarray:
        """z(x) of each row; a column the rows lack counts as missing (a broken feed is judged, not fatal)."""
        frame = frame.reindex(columns=[*self.numeric, *self.levels])
        parts = [np.ones(len(frame)), _logit(probability)]
        for col, (median, scale, missing) in self.numeric.items():
            x = pd.to_numeric(frame[col], errors="coerce").replace([np.inf, -np.inf], np.nan)
            z = np.clip((x.to_numpy(float) - median) / scale, -_CLIP_IQRS, _CLIP_IQRS)
            parts.append(np.where(np.isnan(z), 0.0, z))
            if missing:
                parts.append(np.isnan(z).astype(float))
        for col, values in self.levels.items():
            text = frame[col].astype(str).to_numpy()
            parts += [(text == v).astype(float) for v in values]
        return np.column_stack(parts)


def _fit(z: np.ndarray, y: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge logistic regression with an offset (Newton): coefficients and the Fisher information."""
    b = np.zeros(z.shape[1])
    for _ in range(50):
        mu = _sigmoid(offset + z @ b)
        hess = z.T @ (z * (mu * (1 - mu))[:, None]) + _RIDGE * np.eye(len(b))
        step = np.linalg.solve(hess, z.T @ (y - mu) - _RIDGE * b)
        b += step
        if np.abs(step).max() < 1e-9:
            break
    mu = _sigmoid(offset + z @ b)
    return b, z.T @ (z * (mu * (1 - mu))[:, None])


def relation_test(
    design: Design,
    holdout: tuple[pd.DataFrame, np.ndarray, np.ndarray],
    window: tuple[pd.DataFrame, np.ndarray, np.ndarray],
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    """Score test that the window's labels follow the holdout's relation to the served probabilities.

    Each part is (rows, served probability, 0/1 label). Returns the statistic, its degrees of freedom
    and the simulated p-value.
    """
    (h_rows, h_p, h_y), (w_rows, w_p, w_y) = holdout, window
    z_h, z_w = design.matrix(h_rows, h_p), design.matrix(w_rows, w_p)
    b_h, info_h = _fit(z_h, h_y.astype(float), _logit(h_p))
    mu = _sigmoid(_logit(w_p) + z_w @ b_h)
    info_w = z_w.T @ (z_w * (mu * (1 - mu))[:, None])
    carried = info_w @ np.linalg.pinv(info_h + _RIDGE * np.eye(len(b_h))) @ info_w  # b_h's own noise
    inverse = np.linalg.pinv(info_w + carried)
    score = z_w.T @ (w_y - mu)
    statistic = float(score @ inverse @ score)
    rng = np.random.default_rng(seed)
    noise = np.linalg.cholesky(carried + 1e-12 * np.eye(len(b_h)))
    calm = np.empty(resamples)
    block = max(1, 2_000_000 // max(len(mu), 1))
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        drawn = (rng.random((len(mu), size)) < mu[:, None]).astype(float)
        scores = z_w.T @ (drawn - mu[:, None]) + noise @ rng.standard_normal((len(b_h), size))
        calm[start : start + size] = np.einsum("ib,ij,jb->b", scores, inverse, scores)
    p_value = (1 + int((calm >= statistic).sum())) / (resamples + 1)
    return {
        "statistic": round(statistic, 3),
        "df": int(np.linalg.matrix_rank(info_w + carried)),
        "p_value": p_value,
        "resamples": resamples,
    }


def roc_auc_with_variance(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """ROC AUC and its DeLong variance (midranks, O(n log n))."""
    pos, neg = p[y == 1], p[y == 0]
    m, n = len(pos), len(neg)
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    auc = (ranks[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (ranks[:m] - stats.rankdata(pos)) / n  # per positive: share of negatives it outranks
    v01 = 1.0 - (ranks[m:] - stats.rankdata(neg)) / m  # per negative: share of positives above it
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    return float(auc), float(var)


def expected_roc_auc(p: np.ndarray) -> float:
    """CBPE: the ROC AUC that rows with these probabilities have if the probabilities are right.

    Every ordered pair (i above j) is a concordant positive-negative pair with probability p_i (1 - p_j);
    ties count half. Ratio of the expected concordant pairs to the expected positive-negative pairs.
    """
    q = np.sort(np.asarray(p, dtype=float))
    _, first, counts = np.unique(q, return_index=True, return_counts=True)
    group_neg = np.add.reduceat(1.0 - q, first)  # per group of equal values: sum of (1 - p)
    lower = np.repeat(np.cumsum(group_neg) - group_neg, counts)  # ... over all strictly lower groups
    same = np.repeat(group_neg, counts) - (1.0 - q)  # ... over the row's tied others (half above)
    concordant = float((q * (lower + 0.5 * same)).sum())
    pairs = float(q.sum() * (1.0 - q).sum() - (q * (1.0 - q)).sum())
    return concordant / pairs if pairs > 0 else float("nan")


def expected_roc_auc_se(p: np.ndarray, resamples: int, seed: int) -> float:
    """Bootstrap standard error of `expected_roc_auc` over the rows."""
    rng = np.random.default_rng(seed)
    draws = [expected_roc_auc(p[rng.integers(0, len(p), len(p))]) for _ in range(resamples)]
    return float(np.std(draws, ddof=1))


@dataclass(frozen=True)
class Scored:
    """Rows with the served model's probability and, where known, their 0/1 outcome."""

    rows: pd.DataFrame
    probability: np.ndarray
    label: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.probability)


def _at_most(scored: Scored, rows: int, seed: int) -> Scored:
    """A seeded subsample of at most `rows` rows (all of them when there are fewer)."""
    if len(scored) <= rows:
        return scored
    keep = np.sort(np.random.default_rng(seed).choice(len(scored), size=rows, replace=False))
    label = scored.label[keep] if scored.label is not None else None
    return Scored(scored.rows.iloc[keep], scored.probability[keep], label)


def _f1(y: np.ndarray, p: np.ndarray, threshold: float) -> float:
    hit = p >= threshold
    tp = float((hit & (y == 1)).sum())
    denominator = float(hit.sum() + (y == 1).sum())
    return 2 * tp / denominator if denominator else 0.0


def judge(
    holdout: Scored,
    window: Scored,
    labelled: Scored,
    design: Design,
    params: MonitoringParams,
    threshold: float,
    judge_window: bool,
) -> dict[str, Any]:
    """The `performance` block of drift.json: basis (measured / estimated / none), the numbers, harm.

    `holdout` and `labelled` carry labels; `window` is every row of the window (probabilities only).
    `judge_window`: enough rows to estimate the window's performance without labels.
    """
    assert holdout.label is not None and labelled.label is not None
    perf, alarms = params.performance, params.false_alarms
    tolerance = perf.max_roc_auc_drop
    z = float(stats.norm.isf(alarms.drop))
    base_auc, base_var = roc_auc_with_variance(holdout.label, holdout.probability)
    out: dict[str, Any] = {
        "labels": len(labelled),
        "min_labels": perf.min_labels,
        "tolerance": tolerance,
        "confidence": round(1.0 - alarms.drop, 6),
        "baseline_roc_auc": round(base_auc, 4),
        "baseline_f1": round(_f1(holdout.label, holdout.probability, threshold), 4),
        "holdout_rows": len(holdout),
        "measured": None,
        "relation": None,
        "estimated": None,
    }
    if judge_window and len(window):
        expected_h = expected_roc_auc(holdout.probability)
        expected_w = expected_roc_auc(window.probability)
        se = np.hypot(
            expected_roc_auc_se(holdout.probability, perf.bootstrap, params.seed),
            expected_roc_auc_se(window.probability, perf.bootstrap, params.seed + 1),
        )
        drop = expected_h - expected_w
        out["estimated"] = {
            "rows": len(window),
            "expected_roc_auc_holdout": round(expected_h, 4),
            "expected_roc_auc_window": round(expected_w, 4),
            "roc_auc": round(base_auc - drop, 4),  # the holdout's measured AUC, moved by the expected drop
            "drop": round(drop, 4),
            "lower_bound": round(drop - z * float(se), 4),
            "harms": bool(drop - z * float(se) > tolerance),
        }
    both_classes = len(np.unique(labelled.label)) == 2  # labels asserted present above
    out["measurable"] = bool(len(labelled) >= perf.min_labels and both_classes)
    if out["measurable"]:
        auc, var = roc_auc_with_variance(labelled.label, labelled.probability)
        drop = base_auc - auc
        lower = drop - z * float(np.sqrt(var + base_var))
        out["measured"] = {
            "roc_auc": round(auc, 4),
            "f1": round(_f1(labelled.label, labelled.probability, threshold), 4),
            "drop": round(drop, 4),
            "lower_bound": round(lower, 4),
            "harms": bool(lower > tolerance),
        }
        tested = _at_most(labelled, len(holdout) // _HOLDOUT_PER_LABEL, params.seed)
        assert tested.label is not None
        relation = relation_test(
            design,
            (holdout.rows, holdout.probability, holdout.label),
            (tested.rows, tested.probability, tested.label),
            params.resamples,
            params.seed,
        )
        rejected = relation["p_value"] < alarms.relation
        out["relation"] = {
            **relation,
            "labels": len(tested),
            "alpha": alarms.relation,
            "rejected": rejected,
            # Significance from the test, size from the measured drop: a changed relation that costs
            # the ranking less than this is reported (relation_moved), not retrained on.
            "min_drop": perf.min_relation_drop,
            "harms": bool(rejected and drop >= perf.min_relation_drop),
        }
    out["basis"] = "measured" if out["measured"] else "estimated" if out["estimated"] else "none"
    # Harm from either source: labels see a changed relation, the estimate sees the population's move
    # (a covariate shift that costs the ranking is as real with labels as without).
    harms = [
        *([out["measured"]["harms"], out["relation"]["harms"]] if out["measured"] else []),
        *([out["estimated"]["harms"]] if out["estimated"] else []),
    ]
    out["degrading"] = any(harms)
    out["relation_moved"] = bool(out["relation"] and out["relation"]["rejected"] and not out["degrading"])
    return out
