"""Drift alarm quality: false alarms on calm traffic, detection per shift, and what each shift costs.

Every window is judged by `mlops.monitoring.command.assess`, the function `mlops drift` runs on the log
it reads (the same rules, calibration and Evidently report), against the pipeline's reference: its
training rows, labelled holdout and model. Windows are logs as the service writes them: the example
generator's customers (calm, or with its covariate / concept shift knobs), scored by the model, with
labels fed back for `--labelled` of them. Figures per shift level and window size: alarm rate (any
alarm: the drift issue), retrain rate (verdict degrading: the retrain pull request), and the model's true
ROC AUC drop at that level (on `--truth-rows` generated rows, against the calm world). Acceptance (issue
17): <= 2 % false alarms at every size, >= 90 % detection where the drop is >= 0.03 with >= 1,000
labels, no retrain for covariate shift costing < 0.01.

Needs `make pipeline`. Run: `make bench-drift-quality` (or `.venv/bin/python benchmarks/drift_quality.py
[--calm-seeds 50 --shift-seeds 20 --workers 2]`); results as JSON in --out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
SIZES = (500, 1000, 3334, 10000)  # min_rows up; 3,334 rows x 30 % labels = 1,000 labels
SHIFTS = {"covariate": (0.3, 1.0, 2.0), "concept": (0.3, 0.5, 1.0)}


def _setup() -> tuple[Any, Any, Any, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from mlops import paths
    from mlops.consistency import load_checked
    from mlops.monitoring.command import Reference

    dvc_yaml = ROOT / paths.DVC_YAML
    config, contract = load_checked(
        ROOT / paths.path("params", dvc_yaml), ROOT / paths.path("contract", dvc_yaml)
    )
    models = (ROOT / paths.path("production", dvc_yaml), ROOT / paths.path("model", dvc_yaml))
    train, holdout = ROOT / paths.path("train", dvc_yaml), ROOT / paths.path("test", dvc_yaml)
    reference = Reference.load(config.monitoring, contract, train, holdout, models)
    import joblib

    return config, contract, reference, joblib.load(models[1])


_STATE: dict[str, Any] = {}


def _window(
    rows: int, seed: int, covariate: float, concept: float, labelled: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A log of `rows` predictions of the generated world and labels for the first `labelled` share."""
    from mlops.generate import generate
    from mlops.modeling import input_columns

    config, contract, _, model = _STATE["setup"]
    df = generate(rows, seed, start_date=NOW.date(), days=1, covariate_shift=covariate, concept_shift=concept)
    outcome = df.pop(contract.target).to_numpy()
    p = model.predict_proba(df[input_columns(contract)])[:, 1]
    df[contract.time_column] = df[contract.time_column].dt.strftime("%Y-%m-%d")
    inputs = json.loads(df.to_json(orient="records"))
    stamps = [(NOW - dt.timedelta(seconds=86_000 * (i + 1) / rows)).isoformat() for i in range(rows)]
    threshold = config.project.threshold
    records = [
        {"request_id": f"w{seed}-{i}", "timestamp": stamps[i], "model_version": "bench",
         "probability": float(p[i]), "predicted": int(p[i] >= threshold), "inputs": inputs[i]}
        for i in range(rows)
    ]  # fmt: skip
    labels = [{"request_id": f"w{seed}-{i}", "label": int(outcome[i])} for i in range(int(labelled * rows))]
    return records, labels


def _judge(task: tuple[str, float, int, int, float]) -> dict[str, Any]:
    kind, level, rows, seed, labelled = task
    if "setup" not in _STATE:
        _STATE["setup"] = _setup()
    from mlops.monitoring.command import assess

    config, contract, reference, _ = _STATE["setup"]
    covariate, concept = (
        (level, 0.0) if kind == "covariate" else (0.0, level) if kind == "concept" else (0, 0)
    )
    records, labels = _window(rows, seed, covariate, concept, labelled)
    started = time.process_time()
    with tempfile.TemporaryDirectory() as out:
        summary = assess(config, contract, records, labels, reference, NOW, Path(out))
    return {
        "kind": kind, "level": level, "rows": rows, "seed": seed, "labels": int(labelled * rows),
        "alarm": summary["status"] == "drift", "retrain": bool(summary.get("retrain")),
        "verdict": summary.get("verdict"), "cpu_s": time.process_time() - started,
        "reasons": summary["reasons"][:3],
    }  # fmt: skip


