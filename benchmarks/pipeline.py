"""Pipeline budgets, each measured beside its baseline in the same run (the machine is shared and noisy).

- cold `dvc repro --force` on the shipped params (50,000 rows) in a fresh copy with no DVC cache and no
  MLflow store, beside the same stage commands run one after the other without DVC (DVC's own overhead);
- no-op `dvc repro` right after, beside `dvc version` (the floor cost of starting any DVC command);
- cold `dvc repro --force` at `--rows` (default 1,000,000) generated rows, set in a fresh copy's params.yaml
  only, beside the pure-compute baseline benchmarks/pipeline_compute.py: ONE process that generates and
  splits the same rows, fits the same Pipeline on one native thread, predicts the holdout and computes the
  headline metrics. Both sides: wall time, CPU time (user + system of the whole process tree) and peak
  memory (the largest max RSS of any process of the tree), from os.wait4 on the top process: the kernel
  folds in every descendant it waited for, as getrusage(RUSAGE_CHILDREN) would, but for that tree alone.
  Per stage: a `mlops` shim first on the PATH of `dvc repro` records each stage process the same way.
  Targets: ours / baseline <= 2.5x in CPU time (primary: other work shares the cores and inflates wall
  time; the wall ratio is reported too) and peak <= 4 GiB.

Run: `make bench-pipeline` (or `.venv/bin/python benchmarks/pipeline.py --repeats 3 --rows 1000000
--cold-rows 50000`; `--cold-rows 0` or `--rows 0` skips that part). Exit 1 when a figure misses its
budget or target.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUDGET_COLD_S = 60.0
BUDGET_NOOP_S = 3.0
TARGET_RATIO = 2.5  # ours / baseline CPU time at --rows
TARGET_PEAK_GIB = 4.0
GIB = 1024**3
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{out.get('PATH', '')}"
    out.pop("MLFLOW_TRACKING_URI", None)  # each copy writes its own fresh sqlite store
    out.update(
        DVC_NO_ANALYTICS="1", MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", GIT_PYTHON_REFRESH="quiet"
    )
    return out


def sh(cmd: list[str], cwd: Path) -> float:
    """Run a command, fail loudly on error, return its wall time in seconds."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def fresh_copy(parent: Path, name: str) -> Path:
    """What a fresh clone holds (tracked + new unignored files), as a git repo: no data, cache or store."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    dest = parent / name
    for rel in listed:
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    sh(["git", "init", "-q"], dest)
    sh([*GIT, "add", "-A"], dest)
    sh([*GIT, "commit", "-qm", "bench"], dest)
    return dest


def stage_commands(repo: Path) -> list[list[str]]:
    """The stage commands of dvc.yaml in order, with `${paths.x}` resolved from its vars."""
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    paths = spec["vars"][0]["paths"]
    commands = []
    for stage in spec["stages"].values():
        cmd = re.sub(r"\$\{paths\.(\w+)\}", lambda m: str(paths[m.group(1)]), " ".join(stage["cmd"].split()))
        commands.append(cmd.split())
    return commands


def same_lock(ours: Path, committed: Path) -> bool:
    """Every stage's lock entry identical, except the gate's: its reports hold CPU-time measurements."""
    a, b = (yaml.safe_load(p.read_text())["stages"] for p in (ours, committed))
    return a.keys() == b.keys() and all(a[s] == b[s] for s in a if s != "gate")


def run_baseline(repo: Path) -> float:
    return sum(sh(cmd, repo) for cmd in stage_commands(repo))


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3)}


def measure(repeats: int, work: Path) -> dict[str, dict[str, dict[str, float]]]:
    cold, direct, reproducible = [], [], []
    for i in range(repeats):
        # Alternate the order so that neither side always runs on a warmer machine.
        order = [("dvc", i), ("direct", i)] if i % 2 == 0 else [("direct", i), ("dvc", i)]
        for kind, n in order:
            repo = fresh_copy(work, f"{kind}{n}")
            if kind == "dvc":
                cold.append(sh(["dvc", "repro", "--force"], repo))
                reproducible.append(same_lock(repo / "dvc.lock", ROOT / "dvc.lock"))
                last = repo
            else:
                direct.append(run_baseline(repo))
    noop = [sh(["dvc", "repro"], last) for _ in range(5)]
    version = [sh(["dvc", "version"], last) for _ in range(5)]
    sh(["dvc", "status", "--quiet"], last)  # exits non-zero if anything is out of date
    return {
        "cold_repro_s": {
            "ours": summary(cold),
            "baseline": summary(direct),
            "budget": {"max": BUDGET_COLD_S},
        },
        "noop_repro_s": {
            "ours": summary(noop),
            "baseline": summary(version),
            "budget": {"max": BUDGET_NOOP_S},
        },
        "lock_identical_to_committed": {
            "ours": {"median": float(all(reproducible)), "min": float(all(reproducible))}
        },
    }


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = [
        "| figure | ours: median (min) | baseline: median (min) | budget | verdict |",
        "|---|---|---|---|---|",
        _row(
            "cold `dvc repro --force`, 50,000 rows, s", results["cold_repro_s"], "stages run directly, no DVC"
        ),
        _row("no-op `dvc repro`, s", results["noop_repro_s"], "`dvc version`"),
    ]
    same = bool(results["lock_identical_to_committed"]["ours"]["median"])
    return (
        "\n".join(rows)
        + f"\n\ndvc.lock of the cold run = the committed one (gate timings aside): {'yes' if same else 'NO'}"
    )


def _row(name: str, r: dict[str, dict[str, float]], baseline: str) -> str:
    ours, base, budget = r["ours"], r["baseline"], r["budget"]["max"]
    verdict = "ok" if ours["median"] <= budget else "OVER BUDGET"
    return (
        f"| {name} | {ours['median']:.2f} ({ours['min']:.2f}) | {base['median']:.2f} ({base['min']:.2f}) "
        f"[{baseline}] | <= {budget:g} | {verdict} |"
    )


SHIM = """#!{python}
import json, os, sys, time
argv = [{real!r}, *sys.argv[1:]]
start, cpu0 = time.perf_counter(), os.times()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, ru = os.wait4(pid, 0)
record = {{"stage": sys.argv[1], "wall_s": time.perf_counter() - start, "cpu_s": ru.ru_utime + ru.ru_stime,
          "max_rss_kib": ru.ru_maxrss}}
