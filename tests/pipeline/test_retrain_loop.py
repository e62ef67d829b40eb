"""The monitoring loop, end to end in a clone: production serves model A; shifted traffic with labels
arrives; `mlops drift` reports drift; the labelled window becomes the training extract; `dvc repro`
retrains; the new model passes every gate (the champion gate included, against A) and beats A on fresh
shifted data."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from mlops.contract import load_contract
from mlops.generate import generate
from mlops.io import load_model
from mlops.modeling import input_columns
from tests.conftest import commit_all, run, tool_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dvc-pipeline")]


@pytest.fixture
def production(project: Path) -> Path:
    """Model A promoted and serving in production."""
    run(["mlops", "deploy", "--env", "staging"], project)
    run(["mlops", "promote"], project)
    commit_all(project, "promote model A")
    run(["mlops", "deploy", "--env", "production"], project)
    return project


def test_shifted_traffic_is_detected_and_a_retrained_model_beats_the_old_one(production: Path) -> None:
    repo = production
    old_model = load_model(repo / "models" / "model.joblib")
    port = json.loads((repo / ".deploy" / "production" / "active.json").read_text())["port"]
    url = f"http://127.0.0.1:{port}"
    traffic = ["--rows", "12000", "--shift", "both", "--seed", "5", "--feedback"]  # inputs and relation shift
    run(["mlops", "simulate", "--url", url, *traffic], repo)
    run(["mlops", "stop", "--env", "production"], repo)  # graceful: the log is complete

    log_dir = ".deploy/production/predictions"
    drift = run(["mlops", "drift", "--log-dir", log_dir], repo, check=False)
    assert drift.returncode == 3, drift.stdout + drift.stderr
    summary = json.loads((repo / "reports" / "drift" / "drift.json").read_text())
    assert summary["status"] == "drift" and summary["verdict"] == "degrading" and summary["retrain"]
    assert summary["reference"]["model"].startswith("production model")

    # The retrain workflow's own make steps: the labelled window becomes the DVC-tracked extract that
    # ingest reads, the pipeline reruns, and the result is pushed as a branch with a pull request.
    env = {**tool_env(), "MAKEFLAGS": "--assume-old=.venv/.synced"}

    def make(*args: str) -> str:
        done = subprocess.run(["make", *args], cwd=repo, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    make("retrain-data", f"LOG_DIR={log_dir}")
    assert "source: data/extract/labelled.parquet" in (repo / "params.yaml").read_text()
    assert (repo / "data" / "extract" / "labelled.parquet.dvc").exists()
    # No edit: after a concept shift the retrained model beats the champion by far (the champion gate's
    # number below), and the too_good gate, which compares with a reference model on the same new rows,
    # does not mistake that for a leak.
    make("pipeline")
    gates = json.loads((repo / "reports" / "gates.json").read_text())
    assert gates["passed"], gates["failed"]
    champion = next(r for r in gates["results"] if r["gate"] == "champion")
    assert champion["value"] > 0.05, champion["reason"]  # better than production's model on the new holdout

    remote = repo.parent / "github.git"
    run(["git", "init", "-q", "--bare", str(remote)], repo)
    gh_log, gh = repo.parent / "gh.log", repo.parent / "gh"
    gh.write_text(f'#!/bin/sh\necho "$@" >> {gh_log}\n[ "$2" != edit ]\n')  # `pr list`: no open PR yet
    gh.chmod(0o755)
    make("retrain-pr", f"PUSH_URL={remote}", f"GH={gh}", "RETRAIN_BRANCH=retrain/test")
    lookup, create = gh_log.read_text().splitlines()
    # One OPEN pull request per branch: updated while it is open, a new one once it was merged.
    assert lookup.startswith("pr list --head retrain/test --state open")
    assert create.startswith("pr create --base main --head retrain/test")
    show = ["git", "--git-dir", str(remote), "show", "--name-only", "--format=%s", "retrain/test"]
    pushed = run(show, repo).stdout
    assert "Retrain on the labelled production window" in pushed
    assert "dvc.lock" in pushed and "data/extract/labelled.parquet.dvc" in pushed

    contract = load_contract(repo / "data" / "contract.yaml")
    fresh = generate(4000, seed=999, covariate_shift=1.0, concept_shift=1.0)
    x, y = fresh[input_columns(contract)], fresh[contract.target]
    new_model = load_model(repo / "models" / "model.joblib")
    old_auc = roc_auc_score(y, old_model.predict_proba(x)[:, 1])
    new_auc = roc_auc_score(y, new_model.predict_proba(x)[:, 1])
    assert new_auc > old_auc + 0.05, (old_auc, new_auc)
