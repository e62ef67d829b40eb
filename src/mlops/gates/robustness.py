"""Gate `robustness`: the holdout metric under perturbed inputs must not drop by more than `max_drop`.

Three perturbations, each gated on its own: Gaussian noise on numeric features, numeric values blanked
at random, and categorical values swapped for another allowed category. Perturbations are pure and
seeded, and respect the contract (integers stay integers, values stay within the contract's range).

A holdout larger than `max_rows` is judged on a seeded sample of that many rows: the drop is paired (the
same rows clean and perturbed), so its noise at 50,000 rows is far below any useful `max_drop`, while
scoring three perturbed copies of a 200,000-row holdout was the gate's largest cost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mlops.contract import Contract
from mlops.gates.result import GateResult, bounded
from mlops.metrics import score
from mlops.params import RobustnessGate


def add_noise(
    x: pd.DataFrame, contract: Contract, columns: list[str], std: float, rng: np.random.Generator
) -> pd.DataFrame:
    out = x.copy()
    for name in columns:
        col, values = contract.columns[name], out[name].to_numpy(dtype=float)
        noisy = values + rng.normal(0.0, std * np.nanstd(values), len(values))
        noisy = np.clip(noisy, *col.numeric_range())
        out[name] = np.round(noisy) if col.type == "integer" else noisy
    return out


def blank_values(x: pd.DataFrame, columns: list[str], rate: float, rng: np.random.Generator) -> pd.DataFrame:
    out = x.copy()
    for name in columns:
        values = out[name].to_numpy(dtype=float)
        values[rng.random(len(values)) < rate] = np.nan
        out[name] = values
    return out


def swap_categories(
    x: pd.DataFrame, contract: Contract, columns: list[str], rate: float, rng: np.random.Generator
) -> pd.DataFrame:
    out = x.copy()
    for name in columns:
        allowed = np.asarray(contract.columns[name].values, dtype=object)
        values = out[name].to_numpy(dtype=object).copy()
        hit = rng.random(len(values)) < rate
        values[hit] = allowed[rng.integers(0, len(allowed), int(hit.sum()))]
        out[name] = values
    return out


def check(
    predict: Callable[[pd.DataFrame], np.ndarray],
    x: pd.DataFrame,
    y: np.ndarray,
    contract: Contract,
    features: list[str],
    params: RobustnessGate,
    clean_proba: np.ndarray | None = None,
) -> list[GateResult]:
    """`clean_proba`: the model's scores of `x` when the caller has them (the suite does), not recomputed."""
    numeric, categorical = contract.numeric(features), contract.categorical(features)
    if len(x) > params.max_rows:
        keep = np.sort(np.random.default_rng(params.seed).choice(len(x), params.max_rows, replace=False))
        x, y = x.iloc[keep], np.asarray(y)[keep]
        clean_proba = None if clean_proba is None else np.asarray(clean_proba)[keep]
    rng = np.random.default_rng(params.seed)
    clean = score(params.metric, y, predict(x) if clean_proba is None else clean_proba)
    perturbed = {
        "gaussian_noise": add_noise(x, contract, numeric, params.noise_std, rng),
        "missing_values": blank_values(x, numeric, params.missing_rate, rng),
        "category_swaps": swap_categories(x, contract, categorical, params.category_swap_rate, rng),
    }
    results = []
    for check_name, frame in perturbed.items():
        degraded = score(params.metric, y, predict(frame))
        results.append(
            bounded(
                "robustness",
                check_name,
                clean - degraded,
                params.max_drop,
                "<=",
                f"{params.metric} drop under {check_name.replace('_', ' ')} ({clean:.4f} -> {degraded:.4f})",
                clean=round(clean, 6),
                perturbed=round(degraded, 6),
            )
        )
    return results
