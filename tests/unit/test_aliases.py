"""`mlops aliases` mirrors deploy/<env>.yaml into the MLflow registry: a recorded model this store never
registered (its pull request ran without the tracking server) is registered at promotion only when the
gate report shows that very model file passing, and once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from tests.world import WORLD_PARAMS

from mlops.cli import main
from mlops.lineage import file_md5
from mlops.params import load_params

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A project folder: dvc.yaml, the world's params, a model in the DVC cache, staging recording it."""
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(WORLD_PARAMS, tmp_path / "params.yaml")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    blob = tmp_path / "blob"
    joblib.dump(model, blob)
    md5 = file_md5(blob)
    cache = tmp_path / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cache.parent.mkdir(parents=True)
    blob.rename(cache)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "staging.yaml").write_text(
        f"environment: staging\nmodel:\n  path: models/model.joblib\n  md5: {md5}\n  commit: abc1234\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path, md5


def gate_report(folder: Path, md5: str, passed: bool) -> None:
    (folder / "reports").mkdir(exist_ok=True)
    (folder / "reports" / "gates.json").write_text(json.dumps({"model_md5": md5, "passed": passed}))


def test_a_passed_model_is_registered_at_promotion_once_and_aliased(
    project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    folder, md5 = project
    name = load_params(folder / "params.yaml").project.name
    gate_report(folder, md5, passed=True)
    assert main(["aliases", "--env", "staging", "--server-only"]) == 0
    out = capsys.readouterr().out
    assert f"registered {name} version 1 at promotion" in out and f"{name}@staging -> version 1" in out
    assert main(["aliases", "--env", "staging", "--server-only"]) == 0  # again: the same version
    assert "at promotion" not in capsys.readouterr().out
    client = mlflow.MlflowClient()
    (version,) = client.search_model_versions(f"name = '{name}'")
    assert version.tags["mlops.model_md5"] == md5 and client.get_model_version_by_alias(name, "staging")
    served = mlflow.pyfunc.load_model(f"models:/{name}@staging").predict(np.zeros((2, 3)))
    assert np.asarray(served).shape == (2, 2)  # pyfunc answers both class probabilities


@pytest.mark.parametrize("report", ["failed", "another model", "none"])
def test_a_model_the_gate_report_does_not_show_passing_is_never_registered(
    project: tuple[Path, str], report: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    folder, md5 = project
    if report != "none":
        gate_report(folder, md5 if report == "failed" else "f" * 32, passed=report != "failed")
    assert main(["aliases", "--env", "staging", "--server-only"]) == 2
    err = capsys.readouterr().err
    assert f"does not show model md5 {md5} passing: nothing registered" in err
    assert mlflow.MlflowClient().search_registered_models() == []


def test_a_version_registered_before_the_md5_version_tag_is_found_by_its_run_and_tagged(
    project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow
    import mlflow.sklearn

    folder, md5 = project
    name = load_params(folder / "params.yaml").project.name
    model = joblib.load(folder / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:])
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")  # an earlier test may have set another
    mlflow.set_experiment(name)
    with mlflow.start_run(tags={"mlops.model_md5": md5}):  # the old way: every training registered
        mlflow.sklearn.log_model(sk_model=model, name="model", registered_model_name=name)
    assert main(["aliases", "--env", "staging", "--server-only"]) == 0  # no gate report needed: it exists
    assert f"{name}@staging -> version 1" in capsys.readouterr().out
    client = mlflow.MlflowClient()
    (version,) = client.search_model_versions(f"name = '{name}'")  # not registered a second time
    assert version.tags.get("mlops.model_md5") == md5  # back-filled: the next lookup is one search
