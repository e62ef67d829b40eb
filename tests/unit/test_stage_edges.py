"""Every stage edge, in process, on a small seeded world: ingest, validate, split, train, evaluate, gate.

The commands are dvc.yaml's own (`stages.<name>.cmd` with `${paths.*}` filled from `vars[0].paths`), run
in dvc.yaml's order through `mlops.cli.main`, in a folder holding the tests' world (tests/world: the
example's params, only the sizes in SMALL changed, and contract) and the repository's dvc.yaml; MLflow writes
to a sqlite file in the same folder. So this test follows dvc.yaml and the params schema as they change, and
not a fork's dataset. No DVC and no subprocess: the pipeline under
`dvc repro` is tests/pipeline's job.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from tests.world import WORLD_CONTRACT, WORLD_PARAMS

from mlops.cli import main
from mlops.contract import load_contract
from mlops.lineage import file_md5

ROOT = Path(__file__).resolve().parents[2]
STAGE_MODULES = ROOT / "src" / "mlops" / "stages"
# Dotted params key -> value for a small, fast world, each at or above its validated minimum; every key
# must be in the world's params (a renamed one fails here, not silently at full size). 10,000 rows: the
# gates' floors hold with room on the 2,000-row holdout (at 5,000-8,000 rows age_band's fairness gaps are
# sample noise around their limits).
SMALL = {
    "ingest.synthetic.rows": 10_000,
    "evaluate.importance_rows": 500,
    "evaluate.importance_repeats": 1,
    "gates.champion.bootstrap_samples": 100,
    "gates.behaviour.rows": 300,
    "gates.operational.latency_samples": 20,
    "gates.operational.batch_rows": 1000,
}
PATH_VAR = re.compile(r"\$\{paths\.([A-Za-z0-9_]+)\}")
World = tuple[dict[str, str], dict[str, list[str]], dict[str, Any]]  # (paths, argv of each stage, params)


def small_params() -> dict[str, Any]:
    params: dict[str, Any] = yaml.safe_load(WORLD_PARAMS.read_text())
    for dotted, value in SMALL.items():
        *parents, leaf = dotted.split(".")
        node: Any = params
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        assert isinstance(node, dict) and leaf in node, f"SMALL: the world's params have no {dotted}"
        node[leaf] = value
    return params


def make_world(folder: Path) -> World:
    """The world's params (small), its contract and dvc.yaml in `folder`: (paths, argv per stage, params)."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    paths: dict[str, str] = dvc["vars"][0]["paths"]
    params = small_params()
    (folder / paths["params"]).write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copy2(ROOT / "dvc.yaml", folder / "dvc.yaml")  # the `mlops` flags' defaults come from it
    (folder / paths["contract"]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(WORLD_CONTRACT, folder / paths["contract"])
    argv = {}
    for name, stage in dvc["stages"].items():
        cmd = PATH_VAR.sub(lambda m: paths[m.group(1)], stage["cmd"])
        assert "${" not in cmd, f"stages.{name}.cmd uses a variable this test cannot fill: {cmd}"
        program, *args = cmd.split()
        assert program == "mlops", f"stages.{name}.cmd is not an `mlops` command: {cmd}"
        argv[name] = args
    return paths, argv, params


def run_stage(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def mlflow_runs_of(model_md5: str) -> list[Any]:
    import mlflow

    from mlops.adapters.tracking import MODEL_MD5_TAG

    runs: list[Any] = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"tags.`{MODEL_MD5_TAG}` = '{model_md5}'",
        output_format="list",
    )
    return runs


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    built = make_world(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return built


def test_every_stage_edge_runs_in_order_on_a_small_world(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    paths, argv, params = world
    stage_modules = {p.stem for p in STAGE_MODULES.glob("*.py")} - {"__init__"}
    assert set(argv) == stage_modules, "each stage module is a dvc.yaml stage, and this test runs each"

    for args in argv.values():  # dvc.yaml lists the stages in pipeline order
        code, output = run_stage(args, capsys)
        assert code == 0, f"mlops {' '.join(args)} exited {code}:\n{output}"

    # ingest
    raw = pd.read_parquet(paths["raw"])
    assert len(raw) == params["ingest"]["synthetic"]["rows"]
    # validate
    validation = json.loads(Path(paths["validation"]).read_text())
    assert validation["success"] and validation["failed"] == 0 and validation["rows"] == len(raw)
    assert Path(paths["validation_md"]).read_text().strip()
    # split
    train, test = pd.read_parquet(paths["train"]), pd.read_parquet(paths["test"])
    assert len(train) + len(test) == len(raw) and len(train) > len(test) > 0
    assert len(test) == pytest.approx(params["split"]["test_fraction"] * len(raw), abs=1)
    contract = load_contract(paths["contract"])
    assert not set(train[contract.id_column]) & set(test[contract.id_column])
    if params["split"]["strategy"] == "time":  # the holdout is the most recent rows
        assert train[contract.time_column].max() <= test[contract.time_column].min()
    # train
    md5 = file_md5(paths["model"])
    # evaluate
    metrics = json.loads(Path(paths["metrics"]).read_text())
    assert {"roc_auc", "pr_auc", "precision", "recall", "f1"} <= set(metrics)
    assert 0.5 < metrics["roc_auc"] <= 1.0
    plot_files = [
        file
        for plot in yaml.safe_load(Path("dvc.yaml").read_text()).get("plots", [])
        for spec in plot.values()
        for file in spec.get("y") or {}
    ]
    for file in plot_files:
        assert json.loads(Path(file).read_text()), f"{file} (a dvc.yaml plot) is missing or empty"
    assert json.loads(Path(paths["slices"]).read_text())
    # gate: a verdict for each enabled family, and they all pass on a good model
    gates = json.loads(Path(paths["gates"]).read_text())
    enabled = {name for name, family in params["gates"].items() if family["enabled"]}
    assert enabled and {r["gate"] for r in gates["results"]} == enabled
    assert gates["passed"] and gates["model_md5"] == md5
    assert Path(paths["gates_md"]).read_text().startswith("## Model gates: PASSED")
    # MLflow: one run for this model file; the gate attached the evaluation and its verdict to train's run
    (run,) = mlflow_runs_of(md5)
    assert run.data.metrics["test_roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert "train_roc_auc" in run.data.metrics and run.data.tags["mlops.gates"] == "passed"


def test_a_corrupted_raw_file_stops_validate_with_its_report(
    world: World,
    capsys: pytest.CaptureFixture[str],
    small_frame: pd.DataFrame,
) -> None:
    paths, argv, _ = world
    raw = Path(paths["raw"])
    raw.parent.mkdir(parents=True, exist_ok=True)
    small_frame.assign(churned=0).to_parquet(raw, index=False)  # a broken label join: nobody churns
    code, output = run_stage(argv["validate"], capsys)
    assert code == 1, output
    report = json.loads(Path(paths["validation"]).read_text())
    assert not report["success"] and report["failed"] >= 1
    assert any("`churned`" in failure for failure in report["failures"]), report["failures"]
    assert "FAILED" in output and "FAILED" in Path(paths["validation_md"]).read_text()


def test_only_a_model_that_passed_the_gate_is_registered_and_its_bytes_once(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    paths, argv, params = world
    for name, args in argv.items():
        if name != "gate":
            assert run_stage(args, capsys)[0] == 0, name
    md5, project = file_md5(paths["model"]), params["project"]["name"]
    client = mlflow.MlflowClient()
    # A failing gate (an unreachable floor) registers nothing.
    strict = yaml.safe_load(Path(paths["params"]).read_text())
    strict["gates"]["performance"]["min"]["roc_auc"] = 0.999
    Path("strict.yaml").write_text(yaml.safe_dump(strict, sort_keys=False))
    gate = argv["gate"]
    assert "--params" not in gate  # dvc.yaml's gate takes the default params.yaml
    failing = [*gate, "--params", "strict.yaml"]
    assert run_stage(failing, capsys)[0] == 1
    assert client.search_registered_models(f"name = '{project}'") == []
    # It passes: one version, tagged with the model's md5; a re-run gives the same version back.
    code, output = run_stage(gate, capsys)
    assert code == 0 and f"registered model '{project}' version 1" in output
    code, output = run_stage(gate, capsys)
    assert code == 0 and "version 1 (already registered)" in output
    (version,) = client.search_model_versions(f"name = '{project}'")
    assert version.tags == {"mlops.model_md5": md5, "mlops.gates": "passed"}
    # pyfunc answers what the model serves (both class probabilities), as its signature says.
    holdout = pd.read_parquet(paths["test"]).head(4)
    served = mlflow.pyfunc.load_model(f"models:/{project}/1").predict(holdout)
    expected = joblib.load(paths["model"]).predict_proba(holdout)
    np.testing.assert_allclose(np.asarray(served), expected)
    # The training data is the run's dataset input, its digest the file's md5.
    (run,) = mlflow_runs_of(md5)
    (dataset,) = run.inputs.dataset_inputs
    assert (dataset.dataset.name, dataset.dataset.digest) == ("train", file_md5(paths["train"]))
