"""The serving Dockerfile (built only in CI): lint-clean, non-root, health-checked, consistent with k8s."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ROOT
from tests.world import world_params

from mlops.deploy import manifests
from mlops.params import load_params

HADOLINT = Path(sys.executable).parent / "hadolint"
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    # cwd = the Dockerfile's folder: hadolint reads a .hadolint.yaml from there, as `make` would.
    return subprocess.run(
        [str(HADOLINT), "--no-color", dockerfile.name],
        cwd=dockerfile.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, backslash continuations joined."""
    logical = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    )
    pairs = [line.strip().split(maxsplit=1) for line in logical.splitlines() if line.strip()]
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_hadolint_passes() -> None:
    proc = _hadolint(DOCKERFILE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (
            lambda text: text.replace("FROM ${PYTHON_IMAGE} AS runtime", "FROM python:latest AS runtime"),
            "DL3007",
        ),
        (lambda text: text + "USER root\n", "DL3002"),
        (lambda text: text + "USER root\nRUN apt-get update && apt-get install -y curl\n", "DL3008"),
        (
            lambda text: re.sub(r"^CMD .*$", "CMD bentoml serve customer-churn:latest", text, flags=re.M),
            "DL3025",
        ),
    ],
    ids=["latest-base", "root-user", "unpinned-apt", "shell-form-cmd"],
)
def test_hadolint_catches_a_broken_copy(tmp_path: Path, edit: Callable[[str], str], rule: str) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text(edit(DOCKERFILE.read_text()))
    proc = _hadolint(broken)
    assert proc.returncode != 0 and rule in proc.stdout, proc.stdout


