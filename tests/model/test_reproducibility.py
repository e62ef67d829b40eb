"""The trained model's bytes do not depend on the machine: a fork on 64 cores reproduces dvc.lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import threadpool_limits

from mlops.adapters import tracking
from mlops.cli import main
from mlops.generate import generate
from mlops.lineage import file_md5
from mlops.stages import train as train_stage

ROOT = Path(__file__).resolve().parents[2]
# `mlops train` through mlops.cli.main (the console script's entry point) with MLflow logging stubbed: the
# stage writes and hashes the model file before it logs, so logging cannot change its bytes, while importing
# MLflow and migrating a fresh sqlite store would cost more than the training itself. The logging edge is
# covered in process by tests/unit/test_stage_edges.py.
TRAIN_IN_A_FRESH_PROCESS = """
import sys
from mlops.adapters import tracking
tracking.log_training = lambda **_: tracking.LoggedModel("not-logged", "", None)
from mlops.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _not_logged(**_: Any) -> tracking.LoggedModel:
    return tracking.LoggedModel("not-logged", "", None)


def _args(tmp_path: Path, work: Path) -> list[str]:
    return [
        "train",
        "--params",
        str(ROOT / "params.yaml"),
        "--contract",
        str(ROOT / "data/contract.yaml"),
        "--train",
        str(tmp_path / "train.parquet"),
        "--model-out",
        str(work / "model.joblib"),
    ]


def _train_in_a_child(tmp_path: Path, threads: int) -> str:
    """A fresh process whose OpenMP pools start at `threads` threads (OMP_NUM_THREADS)."""
    work = tmp_path / f"threads{threads}"
    work.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("MLFLOW_TRACKING_URI", None)
    cmd = [sys.executable, "-c", TRAIN_IN_A_FRESH_PROCESS, *_args(tmp_path, work)]
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (work / "mlflow.db").exists(), "MLflow ran: the stub no longer replaces the stage's logging"
    return file_md5(work / "model.joblib")


def _train_here_on_one_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """In this process, its OpenMP pool at 1 thread whatever OMP_NUM_THREADS says: as a fresh process with
    OMP_NUM_THREADS=1 would train, without paying for another interpreter and its imports."""
    work = tmp_path / "threads1"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tracking, "log_training", _not_logged)
    monkeypatch.setattr(train_stage, "log_training", _not_logged, raising=False)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert main(_args(tmp_path, work)) == 0
    assert not (work / "mlflow.db").exists(), "MLflow ran: the stub no longer replaces the stage's logging"
    return file_md5(work / "model.joblib")


def test_model_bytes_do_not_depend_on_the_thread_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(6000, seed=3).to_parquet(tmp_path / "train.parquet", index=False)
    one = _train_here_on_one_thread(tmp_path, monkeypatch)
    assert one == _train_in_a_child(tmp_path, threads=2)
