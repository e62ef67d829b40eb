"""Pipeline budgets, each measured beside its baseline in the same run (the machine is shared and noisy).

- cold `dvc repro --force` on the shipped params (50,000 rows) in a fresh copy with no DVC cache and no
  MLflow store, beside the same stage commands run one after the other without DVC (DVC's own overhead);
- no-op `dvc repro` right after, beside `dvc version` (the floor cost of starting any DVC command).

Run: `make bench` (or `.venv/bin/python benchmarks/pipeline.py --repeats 3`). Exit 1 when a median is
over its budget.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="cold runs per side (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        results = measure(args.repeats, Path(tmp))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    over = [k for k, r in results.items() if "budget" in r and r["ours"]["median"] > r["budget"]["max"]]
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
