"""Gate `fairness`: for each sensitive attribute, group gaps in selection rate and true-positive rate, and the
worst group's ROC AUC. Groups smaller than `min_group_size` are listed in the details but not gated:
their rates are too noisy to fail a model on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.gates.result import GateResult, bounded, note
from mlops.metrics import slices
from mlops.params import FairnessGate


def _gap(groups: dict[str, dict[str, float | None]], key: str) -> tuple[float, str, str]:
    """(max - min of `key` over groups, the group with the max, the group with the min)."""
    values: dict[str, float] = {g: v for g, m in groups.items() if (v := m[key]) is not None}
    hi, lo = max(values, key=values.__getitem__), min(values, key=values.__getitem__)
    return values[hi] - values[lo], hi, lo


def check(
    frame: pd.DataFrame,
    y: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    sensitive: list[str],
    params: FairnessGate,
) -> list[GateResult]:
    results: list[GateResult] = []
    per_attribute = slices(frame, y, proba, threshold, sensitive)
    for attribute, all_groups in per_attribute.items():
        groups = {g: m for g, m in all_groups.items() if m["count"] >= params.min_group_size}
        small = sorted(set(all_groups) - set(groups))
        details = {"groups": all_groups, "not_gated_small_groups": small}
        if len(groups) < 2:
            results.append(
                note(
                    "fairness",
                    attribute,
                    True,
                    f"fewer than 2 groups of >= {params.min_group_size} rows",
                    **details,
                )
            )
            continue
        dpd, hi, lo = _gap(groups, "selection_rate")
        results.append(
            bounded(
                "fairness",
                f"{attribute}.demographic_parity_difference",
                dpd,
                params.max_demographic_parity_difference,
                "<=",
                f"selection rate gap between {attribute}={hi} and {attribute}={lo}",
                **details,
            )
        )
        eod, hi, lo = _gap(groups, "true_positive_rate")
        results.append(
            bounded(
                "fairness",
                f"{attribute}.equal_opportunity_difference",
                eod,
                params.max_equal_opportunity_difference,
                "<=",
                f"true-positive rate gap between {attribute}={hi} and {attribute}={lo}",
            )
        )
        aucs = {g: m["roc_auc"] for g, m in groups.items() if m["roc_auc"] is not None}
        worst = min(aucs, key=aucs.__getitem__)
        results.append(
            bounded(
                "fairness",
                f"{attribute}.worst_group_roc_auc",
                aucs[worst],
                params.min_group_roc_auc,
                ">=",
                f"ROC AUC of the worst group, {attribute}={worst}",
            )
        )
    return results