def test_the_base_image_is_pinned_by_tag_and_digest() -> None:
    (image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", image), image
    froms = [args for op, args in _instructions(DOCKERFILE.read_text()) if op == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]  # one interpreter for both


def test_final_stage_runs_non_root_with_a_healthcheck_and_exec_form_command() -> None:
    stage = _final_stage()
    ops = [op for op, _ in stage]
    users = [args for op, args in stage if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert users[-1] == f"{manifests.UID}:{manifests.UID}"  # what the pod's securityContext asserts
    (health,) = [args for op, args in stage if op == "HEALTHCHECK"]
    probe = json.loads(health.split(" CMD ", 1)[1])  # exec form: a JSON array
    assert probe[0] == "python" and "http://127.0.0.1:3000/readyz" in probe[-1]
    # Exec form (JSON arrays): bentoml is PID 1 and gets SIGTERM; a shell form would swallow it.
    entrypoint = json.loads(dict(stage)["ENTRYPOINT"])
    cmd = json.loads(dict(stage)["CMD"])
    # sh only expands the bento's tag, then `exec`s bentoml (PID 1); CMD's flags pass through as "$@".
    assert entrypoint[:2] == ["/bin/sh", "-c"] and entrypoint[2].startswith("exec bentoml serve ")
    assert entrypoint[2] == 'exec bentoml serve "$MLOPS_BENTO" "$@"'
    assert cmd == ["--host", "0.0.0.0", "--port", str(manifests.PORT)]
    argv = subprocess.run(  # what the container runs, with `bentoml` replaced by echo
        [*entrypoint[:2], entrypoint[2].replace("exec bentoml", "echo bentoml"), *entrypoint[3:], *cmd],
        env={"MLOPS_BENTO": "acme:latest", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert argv == ["bentoml", "serve", "acme:latest", "--host", "0.0.0.0", "--port", str(manifests.PORT)]
    assert ops.index("USER") < ops.index("ENTRYPOINT") and dict(stage)["EXPOSE"] == str(manifests.PORT)


def test_the_project_name_is_params_yaml_s() -> None:
    """PROJECT has no default in the Dockerfile: `make image` passes params.yaml project.name, and the
    served bento's tag derives from it (MLOPS_BENTO), so no second copy of the name exists to go stale."""
    names = {world_params().project.name, load_params(ROOT / "params.yaml").project.name}  # example, fork
    text = DOCKERFILE.read_text()
    assert re.findall(r"^ARG PROJECT\b.*$", text, flags=re.M) == ["ARG PROJECT"]
    assert not any(name in text for name in names)
    assert "MLOPS_BENTO=${PROJECT}:latest" in text and "MLOPS_PROJECT=${PROJECT}" in text
    assert "--build-arg PROJECT=$(PROJECT)" in (ROOT / "Makefile").read_text()


# The pipeline's libraries: the service imports none of them, so the image must hold none of them.
NOT_SERVED = {"mlflow", "dvc", "great-expectations", "evidently"}


def _installs(text: str) -> list[str]:
    """The install commands of the builder stage's RUN lines (uv sync, uv pip install, pip install)."""
    runs = [args for op, args in _instructions(text) if op == "RUN"]
    return [
        cmd.strip() for run in runs for cmd in re.split(r"&&|;", run) if " install " in cmd or "sync" in cmd
    ]


def _install_problems(text: str) -> list[str]:
    """Why a Dockerfile's venv would not be the serving group + the project with --no-deps ([] if it is)."""
    installs = _installs(text)
    syncs = [cmd for cmd in installs if cmd.startswith("uv sync")]
    projects = [cmd for cmd in installs if cmd.startswith("uv pip install")]
    others = [cmd for cmd in installs if cmd not in {*syncs, *projects}]
    problems = []
    if syncs != ["uv sync --frozen --only-group serving"]:  # --group would add [project.dependencies]
        problems.append(f"the locked install is not the serving group only: {syncs}")
    if len(projects) != 1 or "--no-deps" not in projects[0].split() or projects[0].split()[-1] != ".":
        problems.append(f"the project is not installed once, without its dependencies: {projects}")
    if len(others) != 1 or not re.match(r'pip install [-\w ]* "uv==', others[0]):  # uv itself, pinned
        problems.append(f"other installs: {others}")
    return problems


def test_the_image_installs_the_serving_group_and_the_project_without_its_dependencies() -> None:
    """The image's venv is pyproject.toml's `serving` group (from the lock) plus the project with --no-deps:
    never the full [project.dependencies] set (DVC, MLflow, GX, Evidently), never the dev group."""
    assert _install_problems(DOCKERFILE.read_text()) == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace("--only-group serving", "--no-dev"),  # the full runtime set
        lambda text: text.replace("--only-group serving", "--group serving"),  # + [project.dependencies]
        lambda text: text.replace(" --no-deps .", " ."),
        lambda text: text + "RUN pip install --no-cache-dir mlflow==3.17.0\n",
    ],
    ids=["full-set", "group-plus-project-deps", "project-with-deps", "extra-package"],
)
def test_the_install_check_catches_a_full_install(edit: Callable[[str], str]) -> None:
    assert _install_problems(edit(DOCKERFILE.read_text())) != []


def _locked_closure(lock: dict[str, Any], roots: list[dict[str, Any]]) -> set[str]:
    """Every locked package that `roots` (uv.lock dependency entries) pull in, extras included."""
    packages = {p["name"]: p for p in lock["package"]}
    seen: set[tuple[str, str]] = set()  # (package, extra); extra "" for the package itself
    todo = list(roots)
    while todo:
        dep = todo.pop()
        package = packages[dep["name"]]
        for extra in ["", *dep.get("extra", [])]:
            if (dep["name"], extra) not in seen:
                seen.add((dep["name"], extra))
                todo += (
                    package.get("dependencies", []) if not extra else package["optional-dependencies"][extra]
                )
    return {name for name, _ in seen}


def test_the_serving_group_is_locked_and_pulls_in_none_of_the_pipeline_stack() -> None:
    """The group resolves inside the project's one lock (same versions as the dev environment), and what it
    installs, transitively, holds none of the pipeline's libraries (benchmarks/env_size.py measures it)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (project,) = [p for p in lock["package"] if p["name"] == pyproject["project"]["name"]]
    declared = [
        re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0] for req in pyproject["dependency-groups"]["serving"]
    ]
    locked = project["dev-dependencies"]["serving"]
    assert sorted(d["name"] for d in locked) == sorted(declared)  # uv.lock is current for the group
    closure = _locked_closure(lock, locked)
    assert {"bentoml", "scikit-learn", "pandas", "pydantic"} <= closure
    assert closure.isdisjoint(NOT_SERVED), sorted(closure & NOT_SERVED)


def test_image_environment_matches_the_kubernetes_manifests() -> None:
    env = " ".join(args for op, args in _final_stage() if op == "ENV")
    settings = dict(re.findall(r"(\w+)=(\S+)", env))
    assert settings["MLOPS_PREDICTION_LOG_DIR"] == manifests.PREDICTION_LOG_DIR  # a mounted, writable volume
    assert settings["BENTOML_DO_NOT_TRACK"] == "true"
    assert settings["BENTOML_HOME"].startswith("/")


def _docker_ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule, simplified: the last matching pattern wins, `!` re-includes, and a
    pattern matching a parent folder matches everything under it."""
    ignored = False
    parts = path.split("/")
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.removeprefix("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


def test_dockerignore_admits_every_build_input_and_nothing_heavy() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    steps = _instructions(DOCKERFILE.read_text())
    sources = [
        src
        for op, args in steps
        if op == "COPY" and "--from=" not in args
        for src in args.split()[:-1]
        if not src.startswith("--")
    ]
    sources += re.findall(r"--mount=type=bind,source=([^,\s]+)", DOCKERFILE.read_text())
    assert {"pyproject.toml", "uv.lock", "src", "dist/${PROJECT}.bento"} <= set(sources)
    assert [s for s in sources if _docker_ignored(s, patterns)] == []
    assert not _docker_ignored("src/mlops/deploy/manifests.py", patterns)
    heavy = [".venv/bin/python", ".git/HEAD", "data/raw/churn.parquet", "mlflow.db", "mlruns/0/meta.yaml"]
    heavy += [
        "node_modules/x/index.js",
        ".dvc/cache/files/md5/ab/cd",
        "reports/pr/report.md",
        "models/m.joblib",
    ]
    heavy += ["src/mlops/__pycache__/k8s.cpython-311.pyc", "dist/mlops-0.1.0.whl", "tests/unit/test_k8s.py"]
    assert [h for h in heavy if not _docker_ignored(h, patterns)] == []
