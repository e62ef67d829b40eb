"""The serving Dockerfile (built only in CI): lint-clean, non-root, health-checked, consistent with k8s."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

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
