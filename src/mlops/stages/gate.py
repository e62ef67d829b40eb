"""Stage `gate`: the promotion gates. Writes reports/gates.{json,md}, then fails if any enabled gate failed.

A candidate that fails here stops `dvc repro` (and the pull request): nothing downstream of the gate runs.
The suite itself is mlops.gates.suite; this edge reads the files, writes the reports and the MLflow run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlops.adapters.tracking import log_to_model_run
from mlops.contract import load_contract
from mlops.gates.result import markdown, report
from mlops.gates.suite import champion_predictions, run_gates
from mlops.io import load_model, read_json, read_table, write_json, write_text
from mlops.lineage import file_md5
from mlops.params import EvaluateParams, GatesParams, TrainParams, load_section


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
        champion_proba=lambda x: champion_predictions(production, model_md5, x),
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
