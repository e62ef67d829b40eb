"""Every workflow job that trains, gates, packages or mirrors aliases tracks on the team's server when the
MLFLOW_TRACKING_URI secret is set, and without it says once where its runs went."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops.summary import tracking_notice

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
# make targets that write to or read from MLflow: the pipeline (train, evaluate, gate register), the
# report (runs of base and head), the package (the run id label), the aliases.
TRACKED = ("make pipeline", "make report", "make package", "make aliases")


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in (yaml.safe_load(path.read_text()).get("jobs") or {}).items():
            out.append((path.name, name, job))
    return out


def test_every_job_that_touches_mlflow_gets_the_tracking_uri_for_the_whole_job() -> None:
    touching = []
    for workflow, name, job in jobs():
        runs = " ".join(str(step.get("run", "")) for step in job.get("steps", []))
        if any(target in runs for target in TRACKED):
            touching.append(f"{workflow}:{name}")
            env = job.get("env") or {}
            assert env.get("MLFLOW_TRACKING_URI") == "${{ secrets.MLFLOW_TRACKING_URI }}", (workflow, name)
            for step in job["steps"]:  # one source: no step overrides the job's value
                assert "MLFLOW_TRACKING_URI" not in (step.get("env") or {}), (
                    workflow,
                    name,
                    step.get("name"),
                )
    assert {"model-pr.yml:model", "deploy.yml:staging", "deploy.yml:production", "retrain.yml:retrain",
            "drift.yml:drift"} <= set(touching)  # fmt: skip


def test_a_job_without_a_tracking_server_says_so_once() -> None:
    notice = tracking_notice({"GITHUB_ACTIONS": "true", "MLFLOW_TRACKING_URI": ""})
    assert notice is not None and notice.startswith("::notice title=tracking::MLFLOW_TRACKING_URI is not set")
    assert tracking_notice({"GITHUB_ACTIONS": "true", "MLFLOW_TRACKING_URI": "http://mlflow:5000"}) is None
    assert tracking_notice({}) is None  # on a laptop the embedded store is the point
