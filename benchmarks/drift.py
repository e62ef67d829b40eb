"""Drift-job budget: `mlops drift` on 100,000 logged predictions, beside a bare Evidently baseline.

Setup (not timed): 100,000 generated requests scored by the serving runtime with the pipeline's model
and written by the real prediction log (plus labels for all of them, so the concept check runs too).
Then, each in a fresh process so imports and memory are counted: (1) `mlops drift` on that log; (2) the
baseline: read the same JSONL files with pandas and run Evidently's DataDriftPreset on them against the
same reference, nothing else. Figures: wall time and peak RSS of each process (ru_maxrss of the child).
Budget (the monitoring issue): `mlops drift` <= 20 s and <= 2 GiB. Needs `make pipeline` (reference data
and model). Run: `make bench-drift` or `.venv/bin/python benchmarks/drift.py [--rows 100000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlops import paths

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = ROOT / paths.DVC_YAML  # every path below: dvc.yaml vars.paths, relative to ROOT
BASELINE = """
import json, sys, glob
import pandas as pd
from evidently import Report, Dataset, DataDefinition
from evidently.presets import DataDriftPreset
log, ref_path, num, cat = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
rows = [json.loads(line) for f in sorted(glob.glob(log + "/predictions-*.jsonl")) for line in open(f)]
cur = pd.DataFrame.from_records([r["inputs"] for r in rows])
ref = pd.read_parquet(ref_path)
dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
current, reference = (Dataset.from_pandas(d[num + cat], data_definition=dd) for d in (cur, ref))
snap = Report([DataDriftPreset(columns=num + cat)], include_tests=True).run(current, reference)
snap.save_html(sys.argv[5])
"""


def write_log(folder: Path, rows: int) -> None:
    import joblib

    from mlops.contract import load_contract
    from mlops.generate import generate
    from mlops.params import load_params
    from mlops.serving.predlog import FEEDBACK_PREFIX, PredictionLog
    from mlops.serving.runtime import LoadedModel, Runtime

    contract = load_contract(ROOT / paths.path("contract", DVC_YAML))
    project = load_params(ROOT / paths.path("params", DVC_YAML)).project
    df = generate(rows, seed=123, covariate_shift=0.5)
    truth = df.pop(contract.target).tolist()
    df[contract.time_column] = df[contract.time_column].dt.strftime("%Y-%m-%d")
    records = json.loads(df.to_json(orient="records"))
    model_file = ROOT / paths.path("model", DVC_YAML)
    model = LoadedModel(f"{project.name}:bench", joblib.load(model_file), project.threshold)
    log, feedback = PredictionLog(folder), PredictionLog(folder, prefix=FEEDBACK_PREFIX)
    rt = Runtime(model, log.extend, time_column=contract.time_column)
    for start in range(0, rows, 5000):
        rids = [f"b{i}" for i in range(start, min(start + 5000, rows))]
        rt.predict(records[start : start + 5000], rids)
        feedback.extend([{"request_id": r, "label": int(truth[int(r[1:])])} for r in rids])
    log.close()
    feedback.close()


# Runs the command as its only child and reports that child's peak RSS: per-process, not a running max.
WRAP = (
    "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
    "print('maxrss_kib', peak, p.returncode, file=sys.stderr)"
)


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one command in a fresh process."""
    start = time.perf_counter()
    wrapped = [sys.executable, "-c", WRAP, *cmd]
    proc = subprocess.run(wrapped, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    _, kib, code = proc.stderr.strip().splitlines()[-1].split()
    if int(code) not in (0, 3):
        sys.stderr.write(proc.stdout + proc.stderr)
    return wall, int(kib) / 1024, int(code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    for needed in (paths.path(key, DVC_YAML) for key in ("model", "train", "metrics")):
        if not (ROOT / needed).exists():
            print(f"bench-drift: {needed} missing: run `make pipeline` first", file=sys.stderr)
            return 2
    from mlops.contract import load_contract

    contract = load_contract(ROOT / paths.path("contract", DVC_YAML))
    features = contract.features()
    num, cat = contract.numeric(features), contract.categorical(features)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log"
        write_log(log, args.rows)
        python = sys.executable
        reference = str(paths.path("train", DVC_YAML))  # relative: measure() runs in ROOT
        baseline_html = str(Path(tmp) / "baseline.html")
        columns = [",".join(num), ",".join(cat)]
        base = measure([python, "-c", BASELINE, str(log), reference, *columns, baseline_html])
        out, none = str(Path(tmp) / "out"), str(Path(tmp) / "none.yaml")
        drift = ["drift", "--log-dir", str(log), "--out", out, "--production", none]
        ours = measure([python, "-m", "mlops.cli", *drift])
        summary = json.loads((Path(tmp) / "out" / "drift.json").read_text())
    wall_ok, mem_ok = ours[0] <= 20.0, ours[1] <= 2048
    print(f"| figure ({args.rows:,} logged rows) | mlops drift | bare Evidently baseline | budget |")
    print("|---|---|---|---|")
    print(f"| wall time | {ours[0]:.1f} s | {base[0]:.1f} s | <= 20 s: {'PASS' if wall_ok else 'FAIL'} |")
    print(
        f"| peak memory (RSS) | {ours[1]:.0f} MiB | {base[1]:.0f} MiB | <= 2048 MiB: "
        f"{'PASS' if mem_ok else 'FAIL'} |"
    )
    print(f"verdict: {summary['status']}, {summary['rows']} rows, drifted: {summary.get('drifted_columns')}")
    return 0 if wall_ok and mem_ok and ours[2] in (0, 3) else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
