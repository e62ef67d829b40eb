"""Stage `gate`: the promotion gates. Writes reports/gates.{json,md}, then fails if any enabled gate failed.

A candidate that fails here stops `dvc repro` (and the pull request): nothing downstream of the gate runs.
The suite itself is mlops.gates.suite; this edge reads the files, writes the reports, attaches the
evaluation (metrics, plot data, slices) and the verdict to the model's MLflow run in one write, and
registers the model only when it passed (once per model file).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlops.adapters.tracking import log_to_model_run, register_passed
from mlops.consistency import load_checked
from mlops.gates.result import markdown, report
from mlops.gates.suite import champion_predictions, run_gates
from mlops.io import load_model, read_json, read_table, write_json, write_text
from mlops.lineage import file_md5, git_state


def run(
    params: Path,
    contract: Path,
    test: Path,
    model: Path,
    metrics: Path,
    plots_dir: Path,
    slices: Path,
    production: Path,
    report_json: Path,
    report_md: Path,
) -> int:
    config, data_contract = load_checked(params, contract)
    model_md5 = file_md5(model)
    evaluation = read_json(metrics)
    results, disabled = run_gates(
        gates=config.gates,
        contract=data_contract,
        features=data_contract.features(include_sensitive=config.train.use_sensitive_features),
        threshold=config.project.threshold,
        model=load_model(model),
        holdout=read_table(test),
        metrics=evaluation,
        model_bytes=model.stat().st_size,
        champion_proba=lambda x: champion_predictions(production, model_md5, x),
    )
    # The model's md5 ties this report to the model it judged (the PR report checks it is current).
    data = {"model_md5": model_md5, **report(results, disabled)}
    write_json(data, report_json)
    write_text(markdown(data), report_md)
    log_to_model_run(
        experiment=config.project.name,
        model_md5=model_md5,
        metrics={
            **{f"test_{k}": float(v) for k, v in evaluation.items()},
            **{f"gate.{r.gate}.{r.check}": r.value for r in results if r.value is not None},
        },
        artifacts=[metrics, *sorted(plots_dir.glob("*.json")), slices, report_json, report_md],
        tags={
            "mlops.test_data_md5": file_md5(test),
            **{f"mlops.{k}": v for k, v in git_state().items()},
            "mlops.gates": "passed" if data["passed"] else "failed",
        },
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
    # Only what passed is registered, and the same bytes once (a re-run gives the same version back).
    name = config.project.name
    try:
        version, new = register_passed(experiment=name, registered_model=name, model_md5=model_md5)
    except Exception as exc:  # the registry refused (permissions, an outage): the verdict stands
        print(
            f"gate: passed, but not registered in MLflow ({type(exc).__name__}: {exc}); `make aliases` "
            "registers it at promotion",
            file=sys.stderr,
        )
        return 0
    if version is None:
        print(f"gate: no MLflow run logged model md5 {model_md5} in this store: not registered")
    else:
        print(f"gate: registered model {name!r} version {version}" + ("" if new else " (already registered)"))
    return 0