def _true_drops(rows: int) -> dict[str, float]:
    """The model's ROC AUC on `rows` generated customers of each world, minus the calm world's."""
    from sklearn.metrics import roc_auc_score

    from mlops.generate import generate
    from mlops.modeling import input_columns

    _, contract, _, model = _STATE["setup"]

    def auc(covariate: float, concept: float) -> float:
        df = generate(rows, 777, covariate_shift=covariate, concept_shift=concept)
        return float(
            roc_auc_score(df[contract.target], model.predict_proba(df[input_columns(contract)])[:, 1])
        )

    calm = auc(0.0, 0.0)
    drops = {"calm:0": 0.0}
    for kind, levels in SHIFTS.items():
        for level in levels:
            args = (level, 0.0) if kind == "covariate" else (0.0, level)
            drops[f"{kind}:{level:g}"] = round(calm - auc(*args), 4)
    return drops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calm-seeds", type=int, default=50)
    parser.add_argument("--shift-seeds", type=int, default=20)
    parser.add_argument("--labelled", type=float, default=0.3)
    parser.add_argument("--truth-rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--out", type=Path, default=ROOT / ".deploy" / "bench-drift-quality.json")
    args = parser.parse_args()
    _STATE["setup"] = _setup()
    drops = _true_drops(args.truth_rows)
    tasks = [("calm", 0.0, n, 10_000 + s, args.labelled) for n in args.sizes for s in range(args.calm_seeds)]
    tasks += [
        (kind, level, n, 20_000 + s, args.labelled)
        for kind, levels in SHIFTS.items() for level in levels for n in args.sizes
        for s in range(args.shift_seeds)
    ]  # fmt: skip
    tasks.sort(key=lambda t: t[2])  # one window size after the other: each worker calibrates a size once
    started = time.time()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(_judge, tasks, chunksize=4))
    table = _table(results, drops, args.sizes)
    print(table["text"])
    verdict = _acceptance(table["cells"], drops)
    print("\n".join(verdict["lines"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"drops": drops, "cells": table["cells"], "acceptance": verdict, "runs": results,
               "wall_s": round(time.time() - started, 1), "labelled": args.labelled}  # fmt: skip
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"bench-drift-quality: {len(results)} windows in {payload['wall_s']} s -> {args.out}")
    return 0


def _table(results: list[dict[str, Any]], drops: dict[str, float], sizes: list[int]) -> dict[str, Any]:
    cells: dict[str, dict[str, Any]] = {}
    for r in results:
        key = f"{r['kind']}:{r['level']:g}|{r['rows']}"
        cell = cells.setdefault(key, {"windows": 0, "alarms": 0, "retrains": 0, "labels": r["labels"]})
        cell["windows"] += 1
        cell["alarms"] += r["alarm"]
        cell["retrains"] += r["retrain"]
    head = f"{'world':16s} {'AUC drop':>8s} | " + " | ".join(f"{n:>6d} rows alarm / retrain" for n in sizes)
    lines = [head, "-" * len(head)]
    for world, drop in drops.items():
        parts = []
        for n in sizes:
            c = cells.get(f"{world}|{n}")
            if c is None:
                parts.append(" " * 24)
                continue
            alarm, retrain = c["alarms"] / c["windows"], c["retrains"] / c["windows"]
            parts.append(f"{alarm:>10.0%} / {retrain:>4.0%} (n={c['windows']})")
        lines.append(f"{world:16s} {drop:>8.4f} | " + " | ".join(parts))
    fed = [f"{n} rows -> {cells[f'calm:0|{n}']['labels']}" for n in sizes if f"calm:0|{n}" in cells]
    lines.append("labels fed back: " + ", ".join(fed))
    return {"text": "\n".join(lines), "cells": cells}


def _upper_bound(hits: int, trials: int) -> float:
    """95 % one-sided Clopper-Pearson upper bound of a rate seen `hits` times in `trials`."""
    from scipy import stats

    return 1.0 if hits >= trials else float(stats.beta.ppf(0.95, hits + 1, trials - hits))


def _acceptance(cells: dict[str, dict[str, Any]], drops: dict[str, float]) -> dict[str, Any]:
    checks = []
    for key, c in cells.items():
        world, rows = key.split("|")
        n = c["windows"]
        rate_alarm, rate_retrain = c["alarms"] / n, c["retrains"] / n
        if world == "calm:0":
            bound = _upper_bound(c["alarms"], n)
            text = f"false alarms at {rows} rows: {rate_alarm:.1%} <= 2% (95% bound {bound:.1%}, {n} windows)"
            checks.append((text, rate_alarm <= 0.02))
        elif drops[world] >= 0.03 and c["labels"] >= 1000:
            text = (
                f"{world} ({drops[world]:.3f}) at {rows} rows, {c['labels']} labels: "
                f"detected {rate_alarm:.0%} >= 90% (retrain {rate_retrain:.0%})"
            )
            checks.append((text, rate_alarm >= 0.9))
        elif world.startswith("covariate") and drops[world] < 0.01:
            checks.append((f"{world} ({drops[world]:.3f}) at {rows} rows: retrain {rate_retrain:.0%} == 0",
                           rate_retrain == 0))  # fmt: skip
    lines = [f"{'PASS' if ok else 'FAIL'}  {text}" for text, ok in checks]
    return {"passed": all(ok for _, ok in checks), "lines": lines}


if __name__ == "__main__":
    sys.exit(main())
