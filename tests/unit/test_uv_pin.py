"""One uv version: pyproject.toml's [tool.uv] required-version is the source; every other place derives
from it (Makefile, Dockerfile) or must repeat it exactly (the dev dependency `uv==` and so uv.lock)."""

from __future__ import annotations

import re
import subprocess
import tomllib

from tests.conftest import ROOT

VERSION = re.compile(r"\d+\.\d+\.\d+")


def _pin() -> str:
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["required-version"]
    match = re.fullmatch(r"==(\d+\.\d+\.\d+)", required)
    assert match, f"required-version must be one exact version, got {required!r}"
    return match.group(1)


def test_the_dev_dependency_and_the_lock_repeat_required_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    uv_deps = [d for d in pyproject["dependency-groups"]["dev"] if re.match(r"uv\b(?!-)", d)]
    assert uv_deps == [f"uv=={_pin()}"]  # bentoml build calls this uv from the venv's PATH
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert [p["version"] for p in lock["package"] if p["name"] == "uv"] == [_pin()]


def test_the_makefile_derives_uv_version_from_pyproject() -> None:
    text = (ROOT / "Makefile").read_text()
    (line,) = [ln for ln in text.splitlines() if re.match(r"UV_VERSION\s*:?=", ln)]
    assert "pyproject.toml" in line and not VERSION.search(line), line
    # What make actually evaluates (-p prints the variable database; -n runs no recipe).
    proc = subprocess.run(
        ["make", "-pn", "help"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert re.findall(r"^UV_VERSION := (.*)$", proc.stdout, flags=re.MULTILINE) == [_pin()]


def test_the_dockerfile_reads_the_same_line() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "UV_VERSION" not in text and not re.search(r"uv==\d", text)
    logical = re.sub(r"\\\n", " ", text)
    (install,) = [ln for ln in logical.splitlines() if re.match(r"RUN pip install .*\"uv==", ln)]
    (spec,) = re.findall(r'"(uv==\$\(.*\))"', install)
    # Evaluate the RUN line's substitution as the image's shell would, against this pyproject.toml.
    proc = subprocess.run(
        ["bash", "-c", f'echo "{spec}"'], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
    )
    assert proc.stdout.strip() == f"uv=={_pin()}"


def test_no_other_file_pins_uv() -> None:
    """CI installs uv through `make env` only; a second pin (setup-uv, pip install uv==) would drift."""
    files = [ROOT / ".github" / "actions" / "setup" / "action.yml", *(ROOT / ".github").rglob("*.yml")]
    files += [p for p in (ROOT / ".ci").iterdir() if p.is_file()]
    for path in files:
        text = path.read_text()
        assert "setup-uv" not in text and not re.search(r"\buv[=@]=?v?\d", text), path
    assert "make env" in (ROOT / ".github" / "actions" / "setup" / "action.yml").read_text()
