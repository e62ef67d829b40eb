"""The real pipeline: `dvc repro` in throwaway copies of the project on the tests' world (copy_project: the
example's contract and params, 50,000 generated rows), whatever a fork did to data/ and params.yaml.

The example's full-size params on purpose: this is the acceptance scenario (the default model passes every
gate), and fairness gaps on a holdout of a few hundred rows are too noisy to judge a model by. One cold run
is shared (module fixture); tests that change something work on their own copy of it, so they cannot
disturb each other.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from mlops.generate import generate
from mlops.lineage import file_md5
from mlops.params import GatesParams
from tests.conftest import commit_all, run
from tests.pipeline.conftest import set_param
from tests.world import world_params

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dvc-pipeline")]

ROWS = 50_000
OUTPUTS = [
    "data/raw/dataset.parquet",
    "data/processed/train.parquet",
    "data/processed/test.parquet",
    "models/model.joblib",
    "reports/validation.json",
    "reports/validation.md",
    "reports/metrics.json",
    "reports/slices.json",
    *(
        f"reports/plots/{n}.json"
        for n in ("roc", "precision_recall", "confusion", "calibration", "importance")
    ),
]
DOWNSTREAM_OF_VALIDATE = [
    "data/processed/train.parquet",
    "data/processed/test.parquet",
    "models/model.joblib",
    "reports/metrics.json",
]


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def lock_md5(repo: Path, stage: str, path: str) -> str:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return next(o["md5"] for o in lock["stages"][stage]["outs"] if o["path"] == path)


def test_cold_repro_runs_every_stage_and_writes_every_output(reproduced: tuple[Path, str]) -> None:
    repo, output = reproduced
    assert stages_run(output) == {"ingest", "validate", "split", "train", "evaluate", "gate"}
    for rel in OUTPUTS:
        assert (repo / rel).is_file(), rel
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics["holdout_rows"] == ROWS // 5
    assert 0.7 < metrics["roc_auc"] < 1.0
    assert json.loads((repo / "reports/validation.json").read_text())["success"] is True
    slices = json.loads((repo / "reports/slices.json").read_text())
    assert set(slices) == {"gender", "age_band"}


def test_repro_right_after_changes_nothing(reproduced: tuple[Path, str]) -> None:
    repo, _ = reproduced
    again = run(["dvc", "repro"], repo)
    assert stages_run(again.stdout) == set(), again.stdout
    assert "up to date" in run(["dvc", "status"], repo).stdout


def test_the_run_is_tracked_in_mlflow_with_lineage(reproduced: tuple[Path, str]) -> None:
    import mlflow

    repo, _ = reproduced
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(world_params().project.name)
    assert experiment is not None
    (found,) = client.search_runs([experiment.experiment_id])
    model_md5 = lock_md5(repo, "train", "models/model.joblib")
    # The MLflow run is linked to the exact DVC-tracked files by their hashes.
    assert found.data.tags["mlops.model_md5"] == model_md5
    assert found.data.tags["mlops.train_data_md5"] == lock_md5(repo, "split", "data/processed/train.parquet")
    assert found.data.tags["mlops.git_commit"] == run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    assert found.data.params["estimator"] == "hist_gradient_boosting"
    assert found.data.params["hist_gradient_boosting.max_iter"] == "200"
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert found.data.metrics["test_roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert client.get_registered_model(world_params().project.name).latest_versions


def test_a_changed_model_param_reruns_only_train_and_what_follows(fork: Path) -> None:
    before = json.loads((fork / "reports/metrics.json").read_text())
    set_param(fork, "max_iter: 200", "max_iter: 60")
    proc = run(["dvc", "repro"], fork)
    assert stages_run(proc.stdout) == {"train", "evaluate", "gate"}, proc.stdout
    assert json.loads((fork / "reports/metrics.json").read_text()) != before


def test_corrupted_data_stops_at_validate_and_leaves_earlier_outputs_untouched(fork: Path) -> None:
    bad = generate(ROWS, seed=99)
    bad.loc[7, "tenure_months"] = 999
    bad.loc[8, "contract"] = "lifetime"
    bad.to_csv(fork / "data" / "extract" / "extract.csv", index=False)  # where ingest.source may point
    set_param(fork, "source: synthetic", "source: data/extract/extract.csv")
    hashes = {rel: file_md5(fork / rel) for rel in DOWNSTREAM_OF_VALIDATE}
    lock_before = yaml.safe_load((fork / "dvc.lock").read_text())["stages"]

    proc = run(["dvc", "repro"], fork, check=False)

    assert proc.returncode != 0
    assert stages_run(proc.stdout) == {"ingest", "validate"}
    both = proc.stdout + proc.stderr
    assert "failed to reproduce 'validate'" in both
    assert "tenure_months" in both and "lifetime" in both
    report = json.loads((fork / "reports/validation.json").read_text())
    assert report["success"] is False and report["failed"] == 2
    assert {rel: file_md5(fork / rel) for rel in DOWNSTREAM_OF_VALIDATE} == hashes
    lock_after = yaml.safe_load((fork / "dvc.lock").read_text())["stages"]
    for stage in ("split", "train", "evaluate", "gate"):
        assert lock_after[stage] == lock_before[stage], stage


def test_push_and_pull_through_the_default_local_remote(fork: Path) -> None:
    run(["dvc", "push"], fork)
    model_md5 = file_md5(fork / "models/model.joblib")
    for rel in ("data", "models", ".dvc/cache"):
        shutil.rmtree(fork / rel, ignore_errors=True)
    (fork / "data").mkdir()
    run(["git", "checkout", "--", "data/"], fork)  # the git-tracked part of data/: contract, extract README
    run(["dvc", "pull"], fork)
    assert file_md5(fork / "models/model.joblib") == model_md5
    assert "up to date" in run(["dvc", "status"], fork).stdout


def test_the_default_model_passes_every_gate(reproduced: tuple[Path, str]) -> None:
    repo, output = reproduced
    gates = json.loads((repo / "reports/gates.json").read_text())
    assert gates["passed"] is True, gates["failed"]
    assert {r["gate"] for r in gates["results"]} == set(GatesParams.model_fields)  # every family ran
    assert "gate: passed all" in output


def test_a_regressed_candidate_fails_the_champion_gate_after_writing_the_reports(fork: Path) -> None:
    # Promote the current model: production now records it (as `mlops promote` will), committed in git,
    # with the commit whose dvc.lock holds that model.
    commit_all(fork, "pipeline run")
    champion_md5 = lock_md5(fork, "train", "models/model.joblib")
    commit = run(["git", "rev-parse", "HEAD"], fork).stdout.strip()
    record = {
        "environment": "production",
        "model": {"path": "models/model.joblib", "md5": champion_md5, "commit": commit},
    }
    (fork / "deploy/production.yaml").write_text(yaml.safe_dump(record))
    commit_all(fork, "promote the current model")
    # The champion must come from DVC storage, as on a CI runner: push it, then empty the local cache.
    run(["dvc", "push"], fork)
    shutil.rmtree(fork / ".dvc" / "cache")
    gate_lock_before = yaml.safe_load((fork / "dvc.lock").read_text())["stages"]["gate"]
    # A candidate with far fewer boosting rounds: clearly worse on the same holdout.
    set_param(fork, "max_iter: 200", "max_iter: 4")

    proc = run(["dvc", "repro"], fork, check=False)

    assert proc.returncode != 0
    assert "failed to reproduce 'gate'" in proc.stdout + proc.stderr
    gates = json.loads((fork / "reports/gates.json").read_text())
    assert gates["passed"] is False and "champion/roc_auc" in gates["failed"]
    result = next(r for r in gates["results"] if r["gate"] == "champion")
    assert result["value"] < -0.005 and f"md5 {champion_md5[:8]}" in result["reason"]
    assert "champion | roc_auc" in (fork / "reports/gates.md").read_text()
    assert "champion/roc_auc" in proc.stderr
    # The failed gate is not recorded as done: the lock still holds the previous, passing run.
    assert yaml.safe_load((fork / "dvc.lock").read_text())["stages"]["gate"] == gate_lock_before
