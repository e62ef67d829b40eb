"""The pure-compute baseline of the pipeline, in ONE process doing the minimum work on a copy's params.

Generate the same synthetic rows as the ingest stage, split them as the split stage does, fit the same
scikit-learn Pipeline on one native thread (mlops.modeling.fit, as train does), predict the holdout and
compute the headline metrics (mlops.metrics.headline, as evaluate does). No validation, no files, no
MLflow, no plots, no gates. benchmarks/pipeline.py runs it as a child process and reads its wall time, CPU
time and max RSS from os.wait4; this prints its own phase times and metrics as one JSON line.

Run: `.venv/bin/python benchmarks/pipeline_compute.py --repo <copy>` (params.yaml and the contract of
that copy; dvc.yaml's paths).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

_T0 = time.perf_counter()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="the copy whose params.yaml is used")
    args = parser.parse_args()
    phases: dict[str, float] = {}

    def lap(name: str, start: float) -> float:
        now = time.perf_counter()
        phases[name] = round(now - start, 3)
        return now

    import numpy as np

    from mlops import paths, threads
    from mlops.consistency import load_checked
    from mlops.metrics import headline
    from mlops.modeling import fit, input_columns, targets
    from mlops.splitting import split_frame
    from mlops.stages.ingest import produce

    t = lap("import", _T0)

    def where(name: str) -> Path:  # the copy's dvc.yaml `vars.paths`, the one source of every path
        return args.repo / paths.path(name, args.repo / "dvc.yaml")

    config, contract = load_checked(where("params"), where("contract"))
    assert config.ingest.source == "synthetic", "the baseline generates the synthetic source only"
    df = produce(config.ingest, contract, where("extracts"))  # ingest's own generator call
    rows = len(df)
    sp = config.split
    train, test = split_frame(
        df, sp.strategy, sp.test_fraction, sp.seed, contract.time_column, contract.target
    )
    del df
    t = lap("generate_split", t)
    columns = input_columns(contract)
    model = fit(contract, config.train, train[columns], targets(train, contract))
    t = lap("fit", t)
    with threads.one_native_thread():
        proba = np.asarray(model.predict_proba(test[columns])[:, 1])
    t = lap("predict", t)
    metrics = headline(targets(test, contract), proba, config.project.threshold)
    lap("metrics", t)
    print(json.dumps({"rows": rows, "train_rows": len(train), "holdout_rows": len(test), "phases_s": phases,
                      "metrics": metrics}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
