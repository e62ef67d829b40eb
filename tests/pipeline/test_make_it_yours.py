"""Proof that a fork needs no code edits: a second dataset world, unlike the example, through the whole loop.

The world is test-owned and differs from the example everywhere a template can hard-code it: other column
names, a text target with padded values (" <=50K" / " >50K"), no id column, no time column, a header-less
CSV with `?` for missing values. Starting from a fresh project copy, the test runs what the README's
"Make it yours" says and nothing else: `make init` -> `make pipeline` -> `make report` -> `make package`
-> `make deploy ENV=staging` (smoke included) -> `mlops simulate` (holdout replay, labels fed back) ->
`make drift` -> `make retrain-data` -> `make pipeline`, editing nothing but what `init` wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import GIT, ROOT, commit_all, copy_project, free_port_base, run, tool_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("make-it-yours")]

COLUMNS = [
    "age",
    "workclass",
    "education_years",
    "hours_per_week",
    "capital_gain",
    "occupation",
    "sex",
    "income",
]


def census(rows: int, seed: int) -> pd.DataFrame:
    """An adult-census-like table: the outcome depends on education, hours, age and capital gain."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    education = rng.integers(4, 18, rows)
    hours = np.clip(rng.normal(40, 10, rows).round(), 5, 90).astype(int)
    gain = np.where(rng.random(rows) < 0.1, rng.exponential(4000, rows).round(2), 0.0)
    workclass = rng.choice(["Private", "Self-emp", "Gov", "?"], rows, p=[0.6, 0.15, 0.2, 0.05])
    occupation = rng.choice(["Tech", "Sales", "Craft", "Admin", "Service"], rows)
    sex = rng.choice(["Female", "Male"], rows)
    logit = -7.5 + 0.35 * education + 0.04 * hours + 0.03 * age + 0.0004 * gain + rng.normal(0, 0.5, rows)
    income = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), ">50K", "<=50K")
    return pd.DataFrame(
        {
            "age": age,
            "workclass": workclass,
            "education_years": education,
            "hours_per_week": hours,
            "capital_gain": gain,
            "occupation": occupation,
            "sex": sex,
            "income": income,
        }
    )


def write_headerless(frame: pd.DataFrame, path: Path) -> None:
    """As the UCI files are: no header, ", " between values (so every text value is padded), `?` = missing."""
    lines = [", ".join(str(v) for v in row) for row in frame.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n")


def make(repo: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=repo,
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f"make {' '.join(args)} exited {proc.returncode}\n{out}")
    return out


def test_a_different_dataset_goes_through_the_whole_loop_with_no_code_edits(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    repo = copy_project(tmp_path_factory.mktemp("yours"))
    (repo / ".venv").symlink_to(ROOT / ".venv")
    run([*GIT, "branch", "-M", "main"], repo)
    source = repo.parent / "census.data"
    write_headerless(census(4000, seed=11), source)
    env = {
        **tool_env(),
        "MAKEFLAGS": "--assume-old=.venv/.synced",
        "BENTOML_HOME": str(repo / ".bentoml"),
        "MLOPS_PORT_BASE": str(free_port_base()),
    }
    code_before = {p: (repo / p).read_bytes() for p in tracked(repo) if p.startswith(("src/", "Makefile"))}

    try:
        out = make(
            repo, "init", f"DATA={source}", "TARGET=income", f"INIT_ARGS=--names {','.join(COLUMNS)}", env=env
        )
        assert "review" in out.lower(), out
        contract = (repo / "data" / "contract.yaml").read_text()
        assert "income" in contract and "role: target" in contract
        params_text = (repo / "params.yaml").read_text()
        assert "data/extract/census" in params_text
        commit_all(repo, "init: census world")

        # The whole pipeline on the new world, every gate passing.
        out = make(repo, "pipeline", env=env)
        metrics = json.loads((repo / "reports" / "metrics.json").read_text())
        assert metrics["roc_auc"] > 0.7, metrics
        gates = json.loads((repo / "reports" / "gates.json").read_text())
        assert gates["passed"], out
        commit_all(repo, "pipeline: census model")

        # The pull-request report against the init commit.
        make(repo, "report", "BASE=HEAD~1", env=env)
        assert (repo / "reports" / "pr" / "report.md").exists()

        make(repo, "package", env=env)
        out = make(repo, "deploy", "ENV=staging", env=env)
        assert "smoke passed" in out, out
        active = json.loads((repo / ".deploy" / "staging" / "active.json").read_text())
        url = f"http://127.0.0.1:{active['port']}"

        # An answer in the contract's own terms: the target's name and one of its values.
        import urllib.request

        record = json.loads(next((repo / ".bentoml" / "models").glob("*/*/golden.json")).read_text())[0]
        req = urllib.request.Request(
            f"{url}/predict",
            data=json.dumps({"record": record["record"]}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        assert answer["income"] in ("<=50K", ">50K"), answer

        # Live traffic: held-out rows replayed with shifted inputs, their true outcomes fed back.
        sim = ["mlops", "simulate", "--url", url, "--rows", "2500", "--shift", "covariate", "--feedback"]
        assert "holdout rows" in run(sim, repo).stdout
        run(["mlops", "stop", "--env", "staging"], repo)  # flushes the prediction log
        log_dir = repo / ".deploy" / "staging" / "predictions"
        out = make(repo, "drift", f"LOG_DIR={log_dir}", check=False, env=env)
        verdict = json.loads((repo / ".deploy" / "staging" / "drift" / "drift.json").read_text())
        assert verdict["status"] == "drift", out
        assert verdict["quality"]["smoke_excluded"] >= 100  # the deploy's smoke requests: not traffic

        # The retrain loop: the labelled window becomes the extract, the pipeline runs on it.
        out = make(repo, "retrain-data", f"LOG_DIR={log_dir}", env=env)
        labelled = pd.read_parquet(repo / "data" / "extract" / "labelled.parquet")
        assert set(labelled["income"]) <= {"<=50K", ">50K"} and len(labelled) >= 2000, out
        out = make(repo, "pipeline", env=env)
        assert json.loads((repo / "reports" / "gates.json").read_text())["passed"], out
    finally:
        for env_name in ("staging", "production"):
            subprocess.run(
                ["mlops", "stop", "--env", env_name], cwd=repo, env=env, capture_output=True, check=False
            )

    code_after = {p: (repo / p).read_bytes() for p in code_before}
    assert code_after == code_before  # no code edit anywhere on the way


def tracked(repo: Path) -> list[str]:
    return run(["git", "ls-files"], repo).stdout.splitlines()
