"""A small real model, its training data as the drift reference, and prediction logs written by the
serving runtime itself (the same code path as the service, without HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import pytest

from mlops.contract import Contract
from mlops.generate import generate
from mlops.io import write_parquet
from mlops.modeling import build_pipeline, input_columns
from mlops.monitoring.simulate import Shift
from mlops.monitoring.simulate import records as simulated
from mlops.params import load_params
from mlops.serving.predlog import FEEDBACK_PREFIX, PredictionLog
from mlops.serving.runtime import LoadedModel, Runtime
from mlops.serving.schema import record_model
from tests.conftest import ROOT

THRESHOLD = 0.3


@dataclass
class World:
    root: Path
    model_path: Path
    reference: Path
    holdout: Path  # labelled rows the model never saw: the performance baseline
    contract: Contract

    def log(self, name: str, rows: int, seed: int, shift: Shift = "none", labels: bool = False) -> Path:
        """A prediction log of `rows` generated requests scored by the runtime (and their labels)."""
        folder = self.root / name
        sent, truth = simulated(rows, shift, seed)  # what `mlops simulate` sends, and the true outcomes
        schema = record_model(self.contract)
        records = [schema.model_validate(r).model_dump() for r in sent]
        log = PredictionLog(folder)
        model = LoadedModel("churn:test", joblib.load(self.model_path), THRESHOLD)
        rids = [f"{name}-{i}" for i in range(rows)]
        Runtime(model, log.extend, time_column=self.contract.time_column).predict(records, rids)
        log.close()
        if labels:
            feedback = PredictionLog(folder, prefix=FEEDBACK_PREFIX)
            feedback.extend([{"request_id": r, "label": int(y)} for r, y in zip(rids, truth, strict=True)])
            feedback.close()
        return folder


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, contract: Contract) -> World:
    root = tmp_path_factory.mktemp("monitoring")
    params = load_params(ROOT / "tests" / "world" / "params.yaml").train
    train, holdout = generate(8000, seed=21), generate(3000, seed=22)
    cols = input_columns(contract)
    model = build_pipeline(contract, params).fit(train[cols], train[contract.target])
    joblib.dump(model, root / "model.joblib")
    write_parquet(train, root / "train.parquet")
    write_parquet(holdout, root / "holdout.parquet")
    return World(root, root / "model.joblib", root / "train.parquet", root / "holdout.parquet", contract)
