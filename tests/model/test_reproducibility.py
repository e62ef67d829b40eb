"""The trained model's bytes do not depend on the machine: a fork on 64 cores reproduces dvc.lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlops.generate import generate
from mlops.lineage import file_md5

ROOT = Path(__file__).resolve().parents[2]
MLOPS = str(Path(sys.executable).parent / "mlops")


def _train(tmp_path: Path, threads: int) -> str:
    work = tmp_path / f"threads{threads}"
    work.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("MLFLOW_TRACKING_URI", None)  # a private sqlite store in `work`
    cmd = [
        MLOPS,
        "train",
        "--params",
        str(ROOT / "params.yaml"),
        "--contract",
        str(ROOT / "data/contract.yaml"),
        "--train",
        str(tmp_path / "train.parquet"),
        "--model-out",
        "model.joblib",
    ]
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return file_md5(work / "model.joblib")


def test_model_bytes_do_not_depend_on_the_thread_count(tmp_path: Path) -> None:
    generate(6000, seed=3).to_parquet(tmp_path / "train.parquet", index=False)
    assert _train(tmp_path, threads=1) == _train(tmp_path, threads=2)
