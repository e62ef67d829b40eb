"""A busy machine does not change the operational gate's verdict on a good model.

The gate runs in a child process without OMP_NUM_THREADS, as `make pipeline` runs it (conftest's
OMP_NUM_THREADS=1 would hide a missing limit), once idle and once while a CPU hog spins on every core.
Budgets and batch size come from params.yaml; half its latency samples keep the test near 20 s.
Measured on 2 cores under the hog, with params.yaml's sizes (2026-12-01): p99 4.5-8 ms with the thread
limit; without it 5-81 ms and throughput down to 9,900 rows/s: 7 of 15 runs failed a good model, each
run taking ~50 s instead of ~10. So without the limit this verdict test fails only sometimes:
tests/unit/test_native_threads.py is what pins the limit itself.
Run this file as a script to print one measurement (`--unlimited`: the gate without its thread limit):
  python tests/model/test_operational_gate_under_load.py MODEL HOLDOUT [--unlimited]
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest

from mlops import threads
from mlops.contract import load_contract
from mlops.generate import generate
from mlops.modeling import build_pipeline, input_columns
from mlops.params import GatesParams, TrainParams, load_section
from mlops.gates.suite import run_gates

ROOT = Path(__file__).resolve().parents[2]
LATENCY_SAMPLES = 150  # params.yaml: 300; each sample is 3 timed model calls of ~5 ms CPU
CHILD_TIMEOUT = 120
# Each spinning process ends by itself after this long, even if the test is killed before its `finally`.
HOG_SECONDS = CHILD_TIMEOUT + 10
HOG = f"import time\nend = time.monotonic() + {HOG_SECONDS}\nwhile time.monotonic() < end:\n    pass\n"


@contextlib.contextmanager
def cpu_hog() -> Iterator[None]:
    """One busy-looping process per core for the duration of the block."""
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


def operational_gate(model_path: Path, holdout_path: Path) -> dict[str, Any]:
    """{check: [passed, value]} of the operational gate, measured in a child without OMP_NUM_THREADS."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    cmd = [sys.executable, __file__, str(model_path), str(holdout_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def _measure(model_path: Path, holdout_path: Path, unlimited: bool) -> dict[str, Any]:
    """The child: the operational gate through `run_gates`, the suite the gate stage runs."""
    if unlimited:  # the gate as it was before the limit: native pools at one thread per core
        threads.one_native_thread = contextlib.nullcontext  # type: ignore[assignment]
    gates = load_section(ROOT / "params.yaml", "gates", GatesParams)
    others = ("performance", "champion", "robustness", "fairness", "behaviour")
    only_operational = gates.model_copy(
        update={
            **{name: getattr(gates, name).model_copy(update={"enabled": False}) for name in others},
            "operational": gates.operational.model_copy(update={"latency_samples": LATENCY_SAMPLES}),
        }
    )
    contract = load_contract(ROOT / "data" / "contract.yaml")
    results, _ = run_gates(
        gates=only_operational,
        contract=contract,
        features=contract.features(),
        threshold=0.3,
        model=joblib.load(model_path),
        holdout=pd.read_parquet(holdout_path),
        metrics={},
        model_bytes=model_path.stat().st_size,
        champion_proba=lambda frame: (None, "no champion"),
    )
    return {r.name: [r.passed, r.value] for r in results}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A good model trained with the project's params, and a holdout, as files for the child."""
    folder = tmp_path_factory.mktemp("under_load")
    contract = load_contract(ROOT / "data" / "contract.yaml")
    train = generate(6000, seed=41)
    with threads.one_native_thread():  # as the train stage fits
        model = build_pipeline(contract, load_section(ROOT / "params.yaml", "train", TrainParams)).fit(
            train[input_columns(contract)], train["churned"]
        )
    joblib.dump(model, folder / "model.joblib")
    generate(2000, seed=42).to_parquet(folder / "holdout.parquet", index=False)
    return folder / "model.joblib", folder / "holdout.parquet"


@pytest.mark.slow
def test_a_cpu_hog_on_every_core_does_not_change_the_operational_verdict(saved: tuple[Path, Path]) -> None:
    idle = operational_gate(*saved)
    with cpu_hog():
        loaded = operational_gate(*saved)
    verdict = {name: passed for name, (passed, _) in idle.items()}
    assert verdict == {name: passed for name, (passed, _) in loaded.items()}, (idle, loaded)
    assert all(verdict.values()), idle  # a good model: the same verdict is a pass


if __name__ == "__main__":
    model_file, holdout_file, *flags = sys.argv[1:]
    print(json.dumps(_measure(Path(model_file), Path(holdout_file), unlimited="--unlimited" in flags)))
