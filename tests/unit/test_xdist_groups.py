"""The suite's xdist groups hold: tests sharing a group run on ONE worker (its session fixtures built once,
its fixed-port servers never run side by side). A real `pytest -n 2 --dist loadgroup` on a tiny suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import ROOT


@pytest.mark.slow  # a nested pytest-xdist run: seconds of CPU, so not in make test-fast
def test_tests_of_one_group_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    shutil.copytree(ROOT / "tests" / "world", tmp_path / "tests" / "world")  # the conftest imports it
    (tmp_path / "tests" / "test_grouped.py").write_text(
        "import os, pytest\n"
        "pytestmark = pytest.mark.xdist_group('one')\n"
        + "".join(
            f"def test_{i}():\n    print(os.environ['PYTEST_XDIST_WORKER'], file=open('workers.txt', 'a'))\n"
            for i in range(6)
        )
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-s",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "tests",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workers = (tmp_path / "workers.txt").read_text().split()
    assert len(workers) == 6 and len(set(workers)) == 1, workers