with open({log!r}, "a") as out:
    out.write(json.dumps(record) + "\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def set_rows(repo: Path, rows: int) -> None:
    """ingest.synthetic.rows = rows in the copy's params.yaml (a text edit: the comments stay), committed."""
    path = repo / "params.yaml"
    text, n = re.subn(
        r"(\n  synthetic:[^\n]*\n(?:    [^\n]*\n)*?    rows: )\d+", rf"\g<1>{rows}", path.read_text(), count=1
    )
    path.write_text(text)
    if n != 1 or yaml.safe_load(text)["ingest"]["synthetic"]["rows"] != rows:
        raise SystemExit(f"could not set ingest.synthetic.rows = {rows} in {path}")
    sh([*GIT, "commit", "-qam", f"bench: {rows} rows"], repo)


def run_tree(cmd: list[str], cwd: Path, extra_path: Path | None = None) -> tuple[dict[str, float], str]:
    """Run a command; wall s, CPU s (user + system) and peak GiB (largest max RSS) of its whole tree."""
    environment = env()
    if extra_path is not None:
        environment["PATH"] = f"{extra_path}{os.pathsep}{environment['PATH']}"
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=environment, stdout=out, stderr=subprocess.STDOUT, text=True
        )
        _, status, ru = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        log = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{log[-4000:]}")
    figures = {
        "wall_s": round(elapsed, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "peak_gib": round(ru.ru_maxrss * 1024 / GIB, 3),  # ru_maxrss is in KiB on Linux
    }
    return figures, log


def large_pipeline(work: Path, rows: int, n: int) -> dict[str, object]:
    repo = fresh_copy(work, f"large-dvc{n}")
    set_rows(repo, rows)
    shim_dir, stage_log = work / f"shim{n}", work / f"stages{n}.jsonl"
    shim_dir.mkdir()
    shim = shim_dir / "mlops"
    real = str(Path(sys.executable).parent / "mlops")
    shim.write_text(SHIM.format(python=sys.executable, real=real, log=str(stage_log)))
    shim.chmod(0o755)
    figures, _ = run_tree(["dvc", "repro", "--force"], repo, extra_path=shim_dir)
    stages = {}
    for line in stage_log.read_text().splitlines():
        r = json.loads(line)
        stages[r["stage"]] = {
            "wall_s": round(r["wall_s"], 2),
            "cpu_s": round(r["cpu_s"], 2),
            "peak_gib": round(r["max_rss_kib"] * 1024 / GIB, 3),
        }
    figures["dvc_overhead_wall_s"] = round(figures["wall_s"] - sum(s["wall_s"] for s in stages.values()), 2)
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    gates = json.loads((repo / "reports" / "gates.json").read_text())
    return {"figures": figures, "stages": stages, "metrics": metrics, "gates_passed": gates["passed"]}


def large_baseline(work: Path, rows: int, n: int) -> dict[str, object]:
    repo = fresh_copy(work, f"large-base{n}")
    set_rows(repo, rows)
    worker = Path(__file__).with_name("pipeline_compute.py")
    figures, log = run_tree([sys.executable, str(worker), "--repo", str(repo)], repo)
    inner = json.loads(log.strip().splitlines()[-1])
    return {"figures": figures, "phases_s": inner["phases_s"], "metrics": inner["metrics"]}


def measure_large(rows: int, repeats: int, work: Path) -> dict[str, object]:
    runs: dict[str, list[dict[str, object]]] = {"ours": [], "baseline": []}
    for i in range(repeats):
        order = ["ours", "baseline"] if i % 2 == 0 else ["baseline", "ours"]
        for kind in order:
            run = large_pipeline(work, rows, i) if kind == "ours" else large_baseline(work, rows, i)
            runs[kind].append(run)
    ours, base = runs["ours"], runs["baseline"]

    def med(side: list[dict[str, object]], key: str) -> float:
        return round(statistics.median(r["figures"][key] for r in side), 2)  # type: ignore[index]

    cpu_ratio = round(med(ours, "cpu_s") / med(base, "cpu_s"), 2)
    wall_ratio = round(med(ours, "wall_s") / med(base, "wall_s"), 2)
    peak = max(r["figures"]["peak_gib"] for r in ours)  # type: ignore[index]
    last = ours[-1]
    same_auc = last["metrics"]["roc_auc"] == base[-1]["metrics"]["roc_auc"]  # type: ignore[index]
    return {
        "rows": rows,
        "repeats": repeats,
        "ours": {k: med(ours, k) for k in ("wall_s", "cpu_s")} | {"peak_gib": peak},
        "baseline": {k: med(base, k) for k in ("wall_s", "cpu_s")}
        | {"peak_gib": max(r["figures"]["peak_gib"] for r in base)},  # type: ignore[index]
        "ratio_cpu": cpu_ratio,
        "ratio_wall": wall_ratio,
        "target": {"max_ratio_cpu": TARGET_RATIO, "max_peak_gib": TARGET_PEAK_GIB},
        "pass_ratio": cpu_ratio <= TARGET_RATIO,
        "pass_peak": peak <= TARGET_PEAK_GIB,
        "stages_last_run": last["stages"],
        "dvc_overhead_wall_s": last["figures"]["dvc_overhead_wall_s"],  # type: ignore[index]
        "baseline_phases_s": base[-1]["phases_s"],
        "gates_passed": all(r["gates_passed"] for r in ours),
        "same_roc_auc_as_baseline": same_auc,
        "runs": runs,
    }


def table_large(r: dict[str, object]) -> str:
    o, b = r["ours"], r["baseline"]  # type: ignore[index]
    verdict = {True: "PASS", False: "FAIL"}
    rows = [
        f"| {r['rows']:,} rows | wall s | CPU s | peak GiB |",
        "|---|---|---|---|",
        f"| cold `dvc repro --force` (ours) | {o['wall_s']:.1f} | {o['cpu_s']:.1f} | {o['peak_gib']:.2f} |",
        f"| pure compute, one process (baseline) | {b['wall_s']:.1f} | {b['cpu_s']:.1f} "
        f"| {b['peak_gib']:.2f} |",
        f"| ratio ours / baseline | {r['ratio_wall']:.2f}x | **{r['ratio_cpu']:.2f}x** | |",
        f"| target | | <= {TARGET_RATIO:g}x: **{verdict[bool(r['pass_ratio'])]}** "
        f"| <= {TARGET_PEAK_GIB:g}: **{verdict[bool(r['pass_peak'])]}** |",
        "",
        "| stage (inside that `dvc repro`) | wall s | CPU s | peak GiB | share of stage CPU |",
        "|---|---|---|---|---|",
    ]
    stages = r["stages_last_run"]  # type: ignore[index]
    total = sum(s["cpu_s"] for s in stages.values()) or 1.0
    for name, s in stages.items():
        rows.append(
            f"| {name} | {s['wall_s']:.1f} | {s['cpu_s']:.1f} | {s['peak_gib']:.2f} "
            f"| {s['cpu_s'] / total:.0%} |"
        )
    rows.append(f"| DVC itself (repro wall - stages wall) | {r['dvc_overhead_wall_s']:.1f} | | | |")
    phases = ", ".join(f"{k} {v:.1f}" for k, v in r["baseline_phases_s"].items())  # type: ignore[union-attr]
    rows.append(f"\nBaseline phases (wall s): {phases}. Same holdout ROC AUC as the pipeline: "
                f"{'yes' if r['same_roc_auc_as_baseline'] else 'NO'}; gates passed: "
                f"{'yes' if r['gates_passed'] else 'NO'}.")  # fmt: skip
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs per side (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large run; 0 skips it")
    parser.add_argument("--cold-rows", type=int, default=50_000, choices=[0, 50_000],
                        help="the shipped 50,000-row cold and no-op runs; 0 skips them")  # fmt: skip
    parser.add_argument("--out", "--json", type=Path, default=ROOT / ".deploy" / "bench-pipeline.json")
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        if args.cold_rows:
            results.update(measure(args.repeats, Path(tmp)))
            print(table(results))  # type: ignore[arg-type]
        if args.rows:
            large = measure_large(args.rows, args.repeats, Path(tmp))
            results["large"] = large
            print("\n" + table_large(large))
    results["bench_duration_s"] = round(time.perf_counter() - started, 1)
    results["max_rss_children_gib"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / GIB, 3
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    over = [
        k
        for k, r in results.items()
        if isinstance(r, dict) and "budget" in r and r["ours"]["median"] > r["budget"]["max"]
    ]
    parts = []
    if args.cold_rows:
        parts.append(
            f"cold 50k {results['cold_repro_s']['ours']['median']:.1f} s"  # type: ignore[index]
            f" (direct {results['cold_repro_s']['baseline']['median']:.1f} s)"
        )  # type: ignore[index]
    if args.rows:
        lg = results["large"]
        parts.append(
            f"{args.rows:,} rows CPU {lg['ours']['cpu_s']:.0f} s vs {lg['baseline']['cpu_s']:.0f} s = "
            f"{lg['ratio_cpu']:.2f}x (<= {TARGET_RATIO:g}x {'PASS' if lg['pass_ratio'] else 'FAIL'}), "
            f"wall {lg['ratio_wall']:.2f}x, peak {lg['ours']['peak_gib']:.2f} GiB "
            f"(<= {TARGET_PEAK_GIB:g} {'PASS' if lg['pass_peak'] else 'FAIL'})"
        )  # type: ignore[index]
        if not (lg["pass_ratio"] and lg["pass_peak"]):  # type: ignore[index]
            over.append("large")
    parts.append(f"took {results['bench_duration_s']:.0f} s")
    print(f"bench-pipeline: {args.out}: " + "; ".join(parts))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
