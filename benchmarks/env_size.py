"""Installed size of the serving environment beside the full runtime one, both built from uv.lock.

- full: `uv sync --frozen --no-dev --no-editable`, every [project.dependencies] package (DVC, MLflow, GX,
  Evidently ...) and the project: what the image installed before the serving group existed;
- serving: `uv sync --frozen --only-group serving` plus the project with `--no-deps`: what the Dockerfile
  installs now (pyproject.toml's `serving` dependency group).

Each is a throwaway venv built from the lock through the uv cache (UV_CACHE_DIR, uv's default: a warm cache
builds both in seconds, and offline with UV_OFFLINE=1). Bytecode is compiled as in the image
(UV_COMPILE_BYTECODE=1 in the Dockerfile), so the figure is what the image's /opt/venv holds; pass
--no-compile-bytecode for the wheels' bytes only. The figure is site-packages' bytes: the apparent size
(st_size) of every regular file, walked without following symlinks. uv hardlinks files from its cache by
default; a hardlink's st_size is the file's full size, so the figure counts the bytes an image layer would
hold, not the blocks this filesystem happens to share with the cache (`du` would count those too, but not a
file hardlinked twice inside the tree).

Budget (the serving-group issue): the serving environment <= 550 MB, decimal (1 MB = 10^6 bytes); the
serving environment must not hold mlflow, dvc, great_expectations or evidently.

Run: `make bench-env-size` (or `.venv/bin/python benchmarks/env_size.py [--out PATH] [--keep DIR]`).
Prints a markdown table, writes JSON to `--out`, exits 1 when a budget fails, 2 when an environment cannot
be built. tests/serving/test_serving_env.py builds and measures the serving one with `measure_env`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MB = 550.0  # decimal megabytes (10^6 bytes) of installed packages
MB = 1_000_000
# Imported by the pipeline, the gates and monitoring only: never by the service.
HEAVY = ("mlflow", "dvc", "great_expectations", "evidently")
KINDS = ("full", "serving")


class HarnessError(RuntimeError):
    """An environment could not be built (no network and a cold cache, a stale lock ...)."""


def uv_binary() -> str:
    """The venv's uv (dev dependency, the pinned version), else the Makefile's bootstrap, else PATH's."""
    for candidate in (Path(sys.executable).parent / "uv", ROOT / ".tools" / "bin" / "uv"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("uv")
    if found is None:
        raise HarnessError("no uv: run make env")
    return found


def _uv(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(
        [uv_binary(), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if proc.returncode != 0:
        raise HarnessError(f"uv {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")


def build_env(kind: str, dest: Path, compile_bytecode: bool = True) -> Path:
    """Build the `kind` environment (full | serving) from uv.lock at `dest`; returns its python."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}  # never this venv
    env.update(UV_PROJECT_ENVIRONMENT=str(dest), UV_PYTHON_DOWNLOADS="never")
    common = ["--frozen", "--python", sys.executable, *(["--compile-bytecode"] if compile_bytecode else [])]
    if kind == "full":
        _uv(["sync", *common, "--no-dev", "--no-editable"], env)
    else:
        # --only-group: the group's packages and their locked dependencies, without the project's own
        # dependencies (and without the project); the project then comes without any dependency.
        _uv(["sync", *common, "--only-group", "serving"], env)
        python = ["--python", str(dest / "bin" / "python")]
        bytecode = ["--compile-bytecode"] if compile_bytecode else []
        _uv(["pip", "install", *python, *bytecode, "--no-deps", str(ROOT)], env)
    return dest / "bin" / "python"


def site_packages(python: Path) -> Path:
    (found,) = (python.parent.parent / "lib").glob("python3.*/site-packages")
    return found


def installed_bytes(root: Path) -> int:
    """Apparent bytes of the regular files under `root`, symlinks neither followed nor counted."""
    total = 0
    for folder, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            info = os.lstat(Path(folder) / name)
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def importable(python: Path, modules: tuple[str, ...] | list[str]) -> list[str]:
    """Which of `modules` the environment's interpreter finds (find_spec: nothing is imported)."""
    code = (
        "import importlib.util, json, sys; "
        "print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None]))"
    )
    proc = subprocess.run(
        # -I: isolated (no PYTHONPATH, no user site, no current folder): only the environment's own packages
        [str(python), "-I", "-c", code, *modules],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(proc.stdout))


@dataclass
class Figure:
    mb: float  # decimal megabytes of site-packages
    distributions: int  # *.dist-info folders: installed distributions
    heavy_importable: list[str]  # which of HEAVY the environment's interpreter finds


def measure_env(kind: str, work: Path, compile_bytecode: bool = True) -> tuple[Path, Figure]:
    """Build one environment under `work` and measure it; returns its python and its figure."""
    python = build_env(kind, work / kind, compile_bytecode)
    root = site_packages(python)
    figure = Figure(
        mb=round(installed_bytes(root) / MB, 1),
        distributions=len(list(root.glob("*.dist-info"))),
        heavy_importable=importable(python, HEAVY),
    )
    return python, figure


def passed(serving: Figure) -> bool:
    return serving.mb <= BUDGET_MB and not serving.heavy_importable


def markdown(full: Figure, serving: Figure) -> str:
    verdict = "ok" if passed(serving) else "OVER BUDGET"
    return "\n".join(
        [
            "| figure (site-packages, decimal MB) | full runtime (`--no-dev`) | serving group | budget |",
            "|---|---|---|---|",
            f"| installed packages | {full.mb} MB | {serving.mb} MB | <= {BUDGET_MB:g} MB: {verdict} |",
            f"| distributions | {full.distributions} | {serving.distributions} | |",
            f"| importable of {', '.join(HEAVY)} | {', '.join(full.heavy_importable) or 'none'} "
            f"| {', '.join(serving.heavy_importable) or 'none'} | serving: none |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / ".deploy" / "bench-env-size.json", help="JSON results"
    )
    parser.add_argument("--keep", type=Path, help="build the venvs here and keep them (default: a temp dir)")
    parser.add_argument(
        "--no-compile-bytecode",
        dest="compile_bytecode",
        action="store_false",
        help="measure the wheels' files only (the image compiles bytecode)",
    )
    args = parser.parse_args(argv)
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            work = args.keep
            full, serving = (measure_env(kind, work, args.compile_bytecode)[1] for kind in KINDS)
        else:
            with tempfile.TemporaryDirectory(prefix="mlops-env-size-") as tmp:
                work = Path(tmp)
                full, serving = (measure_env(kind, work, args.compile_bytecode)[1] for kind in KINDS)
    except HarnessError as exc:
        print(f"env-size benchmark failed to build an environment: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ok = passed(serving)
    results = {
        "unit": "MB (10^6 bytes), apparent size of site-packages",
        "compile_bytecode": args.compile_bytecode,
        "full": asdict(full),
        "serving": {**asdict(serving), "budget_mb": BUDGET_MB, "passed": ok},
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(full, serving))
    print(
        f"results: {args.out}  (serving {serving.mb} MB vs full {full.mb} MB, budget {BUDGET_MB:g} MB "
        f"decimal: {'budget met' if ok else 'BUDGET FAILED'})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
