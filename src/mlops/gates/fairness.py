"""Gate `fairness`: for each sensitive attribute, group gaps in selection rate and true-positive rate, and the
worst group's ROC AUC. Groups smaller than `min_group_size` are listed in the details but not gated:
their rates are too noisy to fail a model on.

Each attribute may choose its own criteria and limits (gates.fairness.attributes; a field left out takes
the gate-wide value). An attribute that is a function of a model feature (`age_band` of `age`) is flagged,
not failed: a gap across it is the model's use of that feature, which docs/fairness.md discusses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from mlops.contract import NUMERIC_TYPES, Contract
from mlops.gates.leakage import as_float
from mlops.gates.result import GateResult, bounded, note
from mlops.metrics import slices
from mlops.params import FairnessAttribute, FairnessCriterion, FairnessGate

# "Determines": the attribute follows from the feature for at least this share of rows. Not 100 %: a
# few records typed by hand (an age entered after the band was computed) must not hide a 99.9 % mapping.
DETERMINED_SHARE = 0.99
PROXY_CHECK = "fairness/{}.function_of_feature"  # the passing row that flags it


@dataclass(frozen=True)
class Limits:
    """One attribute's criteria and limits, and where they come from (for the reason line)."""

    criteria: tuple[FairnessCriterion, ...]
    max_dpd: float
    max_eod: float
    min_auc: float
    source: str


def limits(attribute: str, params: FairnessGate) -> Limits:
    own = params.attributes.get(attribute, FairnessAttribute())

    def pick(value: float | None, default: float) -> float:
        return default if value is None else value

    overridden = own.model_dump(exclude_none=True)
    return Limits(
        criteria=tuple(own.criteria)
        if own.criteria is not None
        else ("demographic_parity", "equal_opportunity", "group_roc_auc"),
        max_dpd=pick(own.max_demographic_parity_difference, params.max_demographic_parity_difference),
        max_eod=pick(own.max_equal_opportunity_difference, params.max_equal_opportunity_difference),
        min_auc=pick(own.min_group_roc_auc, params.min_group_roc_auc),
        source=f" (settings: gates.fairness.attributes.{attribute})" if overridden else "",
    )


def _gap(groups: dict[str, dict[str, float | None]], key: str) -> tuple[float, str, str]:
    """(max - min of `key` over groups, the group with the max, the group with the min)."""
    values: dict[str, float] = {g: v for g, m in groups.items() if (v := m[key]) is not None}
    hi, lo = max(values, key=values.__getitem__), min(values, key=values.__getitem__)
    return values[hi] - values[lo], hi, lo


def _numeric_determines(values: pd.Series, groups: pd.Series) -> float | None:
    """Share of rows whose value maps to its value's usual group, when the groups are ranges of the value
    (sorted by value, neighbours share a group); None when they are not ranges. Requiring ranges keeps a
    column of unique values (each trivially "maps to one group") from counting."""
    v = as_float(values)
    keep = ~np.isnan(v)
    frame = pd.DataFrame({"v": v[keep], "g": groups.to_numpy()[keep]}).sort_values(["v", "g"], kind="stable")
    if len(frame) < 2:
        return None
    neighbours = float((frame["g"].to_numpy()[1:] == frame["g"].to_numpy()[:-1]).mean())
    if neighbours < DETERMINED_SHARE:
        return None
    usual = _usual_group(frame["v"].to_numpy(), frame["g"].to_numpy())
    return float((frame["v"].map(usual) == frame["g"]).mean())


def _usual_group(keys: np.ndarray, groups: np.ndarray) -> pd.Series:
    """Each key's most frequent group (ties: the first group by name, so the answer is deterministic)."""
    counts = pd.DataFrame({"k": keys, "g": groups}).value_counts().reset_index(name="n")
    ranked = counts.sort_values(["k", "n", "g"], ascending=[True, False, True], kind="stable")
    first = ranked.drop_duplicates("k")
    return pd.Series(first["g"].to_numpy(), index=first["k"].to_numpy())


def _categorical_determines(values: pd.Series, groups: pd.Series) -> float:
    """Share of rows whose group is the one their value had on the holdout's other half (alternate rows;
    a value the other half never saw counts as a miss, so unique values cannot look determining)."""
    keys = values.astype("string").fillna("<missing>").to_numpy()
    g = groups.to_numpy()
    first = np.arange(len(g)) % 2 == 0
    hits = 0
    for learn, apply in ((first, ~first), (~first, first)):
        usual = _usual_group(keys[learn], g[learn])
        hits += int((pd.Series(keys[apply]).map(usual).to_numpy() == g[apply]).sum())
    return hits / len(g)


