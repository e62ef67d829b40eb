"""GitOps deployment end to end on the `local` target, in a throwaway clone with the real pipeline.

pipeline -> package -> deploy staging -> smoke -> promote -> deploy production -> traffic -> a second model
through the same path -> rollback restores the first model's predictions. Each step's deploy file is
committed, so git history shows what ran where, and rollback reads that history.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from mlops.deploy.local import EXIT_SMOKE_FAILED
from tests.conftest import GIT, ROOT, commit_all, run, tool_env
from tests.pipeline.conftest import set_param
from tests.world import world_params

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dvc-pipeline")]


def mlops(repo: Path, *args: str, check: bool = True) -> str:
    proc = run(["mlops", *args], repo, check=check)
    return proc.stdout + proc.stderr


def predict(port: int, record: dict) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=json.dumps({"record": record}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def active(repo: Path, env: str) -> dict:
    return json.loads((repo / ".deploy" / env / "active.json").read_text())


def recorded_md5(repo: Path, env: str) -> str | None:
    model = yaml.safe_load((repo / "deploy" / f"{env}.yaml").read_text())["model"]
    return model["md5"] if model else None


def test_staging_promote_production_then_rollback(project: Path) -> None:
    repo = project
    assert tool_env()["BENTOML_HOME"].startswith(str(repo))  # never the developer's store

    # The exported bento is a complete artifact: it imports into an empty store elsewhere.
    mlops(
        repo,
        "package",
        "--contract",
        "data/contract.yaml",
        "--model",
        "models/model.joblib",
        "--gates",
        "reports/gates.json",
        "--test",
        "data/processed/test.parquet",
        "--out",
        "dist",
    )
    built = json.loads((repo / "dist" / "package.json").read_text())
    elsewhere = {**tool_env(), "BENTOML_HOME": str(repo / "elsewhere")}
    bentoml = str(ROOT / ".venv" / "bin" / "bentoml")
    export = str(
        repo / "dist" / f"{world_params().project.name}.bento"
    )  # bentoml import resolves relative paths from /
    subprocess.run([bentoml, "import", export], cwd=repo, env=elsewhere, check=True)
    listed = subprocess.run(
        [bentoml, "list", "-o", "json"], cwd=repo, env=elsewhere, check=True, capture_output=True, text=True
    ).stdout
    assert built["bento_tag"] in listed

    # Model A: staging follows the pipeline; promotion writes production from staging.
    out = mlops(repo, "deploy", "--env", "staging")
    assert "smoke passed" in out, out
    model_a = recorded_md5(repo, "staging")
    assert model_a is not None and active(repo, "staging")["record"]["model"]["md5"] == model_a
    assert "smoke staging: passed" in mlops(repo, "smoke", "--env", "staging")
    commit_all(repo, "deploy staging: model A")

    # The deploy workflow's promotion step, against a bare "GitHub" repository and a fake `gh`.
    remote = repo.parent / "github.git"
    run(["git", "init", "-q", "--bare", str(remote)], repo)
    gh_log = repo.parent / "gh.log"
    fake_gh = repo.parent / "gh"
    # No open PR yet: `pr list` prints nothing (tests/workflows/act/bin/gh runs the real semantics under act).
    fake_gh.write_text(f'#!/bin/sh\necho "$@" >> {gh_log}\n[ "$2" != edit ]\n')
    fake_gh.chmod(0o755)
    env = {**tool_env(), "MAKEFLAGS": "--assume-old=.venv/.synced"}
    made = subprocess.run(
        ["make", "promotion-pr", f"PUSH_URL={remote}", f"GH={fake_gh}"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    calls = gh_log.read_text().splitlines()
    assert calls[0].startswith("pr list --head promote/production --state open")
    assert calls[1].startswith("pr create --base main")
    pushed = run(["git", "--git-dir", str(remote), "show", "promote/production:deploy/production.yaml"], repo)
    assert model_a in pushed.stdout
    # The gate (its champion is production's model) was re-run: the branch's lock is what repro gives.
    show = ["git", "--git-dir", str(remote), "show", "--name-only", "--format=", "promote/production"]
    files = run(show, repo)
    assert "dvc.lock" in files.stdout.split()
    body = (repo / "reports" / "promotion.md").read_text()
    assert "### Staging smoke test" in body and "✅ passed" in body and model_a in body
    run([*GIT, "switch", "-q", "main"], repo)
    run([*GIT, "merge", "-q", "--no-ff", "-m", "promote model A to production", "promote/production"], repo)
    assert recorded_md5(repo, "production") == model_a
    assert "smoke passed" in mlops(repo, "deploy", "--env", "production")
    assert "-> version 1" in mlops(repo, "aliases", "--env", "production")  # MLflow mirrors git

    bentoml_model = Path(repo / ".bentoml" / "models" / world_params().project.name)
    golden = json.loads(next(bentoml_model.glob("*/golden.json")).read_text())
    record = golden[0]["record"]
    answer_a = predict(active(repo, "production")["port"], record)
    assert answer_a["probability"] == pytest.approx(golden[0]["probability"], abs=1e-9)

    # Model B: a param change, through the same path.
    set_param(repo, "learning_rate: 0.05", "learning_rate: 0.1")
    run(["dvc", "repro"], repo)
    commit_all(repo, "pr: learning rate 0.1")
    assert "smoke passed" in mlops(repo, "deploy", "--env", "staging")
    model_b = recorded_md5(repo, "staging")
    assert model_b not in (None, model_a)
    commit_all(repo, "deploy staging: model B")
    mlops(repo, "promote")
    commit_all(repo, "promote model B to production")
    assert "smoke passed" in mlops(repo, "deploy", "--env", "production")
    answer_b = predict(active(repo, "production")["port"], record)
    assert answer_b["model_version"] != answer_a["model_version"]
    assert answer_b["probability"] != answer_a["probability"]
    assert "-> version 2" in mlops(repo, "aliases", "--env", "production")

    # A production deploy whose smoke test fails (an impossible latency budget) never replaces the
    # serving version, and deploy/production.yaml is put back to what serves.
    mlops(repo, "rollback", "--env", "production")
    failed = run(["mlops", "deploy", "--env", "production", "--p95-ms", "0.0001"], repo, check=False)
    assert failed.returncode == EXIT_SMOKE_FAILED, failed.stdout + failed.stderr
    assert "smoke FAILED" in failed.stderr and "rolled back" in failed.stderr
    assert recorded_md5(repo, "production") == model_b
    assert predict(active(repo, "production")["port"], record)["model_version"] == answer_b["model_version"]
    # Same for staging: a failed smoke leaves the previous staging version serving and recorded.
    staging_before = active(repo, "staging")
    failed = run(["mlops", "deploy", "--env", "staging", "--p95-ms", "0.0001"], repo, check=False)
    assert failed.returncode == EXIT_SMOKE_FAILED and active(repo, "staging") == staging_before
    assert recorded_md5(repo, "staging") == model_b

    # Rollback: the previous recorded state of deploy/production.yaml comes back, and A serves again.
    assert "restored to its previous state" in mlops(repo, "rollback", "--env", "production")
    assert recorded_md5(repo, "production") == model_a
    commit_all(repo, "rollback production to model A")
    assert "smoke passed" in mlops(repo, "deploy", "--env", "production")
    rolled_back = predict(active(repo, "production")["port"], record)
    assert rolled_back["model_version"] == answer_a["model_version"]
    assert rolled_back["probability"] == answer_a["probability"]
    assert "champion -> version 1" in mlops(repo, "aliases", "--env", "production")

    # Git history shows each step of production.
    log = run([*GIT, "log", "--format=%s", "--", "deploy/production.yaml"], repo).stdout.splitlines()
    assert log[:3] == [
        "rollback production to model A",
        "promote model B to production",
        "Promote the staging model to production",  # the promotion branch's commit (merged as is)
    ]
    # Every prediction served in production was logged, tagged with the model that answered.
    logged = [
        json.loads(line)
        for path in sorted((repo / ".deploy" / "production" / "predictions").glob("predictions-*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    versions = {entry["model_version"] for entry in logged}
    assert {answer_a["model_version"], answer_b["model_version"]} <= versions
