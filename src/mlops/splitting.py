"""Pure train/holdout split: by time (the most recent rows are the holdout) or stratified at random, and the
report of the two parts (rows, positive rate) with the check that their label mix did not drift apart."""

from __future__ import annotations

from dataclasses import asdict, dataclass

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


@dataclass(frozen=True)
class SplitReport:
    """Row counts and positive-label rates of the two parts: what the split stage prints and records."""

    strategy: str
    train_rows: int
    holdout_rows: int
    train_rate: float
    holdout_rate: float

    @property
    def gap(self) -> float:
        """|holdout rate - train rate|: how far the holdout's label mix is from what the model learnt."""
        return abs(self.holdout_rate - self.train_rate)

    def as_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "gap": round(self.gap, 6)}

    def line(self) -> str:
        return (
            f"split ({self.strategy}): {self.train_rows} train rows (positive rate {self.train_rate:.3f}), "
            f"{self.holdout_rows} holdout rows (positive rate {self.holdout_rate:.3f})"
        )


def _rate(part: pd.DataFrame, target: str, positive_label: object) -> float:
    return float((part[target] == positive_label).mean()) if len(part) else float("nan")


def split_report(
    train: pd.DataFrame, test: pd.DataFrame, strategy: str, target: str, positive_label: object
) -> SplitReport:
    """Rows and share of the positive label in each part (the same 0/1 reading as modeling.targets)."""
    return SplitReport(
        strategy=strategy,
        train_rows=len(train),
        holdout_rows=len(test),
        train_rate=round(_rate(train, target, positive_label), 6),
        holdout_rate=round(_rate(test, target, positive_label), 6),
    )


# What can make the label mix of the two parts differ, by strategy: the reader's first suspects.
_CAUSES = {
    "time": (
        "with a time split, recent labels may be censored (outcomes not yet known when the data was "
        "extracted, so recent rows read as negatives or only the early outcomes are in), or the label's "
        "definition or the population changed over time"
    ),
    "random": "a stratified random split should keep the rates equal: check the target column's values",
}
_OPTIONS = (
    "options: drop the rows whose outcome window has not closed yet (extract only rows older than the "
    "label's horizon), check that the label join covers the recent period, use `split.strategy: random` "
    "if rows do not depend on time, or raise split.max_target_rate_gap in params.yaml with a comment "
    "saying why the shift is real"
)


def rate_gap_problem(report: SplitReport, max_gap: float) -> str | None:
    """The failure message when the holdout's positive rate is more than `max_gap` from train's, else None.

    A holdout whose label mix differs that much measures the labelling, not the model: every holdout metric
    (and so every gate) would judge the candidate on outcomes the training data never showed.
    """
    if not report.gap > max_gap:  # NaN (an empty part) is caught by the row counts, not here
        return None
    return (
        f"split: holdout positive rate {report.holdout_rate:.3f} vs train {report.train_rate:.3f} "
        f"(gap {report.gap:.3f} > split.max_target_rate_gap {max_gap:g}): "
        f"{_CAUSES.get(report.strategy, _CAUSES['time'])}; {_OPTIONS}"
    )
