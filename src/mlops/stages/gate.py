"""Stage `gate`: the promotion gates. Writes reports/gates.{json,md}, then fails if any enabled gate failed.

A candidate that fails here stops `dvc repro` (and the pull request): nothing downstream of the gate runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops.adapters.tracking import log_to_model_run
from mlops.contract import Contract, load_contract
from mlops.deploy_state import deployed_model, load_deployed_model
from mlops.gates import behaviour, champion, fairness, operational, performance, robustness
from mlops.gates.result import GateResult, markdown, note, report
from mlops.io import InputError, load_model, read_json, read_table, write_json, write_text
from mlops.lineage import file_md5
from mlops.modeling import input_columns
from mlops.params import EvaluateParams, GatesParams, TrainParams, load_section


def _champion(production: Path, candidate_md5: str, x: pd.DataFrame) -> tuple[np.ndarray | None, str]:
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
    y = (holdout[contract.target] == contract.positive_label).to_numpy(dtype=int)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict_proba(frame)[:, 1])

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
        "robustness": (
            gates.robustness.enabled,
            lambda: robustness.check(predict, x, y, contract, features, gates.robustness),
        ),
        "fairness": (
            gates.fairness.enabled,
            lambda: fairness.check(holdout, y, proba, threshold, contract.sensitive, gates.fairness),
        ),
        "behaviour": (
            gates.behaviour.enabled,
            lambda: behaviour.check(predict, x, contract, gates.behaviour),
        ),
        "operational": (
            gates.operational.enabled,
            lambda: operational.check(predict, x, model_bytes, gates.operational),
        ),
    }
    results: list[GateResult] = []
    for enabled, gate in families.values():
        if enabled:
            results.extend(gate())
    return results, [name for name, (enabled, _) in families.items() if not enabled]


def run(
    params_path: Path,
    contract_path: Path,
    test_path: Path,
    model_path: Path,
    metrics_path: Path,
    production: Path,
    report_json: Path,
    report_md: Path,
) -> int:
    gates = load_section(params_path, "gates", GatesParams)
    threshold = load_section(params_path, "evaluate", EvaluateParams).threshold
    train = load_section(params_path, "train", TrainParams)
    contract = load_contract(contract_path)
    model_md5 = file_md5(model_path)
    results, disabled = run_gates(
        gates=gates,
        contract=contract,
        features=contract.features(include_sensitive=train.use_sensitive_features),
        threshold=threshold,
        model=load_model(model_path),
        holdout=read_table(test_path),
        metrics=read_json(metrics_path),
        model_bytes=model_path.stat().st_size,
        champion_proba=lambda x: _champion(production, model_md5, x),
    )
    # The model's md5 ties this report to the model it judged (the PR report checks it is current).
    data = {"model_md5": model_md5, **report(results, disabled)}
    write_json(data, report_json)
    write_text(markdown(data), report_md)
    log_to_model_run(
        experiment=train.mlflow.experiment,
        model_md5=model_md5,
        metrics={f"gate.{r.gate}.{r.check}": r.value for r in results if r.value is not None},
        artifacts=[report_json, report_md],
        tags={"mlops.gates": "passed" if data["passed"] else "failed"},
    )
    if not data["passed"]:
        print(
            f"gate: FAILED {len(data['failed'])} of {len(results)} checks (see {report_md}):", file=sys.stderr
        )
        for r in results:
            if not r.passed:
                print(f"  - {r.name}: {r.reason}", file=sys.stderr)
        return 1
    print(
        f"gate: passed all {len(results)} checks -> {report_md}"
        + (f" (disabled: {', '.join(disabled)})" if disabled else "")
    )
    return 0
