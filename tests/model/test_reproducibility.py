"""The trained model's bytes do not depend on the machine: a fork on 64 cores reproduces dvc.lock (shown on
the tests' world: the property is the train stage's, whatever the data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.world import WORLD_CONTRACT, WORLD_PARAMS

from mlops.generate import generate
from mlops.lineage import file_md5

# `mlops train` through mlops.cli.main (the console script's entry point) with MLflow logging stubbed: the
# stage writes and hashes the model file before it logs, so logging cannot change its bytes, while importing
# MLflow and migrating a fresh sqlite store would cost more than the training itself. The logging edge is
# covered in process by tests/unit/test_stage_edges.py.
TRAIN_IN_A_FRESH_PROCESS = """
import sys
from mlops.adapters import tracking
tracking.log_training = lambda **_: tracking.LoggedModel("not-logged", "")
from mlops.cli import main
sys.exit(main(sys.argv[1:]))
"""


def passed(tmp_path: Path) -> Path:
    """A data-gate report that passed: train refuses data without one."""
    report = tmp_path / "validation.json"
    report.write_text('{"success": true, "failures": []}')
    return report


def _args(tmp_path: Path, work: Path) -> list[str]:
    return [
        "train",
        "--params",
        str(WORLD_PARAMS),
        "--contract",
        str(WORLD_CONTRACT),
        "--train",
        str(tmp_path / "train.parquet"),
        "--validation",
        str(passed(tmp_path)),
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


def test_model_bytes_do_not_depend_on_the_thread_count(tmp_path: Path) -> None:
    # Both in fresh processes, as `dvc repro` runs the stage: trained inside a pytest worker, after other
    # tests changed process-wide state, the bytes differed once (CI: 34fec479... vs 72bcc42d...).
    generate(6000, seed=3).to_parquet(tmp_path / "train.parquet", index=False)
    assert _train_in_a_child(tmp_path, threads=1) == _train_in_a_child(tmp_path, threads=2)
