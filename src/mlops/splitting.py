"""Pure train/holdout split: by time (the most recent rows are the holdout) or stratified at random."""

from __future__ import annotations

import numpy as np
import pandas as pd


def split_frame(
    df: pd.DataFrame, strategy: str, test_fraction: float, seed: int, time_column: str | None, target: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test). Neither input nor outputs share rows; outputs keep the input's columns."""
    n_test = max(1, round(len(df) * test_fraction))
    if strategy == "time":
        if time_column is None:
            raise ValueError("a time split needs the contract's time column; this contract has none")
        # Stable sort on time then original order: ties are broken deterministically.
        ordered = df.sort_values(time_column, kind="stable")
        return ordered.iloc[:-n_test].reset_index(drop=True), ordered.iloc[-n_test:].reset_index(drop=True)
    if strategy == "random":
        rng = np.random.default_rng(seed)
        test_idx: list[int] = []
        # Stratify by target: each class contributes its share of the holdout.
        for _, group in df.groupby(target, sort=True):
            k = round(len(group) * test_fraction)
            test_idx.extend(rng.choice(group.index.to_numpy(), size=k, replace=False).tolist())
        mask = df.index.isin(test_idx)
        return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)
    raise ValueError(f"unknown split strategy {strategy!r}: use 'time' or 'random'")
