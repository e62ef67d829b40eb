"""Team scale for real: the README's recipes against a PostgreSQL-backed `mlflow server` and an S3 store.

Tracking: the pipeline's runs, LoggedModel (md5 tag, dataset input with the md5 digest) and the gate's one
registration land on the server, and the aliases follow the deploys. Storage: DVC pushes, pulls and reruns
nothing through S3, and a champion recorded while the project used the embedded remote is still fetched after
the switch. The prediction log: predictions AND labels reach the bucket, drift reads its window from there,
and a job without credentials gets one line, no traceback.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.teamscale import servers
from tests.teamscale.conftest import BUCKET, Project, environ_without_s3_credentials, recipes
from tests.world import world_params

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("teamscale")]

NAME = world_params().project.name
ROWS = 1200  # served and labelled: above the drift job's minimum window and label count


def model_md5(root: Path) -> str:
    return hashlib.md5((root / "models" / "model.joblib").read_bytes(), usedforsecurity=False).hexdigest()


def recorded(root: Path, env: str) -> dict[str, Any]:
    model = yaml.safe_load((root / "deploy" / f"{env}.yaml").read_text())["model"]
    assert model, f"deploy/{env}.yaml records no model"
    return dict(model)


def post(port: int, route: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{route}",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{route}: {exc.code} {exc.read()[:2000]!r}") from None


def test_the_readme_names_every_recipe_the_suite_runs() -> None:
    assert set(recipes()) == {"tracking", "aliases", "storage", "prediction-log", "drift-from-bucket"}


def test_pipeline_tracks_and_registers_on_the_server(tracked: Project) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracked.team.mlflow.url)
    md5 = model_md5(tracked.root)
    # Nothing fell back to the embedded store.
    assert not (tracked.root / "mlflow.db").exists()

    # The LoggedModel of this model file, found by one search on its md5 tag; its dataset input is the
    # training data with the md5 as digest, and pyfunc answers probabilities.
    found = client.search_logged_models(
        experiment_ids=[e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`mlops.model_md5` = '{md5}'",
    )
    assert len(found) == 1, found
    run = client.get_run(found[0].source_run_id)
    digests = {d.dataset.digest for d in run.inputs.dataset_inputs}
    lock = yaml.safe_load((tracked.root / "dvc.lock").read_text())
    train_md5 = next(o["md5"] for o in lock["stages"]["split"]["outs"] if o["path"].endswith("train.parquet"))
    assert train_md5 in digests, (digests, train_md5)
    # Its artifacts went through the server's proxy into the bucket, not onto this machine's disk.
    assert servers.list_keys(tracked.team.s3.url, BUCKET, "mlflow/"), "no MLflow artifact in the bucket"

    # The gate passed: one version of the project's model, tagged with the md5, and the alias on it.
    versions = client.search_model_versions(f"name = '{NAME}'")
    assert [v.tags.get("mlops.model_md5") for v in versions] == [md5]
    assert versions[0].tags.get("mlops.gates") == "passed"
    staging = client.get_model_version_by_alias(NAME, "staging")
    assert staging.version == versions[0].version
    assert recorded(tracked.root, "staging")["md5"] == md5


def test_dvc_push_pull_and_repro_through_s3(on_s3: Project) -> None:
    root = on_s3.root
    keys = servers.list_keys(on_s3.team.s3.url, BUCKET, "dvc/")
    assert any(k.endswith(model_md5(root)[2:]) for k in keys), keys[:5]
    outputs = [root / "models", root / "data" / "processed", root / "data" / "raw"]
    before = model_md5(root)
    for path in [*outputs, root / ".dvc" / "cache"]:
        shutil.rmtree(path)
    shutil.rmtree(root / ".dvc-storage")  # the old embedded remote is gone: only S3 holds the data
    on_s3.run(["make", "pull"])
    assert model_md5(root) == before
    status = on_s3.run(["dvc", "status"]).stdout
    assert "up to date" in status, status
    rerun = on_s3.run(["dvc", "repro"]).stdout
    assert "Data and pipelines are up to date" in rerun, rerun


def test_the_champion_recorded_before_the_switch_is_fetched_from_the_new_remote(on_s3: Project) -> None:
    model = recorded(on_s3.root, "staging")
    # Recorded at a commit whose .dvc/config names the embedded remote, which no longer exists.
    old_config = on_s3.run(["git", "show", f"{model['commit']}:.dvc/config"]).stdout
    assert f"s3://{BUCKET}" not in old_config and "remote = local" in old_config, old_config
    shutil.rmtree(on_s3.root / ".dvc-storage", ignore_errors=True)
    shutil.rmtree(on_s3.root / ".dvc" / "cache", ignore_errors=True)
    code = (
        "import hashlib, sys, yaml\n"
        "from mlops.deploy.records import DeployedModel, deployed_model_bytes\n"
        "model = DeployedModel.model_validate(yaml.safe_load(open('deploy/staging.yaml'))['model'])\n"
        "print(hashlib.md5(deployed_model_bytes(model), usedforsecurity=False).hexdigest())\n"
    )
    fetched = on_s3.run(["python", "-c", code]).stdout.strip()
    assert fetched == model["md5"]


def test_log_and_labels_reach_the_bucket_and_drift_reads_them(on_s3: Project) -> None:
    root = on_s3.root
    on_s3.run(["mlops", "promote"])
    on_s3.commit("promote staging to production")
    log_url = f"s3://{BUCKET}/predictions"
    on_s3.recipe("prediction-log")  # serves production with MLOPS_PREDICTION_LOG_URL set
    port = json.loads((root / ".deploy" / "production" / "active.json").read_text())["port"]
    on_s3.run(["make", "aliases", "ENV=production"])

    sent = on_s3.run(
        ["mlops", "simulate", "--url", f"http://127.0.0.1:{port}", "--rows", str(ROWS), "--feedback"]
    )
    assert str(ROWS) in sent.stdout, sent.stdout
    on_s3.run(["make", "stop", "ENV=production"])  # graceful: drains, rotates and uploads

    keys = servers.list_keys(on_s3.team.s3.url, BUCKET, "predictions/")
    assert any(Path(k).name.startswith("predictions-") for k in keys), keys
    assert any(Path(k).name.startswith("feedback-") for k in keys), f"labels never reached the bucket: {keys}"

    # The drift job, fed from the bucket: every served record and every label is in its window.
    drifted = on_s3.recipe("drift-from-bucket", check=False, MLOPS_PREDICTION_LOG_URL=log_url)
    assert drifted.returncode == 0 or "Error 3" in drifted.stderr, drifted.stdout + drifted.stderr
    summary = json.loads((root / "window" / "drift" / "drift.json").read_text())
    assert summary["rows"] == ROWS, summary.get("rows")
    assert summary["performance"]["labels"] == ROWS, summary["performance"]

    # The champion alias mirrors deploy/production.yaml.
    from mlflow import MlflowClient

    champion = MlflowClient(tracking_uri=on_s3.team.mlflow.url).get_model_version_by_alias(NAME, "champion")
    assert champion.tags["mlops.model_md5"] == recorded(root, "production")["md5"]


def test_a_job_without_credentials_says_so_in_one_line_per_store(on_s3: Project) -> None:
    """A fork's pull request (no secrets) or a misconfigured job: the DVC pull is skipped with a warning
    (the pipeline rebuilds), a push fails naming the call and DVC's reason, the log fetch fails in one
    line naming the store and the fix; never a traceback."""
    log_url = f"s3://{BUCKET}/predictions"
    bare = environ_without_s3_credentials(
        on_s3.env(MLOPS_PREDICTION_LOG_URL=log_url), on_s3.root.parent / "aws"
    )

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            cmd, check=False, cwd=on_s3.root, env=bare, capture_output=True, text=True, timeout=300
        )
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        return proc

    pulled = run("make", "-s", "pull-if-remote")
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert f"WARNING: dvc pull from s3://{BUCKET}/dvc failed" in pulled.stdout, pulled.stdout

    pushed = run("make", "-s", "push-if-remote")  # the retrain's push of its labelled window
    assert pushed.returncode != 0 and "mlops push-if-remote: `" in pushed.stderr, pushed.stderr
    assert "credentials" in pushed.stderr.lower(), pushed.stderr  # DVC's own line says which

    fetched = run("mlops", "fetch-log", "--out", str(on_s3.root / "bare"))
    assert fetched.returncode != 0
    message = fetched.stderr.strip().splitlines()
    assert len(message) == 1 and "credentials" in message[0] and log_url in message[0], fetched.stderr
