"""Drift limits calibrated for a false-alarm rate at the window's own size (pure numpy).

A fixed distance limit means different things at different traffic volumes: a calm window of 500 rows
scatters far from the reference, one of 100,000 hardly at all. So each limit is the larger of
- the floor from params.yaml (`column_threshold`, `prediction_threshold`): the smallest move worth
  reporting at any size, so a large window never alarms on a negligible shift, and
- the calm quantile: the distance that a window of this size, drawn from the reference's own
  distribution, exceeds with the rule's false-alarm probability only (`monitoring.false_alarms`).

Calm windows are resampled rows of the reference (rows, so correlated columns move together), each
compared with the reference by the statistics Evidently computes (normed Wasserstein for numbers,
Jensen-Shannon for categories: replicated here, tested equal to Evidently's). A resample of the reference
sits closer to it than an independent sample would, since only the window's noise is drawn; both samples'
noise counts, so each distance is scaled by sqrt(1 + n/N) (n window rows, N reference rows: the two-sample
scaling of these distances between empirical distributions).

The share rule ("at least `drift_share` of the columns drifted") is calibrated jointly: every column's
limit sits at one calm exceedance level, chosen so that in at most `false_alarms.inputs` of the calm
resamples enough columns cross their limits at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Memory bound of one vectorised block: resamples x reference values (float64 cells).
_BLOCK_CELLS = 4_000_000
# Larger windows are calibrated at this size and their calm distances scaled by sqrt(this / n): these
# distances between empirical distributions shrink as 1 / sqrt(n) (their two-sample limit law), and
# resampling 100,000-row windows 2,000 times would cost the drift job ~20 s for the same answer.
_LARGEST_RESAMPLE = 20_000


def finite_values(values: pd.Series) -> pd.Series:
    """What Evidently compares: the column without missing or infinite values."""
    return values.replace([np.inf, -np.inf], np.nan).dropna()


def wasserstein_norm(reference: pd.Series, current: pd.Series) -> float:
    """Evidently's "wasserstein" drift score: W1(reference, current) / max(std(reference), 0.001)."""
    ref = finite_values(pd.to_numeric(reference, errors="coerce")).to_numpy(float)
    cur = finite_values(pd.to_numeric(current, errors="coerce")).to_numpy(float)
    grid = np.unique(np.concatenate([ref, cur]))
    cdf_ref = np.searchsorted(np.sort(ref), grid[:-1], side="right") / len(ref)
    cdf_cur = np.searchsorted(np.sort(cur), grid[:-1], side="right") / len(cur)
    return float(np.abs(cdf_ref - cdf_cur) @ np.diff(grid)) / max(float(np.std(ref)), 0.001)


def _js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (natural log, as scipy) of distributions along the last axis."""
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=-1)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=-1)
    out: np.ndarray = np.sqrt(np.maximum((kl_p + kl_q) / 2.0, 0.0))
    return out


def jensenshannon(reference: pd.Series, current: pd.Series) -> float:
    """Evidently's "jensenshannon" drift score of a categorical column (value shares, no binning)."""
    ref, cur = finite_values(reference).astype(str), finite_values(current).astype(str)
    keys = sorted(set(ref) | set(cur))
    p = ref.value_counts().reindex(keys, fill_value=0).to_numpy(float) / len(ref)
    q = cur.value_counts().reindex(keys, fill_value=0).to_numpy(float) / len(cur)
    return float(_js(p, q))


@dataclass(frozen=True)
class _Column:
    """One reference column prepared for resampling: each row's index into its value grid."""

    name: str
    codes: np.ndarray  # per reference row: position in the grid, len(grid) for a missing value
    reference_cdf: np.ndarray  # numeric: reference CDF on the grid; categorical: value shares
    widths: np.ndarray | None  # numeric: grid steps (None: categorical)
    norm: float
    rows: int  # non-missing reference rows

    @property
    def size(self) -> int:
        return len(self.reference_cdf)

    def distances(self, rows: np.ndarray) -> np.ndarray:
        """The drift score of each resampled window (one per row of `rows`, reference row indices)."""
        k = self.size + 1  # the last slot counts missing values, which Evidently drops
        flat = (self.codes[rows] + k * np.arange(len(rows))[:, None]).ravel()
        counts = np.bincount(flat, minlength=k * len(rows)).reshape(len(rows), k)[:, :-1].astype(float)
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        if self.widths is None:
            return _js(np.broadcast_to(self.reference_cdf, shares.shape), shares)
        cdf = np.cumsum(shares, axis=1)[:, :-1]
        out: np.ndarray = np.abs(cdf - self.reference_cdf[:-1]) @ self.widths / self.norm
        return out