def determining_features(
    frame: pd.DataFrame, attribute: str, contract: Contract, features: list[str]
) -> dict[str, float]:
    """Model features the attribute is a function of (>= DETERMINED_SHARE of rows), with that share."""
    groups = frame[attribute].astype("string").fillna("<missing>")
    if groups.value_counts(normalize=True).iloc[0] >= DETERMINED_SHARE:
        return {}  # one group holds (nearly) every row: any column would look "determining"
    found: dict[str, float] = {}
    for name in features:
        if name == attribute:
            continue
        numeric = contract.columns[name].type in NUMERIC_TYPES | {"date"}
        share = (
            _numeric_determines(frame[name], groups)
            if numeric
            else _categorical_determines(frame[name], groups)
        )
        if share is not None and share >= DETERMINED_SHARE:
            found[name] = round(share, 4)
    return found


def proxy_message(attribute: str, feature: str, share: float) -> str:
    return (
        f"`{attribute}` is a function of model feature `{feature}` (each {feature} value maps to one "
        f"{attribute} group for {share:.1%} of holdout rows): a gap across {attribute} reflects the model's "
        f"use of {feature}, not a bias against a group the model cannot see; see docs/fairness.md"
    )


def _attribute_checks(
    attribute: str, groups: dict[str, dict[str, Any]], lim: Limits, details: dict[str, Any]
) -> list[GateResult]:
    results: list[GateResult] = []
    if "demographic_parity" in lim.criteria:
        dpd, hi, lo = _gap(groups, "selection_rate")
        what = f"selection rate gap between {attribute}={hi} and {attribute}={lo}{lim.source}"
        check = f"{attribute}.demographic_parity_difference"
        results.append(bounded("fairness", check, dpd, lim.max_dpd, "<=", what, **details))
    if "equal_opportunity" in lim.criteria:
        eod, hi, lo = _gap(groups, "true_positive_rate")
        what = f"true-positive rate gap between {attribute}={hi} and {attribute}={lo}{lim.source}"
        check = f"{attribute}.equal_opportunity_difference"
        results.append(
            bounded("fairness", check, eod, lim.max_eod, "<=", what, **(details if not results else {}))
        )
    if "group_roc_auc" in lim.criteria:
        aucs = {g: m["roc_auc"] for g, m in groups.items() if m["roc_auc"] is not None}
        worst = min(aucs, key=aucs.__getitem__)
        what = f"ROC AUC of the worst group, {attribute}={worst}{lim.source}"
        check = f"{attribute}.worst_group_roc_auc"
        results.append(
            bounded(
                "fairness", check, aucs[worst], lim.min_auc, ">=", what, **(details if not results else {})
            )
        )
    return results


def _with_proxy_hint(result: GateResult, attribute: str, feature: str) -> GateResult:
    if result.passed:
        return result
    hint = f" (`{attribute}` is a function of model feature `{feature}`: see {PROXY_CHECK.format(attribute)})"
    return replace(result, reason=result.reason + hint)


def check_attribute(
    attribute: str,
    all_groups: dict[str, dict[str, Any]],
    proxies: dict[str, float],
    params: FairnessGate,
) -> list[GateResult]:
    """One attribute's checks (its own criteria and limits), plus a passing `proxy` row when flagged."""
    lim = limits(attribute, params)
    groups = {g: m for g, m in all_groups.items() if m["count"] >= params.min_group_size}
    details = {
        "groups": all_groups,
        "not_gated_small_groups": sorted(set(all_groups) - set(groups)),
        **({"function_of_features": proxies} if proxies else {}),
    }
    if not lim.criteria:
        results = [note("fairness", attribute, True, f"no criteria chosen{lim.source}", **details)]
    elif len(groups) < 2:
        reason = f"fewer than 2 groups of >= {params.min_group_size} rows"
        results = [note("fairness", attribute, True, reason, **details)]
    else:
        results = _attribute_checks(attribute, groups, lim, details)
    if not proxies:
        return results
    feature, share = next(iter(proxies.items()))
    results = [_with_proxy_hint(r, attribute, feature) for r in results]
    flag = note(
        "fairness",
        PROXY_CHECK.format(attribute).removeprefix("fairness/"),
        True,
        proxy_message(attribute, feature, share),
        function_of_features=proxies,
    )
    return [*results, flag]


def check(
    frame: pd.DataFrame,
    y: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    contract: Contract,
    features: list[str],
    params: FairnessGate,
) -> list[GateResult]:
    results: list[GateResult] = []
    for attribute, all_groups in slices(frame, y, proba, threshold, contract.sensitive).items():
        proxies = determining_features(frame, attribute, contract, features)
        results.extend(check_attribute(attribute, all_groups, proxies, params))
    return results
