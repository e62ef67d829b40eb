"""Gate `behaviour`: declarative invariance and directional checks from params, run on holdout rows.

Invariance: shuffling a column across rows must not change any score (beyond `tolerance`).
Directional: adding `delta` to a column (clipped to the contract's range) must move every score the stated
way or leave it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mlops.contract import Contract
from mlops.gates.result import GateResult, bounded
from mlops.params import BehaviourGate


def _known(contract: Contract, params: BehaviourGate) -> None:
    named = [*params.invariance, *(rule.column for rule in params.directional)]
    unknown = sorted(set(named) - set(contract.data_columns))
    if unknown:
        raise ValueError(f"gates.behaviour names columns {unknown} that are not in the data contract")
    non_numeric = sorted(
        {r.column for r in params.directional} - set(contract.numeric(list(contract.data_columns)))
    )
    if non_numeric:
        raise ValueError(f"gates.behaviour.directional needs numeric columns; {non_numeric} are not")


def check(
    predict: Callable[[pd.DataFrame], np.ndarray], x: pd.DataFrame, contract: Contract, params: BehaviourGate
) -> list[GateResult]:
    _known(contract, params)
    rng = np.random.default_rng(params.seed)
    rows = x.iloc[rng.permutation(len(x))[: params.rows]].reset_index(drop=True)
    base = predict(rows)
    results = []
    for column in params.invariance:
        shuffled = rows.assign(**{column: rows[column].sample(frac=1.0, random_state=params.seed).to_numpy()})
        change = np.abs(predict(shuffled) - base)
        moved = int((change > params.tolerance).sum())
        results.append(
            bounded(
                "behaviour",
                f"invariance.{column}",
                float(change.max()),
                params.tolerance,
                "<=",
                f"largest score change when {column} is shuffled ({moved} of {len(rows)} rows changed)",
            )
        )
    for rule in params.directional:
        _, high = contract.columns[rule.column].numeric_range()
        moved_frame = rows.assign(**{rule.column: np.minimum(rows[rule.column] + rule.delta, high)})
        change = predict(moved_frame) - base
        sign = 1.0 if rule.direction == "increase" else -1.0
        against = sign * change  # negative where the score moved the wrong way
        wrong = int((against < -params.tolerance).sum())
        results.append(
            bounded(
                "behaviour",
                f"directional.{rule.column}",
                float(against.min()),
                -params.tolerance,
                ">=",
                f"{rule.column} {rule.delta:+g} must {rule.direction} the score: "
                f"{wrong} of {len(rows)} rows moved the other way (worst value shown)",
            )
        )
    return results
