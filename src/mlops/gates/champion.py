"""Gate `champion`: the candidate must not be worse than the production model on the same holdout.

Both models score the same rows; a paired bootstrap (the same resampled rows for both) gives a confidence
interval on the difference. The gate fails only when the candidate is worse by more than the tolerance
(practically significant) AND the interval lies below zero (statistically supported).
"""

from __future__ import annotations

import numpy as np

from mlops.gates.result import GateResult, note
from mlops.metrics import SCORERS, score
from mlops.params import ChampionGate


def paired_bootstrap(
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray,
    metric: str,
    samples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float, float]:
    """(difference on all rows, CI low, CI high) of metric(candidate) - metric(champion), oriented so that
    a positive difference always means the candidate is better (lower-is-better metrics are negated)."""
    sign = 1.0 if SCORERS[metric][1] else -1.0
    diff = sign * (score(metric, y, candidate) - score(metric, y, champion))
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(samples):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():  # a resample with one class has no AUC: draw again next round
            continue
        diffs.append(sign * (score(metric, y[idx], candidate[idx]) - score(metric, y[idx], champion[idx])))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    return diff, float(low), float(high)


def check(
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    champion_label: str,
    params: ChampionGate,
) -> list[GateResult]:
    if champion is None:
        return [
            note("champion", params.metric, True, f"no champion ({champion_label}): the first model passes")
        ]
    diff, low, high = paired_bootstrap(
        y, candidate, champion, params.metric, params.bootstrap_samples, params.confidence, params.seed
    )
    worse = diff < -params.tolerance and high < 0.0
    interval = f"{params.confidence:.0%} CI [{low:+.4f}, {high:+.4f}]"
    reason = f"{params.metric} candidate - champion ({champion_label}) = {diff:+.4f}, {interval}; " + (
        f"worse by more than the tolerance {params.tolerance} with the CI below 0"
        if worse
        else f"not worse beyond the tolerance {params.tolerance} with statistical support"
    )
    return [
        GateResult(
            "champion",
            params.metric,
            not worse,
            round(diff, 6),
            -params.tolerance,
            ">=",
            reason,
            {"ci_low": round(low, 6), "ci_high": round(high, 6), "champion": champion_label},
        )
    ]
