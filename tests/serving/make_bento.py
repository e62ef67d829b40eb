"""Build a small real model and its bento in $BENTOML_HOME (run as a subprocess by the serving tests).

A subprocess, because BentoML reads BENTOML_HOME once at import: the tests' store must not be the
developer's. The model is the test world's estimator (tests/world: the example, whatever a fork did to
data/ and params.yaml) trained on 4,000 generated rows (seconds, not minutes).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import joblib

from mlops.contract import load_contract
from mlops.deploy import package
from mlops.generate import generate
from mlops.io import write_parquet
from mlops.lineage import file_md5
from mlops.modeling import build_pipeline, input_columns
from mlops.params import load_params


def main(root: Path, out: Path) -> None:
    world = root / "tests" / "world"
    contract_path = world / "contract.yaml"
    contract = load_contract(contract_path)
    shipped = load_params(world / "params.yaml")
    params, name, threshold = shipped.train, shipped.project.name, shipped.project.threshold
    holdout = generate(rows=500, seed=4)
    built = []
    for seed in (3, 5):  # a champion and a challenger (different training samples, different scores)
        train = generate(rows=4000, seed=seed)
        x, y = train[input_columns(contract)], (train[contract.target] == contract.positive_label).astype(int)
        model = build_pipeline(contract, params).fit(x, y)
        with tempfile.TemporaryDirectory() as tmp:
            model_path, holdout_path = Path(tmp) / "model.joblib", Path(tmp) / "holdout.parquet"
            joblib.dump(model, model_path)
            write_parquet(holdout, holdout_path)
            md5 = file_md5(model_path)
            metadata = {"model_md5": md5, "threshold": threshold, "git_commit": "test", "mlflow_run_id": ""}
            # As `mlops package` does: the golden set and the scoring path that will serve (compiled,
            # once its parity with the Pipeline is proven), so these tests judge what production runs.
            golden, scoring = package.serving_checks(model_path, contract_path, holdout_path, threshold)
            metadata |= scoring
            tag = package.ensure_model(name, model_path, contract_path, metadata, golden)
            built.append((tag, golden))
    (tag, golden), (challenger, challenger_golden) = built
    bento = package.build_bento(tag, root, {"model_md5": tag})
    out.write_text(
        json.dumps(
            {
                "model_tag": tag,
                "bento_tag": bento,
                "golden": golden,
                "challenger_tag": challenger,
                "challenger_golden": challenger_golden,
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
