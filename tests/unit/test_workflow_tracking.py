"""Every workflow job that trains, gates, packages, mirrors aliases, pulls, pushes or reads the prediction log
gets the one team-scale credentials block for the whole job (tracking server, object storage), and without
the secrets says once where its runs went."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from mlops.summary import tracking_notice

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
# make targets that write to or read from MLflow: the pipeline (train logs, gate logs and registers), the
# report (runs of base and head), the package (the run id label), the aliases.
TRACKED = ("make pipeline", "make report", "make package", "make aliases")
# make targets that reach the DVC remote or the prediction log's store.
STORED = (
    "pull-if-remote",
    "push-if-remote",
    "make pull",
    "make push",
    "drift-log",
    "fetch-log",
    "retrain-pr",
)
LOG_READERS = ("drift-log", "fetch-log")
# The block (docs/team-scale.md#in-the-workflows): its values never empty where a tool breaks on "".
BLOCK = {
    "MLFLOW_TRACKING_URI": "${{ secrets.MLFLOW_TRACKING_URI }}",
    "MLFLOW_TRACKING_USERNAME": "${{ secrets.MLFLOW_TRACKING_USERNAME }}",
    "MLFLOW_TRACKING_PASSWORD": "${{ secrets.MLFLOW_TRACKING_PASSWORD }}",
    "AWS_ACCESS_KEY_ID": "${{ secrets.AWS_ACCESS_KEY_ID }}",
    "AWS_SECRET_ACCESS_KEY": "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
    "AWS_DEFAULT_REGION": "${{ vars.AWS_DEFAULT_REGION || 'us-east-1' }}",
    "AWS_ENDPOINT_URL": "${{ vars.AWS_ENDPOINT_URL }}",
}


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in (yaml.safe_load(path.read_text()).get("jobs") or {}).items():
            out.append((path.name, name, job))
    return out


def test_every_job_that_touches_mlflow_or_storage_gets_the_credentials_block_for_the_whole_job() -> None:
    touching = []
    for workflow, name, job in jobs():
        runs = " ".join(str(step.get("run", "")) for step in job.get("steps", []))
        if any(target in runs for target in (*TRACKED, *STORED)):
            touching.append(f"{workflow}:{name}")
            env = job.get("env") or {}
            assert {k: env.get(k) for k in BLOCK} == BLOCK, (workflow, name)
            if any(target in runs for target in LOG_READERS):
                assert env.get("MLOPS_PREDICTION_LOG_URL") == "${{ secrets.MLOPS_PREDICTION_LOG_URL }}"
            for step in job["steps"]:  # one source: no step overrides the job's value
                overridden = set(step.get("env") or {}) & {*BLOCK, "MLOPS_PREDICTION_LOG_URL"}
                assert not overridden, (workflow, name, step.get("name"), overridden)
    assert {"model-pr.yml:model", "deploy.yml:staging", "deploy.yml:production", "retrain.yml:retrain",
            "drift.yml:drift"} <= set(touching)  # fmt: skip


def test_the_blocks_region_is_never_empty() -> None:
    """botocore turns an empty AWS_DEFAULT_REGION into https://s3..amazonaws.com (an unset one is fine):
    the block falls back to a region, and an empty endpoint or key is read as unset."""
    import boto3

    assert BLOCK["AWS_DEFAULT_REGION"].endswith("|| 'us-east-1' }}")
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": ""}):
        assert boto3.client("s3").meta.endpoint_url == "https://s3.amazonaws.com"
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": ""}), pytest.raises(ValueError, match="endpoint"):
        boto3.client("s3")


def test_a_job_without_a_tracking_server_says_so_once() -> None:
    notice = tracking_notice({"GITHUB_ACTIONS": "true", "MLFLOW_TRACKING_URI": ""})
    assert notice is not None and notice.startswith("::notice title=tracking::MLFLOW_TRACKING_URI is not set")
    assert tracking_notice({"GITHUB_ACTIONS": "true", "MLFLOW_TRACKING_URI": "http://mlflow:5000"}) is None
    assert tracking_notice({}) is None  # on a laptop the embedded store is the point
