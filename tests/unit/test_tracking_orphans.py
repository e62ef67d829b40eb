"""A training killed outright (SIGKILL) leaves neither a RUNNING MLflow run nor a temporary model file
for good: the next training marks the orphan KILLED and removes the file (SIGTERM unwinds at once)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ORPHAN = """
import os, socket, mlflow
mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
mlflow.set_experiment("orphans")
run = mlflow.start_run(tags={"mlops.pid": str(os.getpid()), "mlops.host": socket.gethostname()})
print(run.info.run_id, flush=True)
os._exit(0)  # like SIGKILL: no end_run, the run stays RUNNING
"""


@pytest.mark.slow  # two MLflow store initialisations: ~12 s
def test_a_run_left_running_by_a_dead_training_is_marked_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin:/bin"}
    dead = subprocess.run([sys.executable, "-c", ORPHAN], env=env, capture_output=True, text=True, check=True)
    run_id = dead.stdout.split()[-1]

    import mlflow

    from mlops.adapters.tracking import close_orphans

    mlflow.set_tracking_uri(uri)
    assert mlflow.get_run(run_id).info.status == "RUNNING"
    assert close_orphans("orphans") == [run_id]
    assert mlflow.get_run(run_id).info.status == "KILLED"
    assert close_orphans("orphans") == []  # once
    assert close_orphans("no-such-experiment") == []


def test_sigterm_unwinds_a_training_like_an_error() -> None:
    from mlops.stages.train import _terminate

    with pytest.raises(SystemExit) as stopped:
        _terminate(15, None)
    assert stopped.value.code == 143
