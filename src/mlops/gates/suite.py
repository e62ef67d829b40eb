"""The promotion gates as one suite: every enabled family, in a fixed order, on one holdout.

Pure orchestration over the gate families (each module checks one family and returns GateResults);
`champion_predictions` is the one part that reads git's record of production and the DVC cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops import threads
from mlops.contract import Contract
from mlops.deploy.records import deployed_model, load_deployed_model
from mlops.gates import behaviour, champion, fairness, leakage, operational, performance, robustness, too_good
from mlops.gates.result import GateResult, note
from mlops.io import InputError
from mlops.modeling import input_columns, targets
from mlops.params import GatesParams


def champion_predictions(
    production: Path, candidate_md5: str, x: pd.DataFrame
) -> tuple[np.ndarray | None, str]:
    """Champion predictions on the holdout (None when there is no champion) and how it is named."""
    recorded = deployed_model(production)
    if recorded is None:
        return None, f"{production} records no model yet"
    if recorded.md5 == candidate_md5:
        return None, f"the candidate is the production model ({recorded.label})"
    model = load_deployed_model(recorded)
    try:
        return np.asarray(model.predict_proba(x)[:, 1]), f"production, {recorded.label}"
    except Exception as exc:  # e.g. the contract changed: the champion cannot read the candidate's holdout
        raise InputError(
            f"the champion ({recorded.label}) cannot score this holdout: {type(exc).__name__}: {exc}. "
            "If the data contract changed on purpose, disable gates.champion in this pull request."
        ) from exc


def operational_gate(
    model: Any,
    contract: Contract,
    x: pd.DataFrame,
    proba: np.ndarray,
    threshold: float,
    model_bytes: int,
    gates: GatesParams,
) -> list[GateResult]:
    """The operational gate judges the path that will serve: the compiled one when it compiles and matches
    the Pipeline on this holdout as `mlops package` demands (mlops.serving.compiled), else the Pipeline."""
    from pydantic import ValidationError

    from mlops.serving.compiled import PARITY_ROWS, Compiled, prove
    from mlops.serving.schema import record_model, served_records

    schema = record_model(contract)

    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        return served_records(frame, contract, schema)  # what the service hands the model

    compiled: Compiled | None
    try:
        compiled, _ = prove(model, contract, records(x.head(PARITY_ROWS)), threshold)
    except ValidationError:  # a row the service would refuse: no proof, the Pipeline serves: time it
        compiled = None
    if compiled is None:
        return operational.check(
            lambda frame: np.asarray(model.predict_proba(frame)[:, 1]), x, model_bytes, gates.operational
        )
    return operational.check(compiled.proba, x, model_bytes, gates.operational, records, "compiled")


def run_gates(
    *,
    gates: GatesParams,
    contract: Contract,
    features: list[str],
    threshold: float,
    model: Any,
    holdout: pd.DataFrame,
    metrics: dict[str, float],
    model_bytes: int,
    champion_proba: Callable[[pd.DataFrame], tuple[np.ndarray | None, str]],
) -> tuple[list[GateResult], list[str]]:
    """Every enabled gate in a fixed order; returns (results, names of disabled gates)."""
    x = holdout[input_columns(contract)]
    y = targets(holdout, contract)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict_proba(frame)[:, 1])

    with threads.one_native_thread():  # no OpenMP spin-waiting on a loaded machine; same scores
        proba = predict(x)

    def champion_gate() -> list[GateResult]:
        try:
            champ, label = champion_proba(x)
        except InputError as exc:  # cannot prove "no regression" without the champion: fail, loudly
            return [note("champion", gates.champion.metric, False, str(exc))]
        return champion.check(y, proba, champ, label, gates.champion)

    families: dict[str, tuple[bool, Callable[[], list[GateResult]]]] = {
        "performance": (gates.performance.enabled, lambda: performance.check(metrics, gates.performance)),
        "champion": (gates.champion.enabled, champion_gate),
        "too_good": (
            gates.too_good.enabled,
            lambda: too_good.check(holdout, y, proba, contract, features, gates.too_good),
        ),
        "leakage": (gates.leakage.enabled, lambda: leakage.check(holdout, y, contract, features)),
        "robustness": (
            gates.robustness.enabled,
            lambda: robustness.check(predict, x, y, contract, features, gates.robustness, proba),
        ),
        "fairness": (
            gates.fairness.enabled,
            lambda: fairness.check(holdout, y, proba, threshold, contract, features, gates.fairness),
        ),
        "behaviour": (
            gates.behaviour.enabled,
            lambda: behaviour.check(predict, x, contract, gates.behaviour),
        ),
        "operational": (
            gates.operational.enabled,
            lambda: operational_gate(model, contract, x, proba, threshold, model_bytes, gates),
        ),
    }
    results: list[GateResult] = []
    with threads.one_native_thread():  # every gate's model calls: same scores, no spin-waiting CPU
        for enabled, gate in families.values():
            if enabled:
                results.extend(gate())
    return results, [name for name, (enabled, _) in families.items() if not enabled]