def _prepare(name: str, values: pd.Series, numeric: bool) -> _Column:
    clean = values.replace([np.inf, -np.inf], np.nan)
    present = clean.notna().to_numpy()
    if numeric:
        numbers = pd.to_numeric(clean, errors="coerce").to_numpy(float)
        present &= ~np.isnan(numbers)
        grid = np.unique(numbers[present])
        codes = np.full(len(values), len(grid), dtype=np.int64)
        codes[present] = np.searchsorted(grid, numbers[present])
        counts = np.bincount(codes[present], minlength=len(grid)).astype(float)
        cdf = np.cumsum(counts) / max(counts.sum(), 1.0)
        norm = max(float(np.std(numbers[present])) if present.any() else 0.0, 0.001)
        return _Column(name, codes, cdf, np.diff(grid), norm, int(present.sum()))
    text = clean.astype(str).to_numpy()
    grid = np.unique(text[present])
    codes = np.full(len(values), len(grid), dtype=np.int64)
    codes[present] = np.searchsorted(grid, text[present])
    counts = np.bincount(codes[present], minlength=len(grid)).astype(float)
    return _Column(name, codes, counts / max(counts.sum(), 1.0), None, 1.0, int(present.sum()))


_MEMO: dict[tuple[Any, ...], pd.DataFrame] = {}  # one calibration per reference and window size


def calm_distances(
    reference: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    window_rows: int,
    resamples: int,
    seed: int,
) -> pd.DataFrame:
    """Drift scores of `resamples` calm windows of `window_rows` rows (one row each, one column per
    reference column). Memoised per reference content and size: a process judging many windows of one
    size (the quality benchmark) calibrates once."""
    fingerprint = int(pd.util.hash_pandas_object(reference[[*numeric, *categorical]], index=False).sum())
    key = (fingerprint, len(reference), tuple(numeric), tuple(categorical), window_rows, resamples, seed)
    if key not in _MEMO:
        if len(_MEMO) >= 8:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = _calm_distances(reference, numeric, categorical, window_rows, resamples, seed)
    return _MEMO[key].copy()


def _calm_distances(
    reference: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    n: int,
    resamples: int,
    seed: int,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = [_prepare(c, reference[c], True) for c in numeric]
    columns += [_prepare(c, reference[c], False) for c in categorical]
    out = {c.name: np.zeros(resamples) for c in columns}
    if n == 0 or reference.empty:
        return pd.DataFrame(out)
    window, n = n, resampled_rows(n)
    widest = max((c.size for c in columns), default=1) + 1
    block = max(1, min(resamples, _BLOCK_CELLS // max(widest, n)))
    for start in range(0, resamples, block):
        rows = rng.integers(0, len(reference), size=(min(block, resamples - start), n))
        for col in columns:
            out[col.name][start : start + len(rows)] = col.distances(rows)
    # Both samples' noise (the two-sample scaling; a column's non-missing rows are the same share of
    # both), and the 1 / sqrt(n) law from the resampled size to the window's.
    scale = math.sqrt(1.0 + window / len(reference)) * math.sqrt(n / window)
    return pd.DataFrame({name: values * scale for name, values in out.items()})


def resampled_rows(window_rows: int) -> int:
    """The calm windows' size for a window of `window_rows` (larger ones are scaled from it)."""
    return min(window_rows, _LARGEST_RESAMPLE)


def _exceedance_levels(calm: np.ndarray) -> np.ndarray:
    """Per cell: the share of calm resamples (of that column) at least as far (its calm p-value)."""
    ranks = np.argsort(np.argsort(-calm, axis=0, kind="stable"), axis=0)
    out: np.ndarray = (ranks + 1) / calm.shape[0]
    return out


def share_limits(
    calm: pd.DataFrame, floor: float, drift_share: float, false_alarm: float
) -> tuple[dict[str, float], dict[str, Any]]:
    """Per-column limits such that calm windows reach `drift_share` drifted columns with probability
    `false_alarm` at most (floors applied), and the record of how they were set."""
    names = list(calm.columns)
    if not names:
        return {}, {"level": None, "calm_false_alarm": 0.0}
    values = calm.to_numpy(float)
    needed = max(1, math.ceil(drift_share * len(names) - 1e-9))  # columns that make the share
    kth = np.sort(np.sort(_exceedance_levels(values), axis=1)[:, needed - 1])
    # The largest common level at which calm resamples reach the share in at most `false_alarm` of
    # them (ties and interpolation can add crossings: step down until the count holds).
    for allowed in range(math.floor(false_alarm * len(kth)), -1, -1):
        level = float(kth[allowed - 1]) if allowed >= 1 else 0.5 / len(kth)
        quantiles = np.quantile(values, 1.0 - level, axis=0)
        limit_of = np.maximum(floor, quantiles)
        crossed = (values >= limit_of).sum(axis=1) >= needed
        if crossed.mean() <= false_alarm:
            break
    limits = {name: float(limit_of[i]) for i, name in enumerate(names)}
    record = {
        "columns_needed": needed,
        "level": round(level, 6),
        "calm_false_alarm": round(float(crossed.mean()), 6),
        "target_false_alarm": false_alarm,
    }
    return limits, record


def single_limit(calm: np.ndarray, floor: float, false_alarm: float) -> tuple[float, dict[str, Any]]:
    """One score's limit (the predicted probability's): its calm (1 - false_alarm) quantile, floored."""
    limit = max(floor, float(np.quantile(calm, 1.0 - false_alarm))) if len(calm) else floor
    record = {
        "calm_quantile": round(float(np.quantile(calm, 1.0 - false_alarm)), 6) if len(calm) else None,
        "calm_false_alarm": round(float((calm >= limit).mean()), 6) if len(calm) else 0.0,
        "target_false_alarm": false_alarm,
    }
    return limit, record
