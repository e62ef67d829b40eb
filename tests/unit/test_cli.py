"""The `mlops` console script: subcommands exist, and bad params exit 2 with the key named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
MLOPS = str(Path(sys.executable).parent / "mlops")


def test_every_dvc_stage_has_a_subcommand() -> None:
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, stage in stages.items():
        assert stage["cmd"].split()[:2] == ["mlops", name]
        assert name in commands


def test_bad_params_exit_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("ingest:\n  rows: many\n")
    code = main(
        [
            "ingest",
            "--params",
            str(params),
            "--contract",
            str(ROOT / "data/contract.yaml"),
            "--out",
            str(tmp_path / "raw.parquet"),
        ]
    )
    assert code == 2
    assert "ingest.rows" in capsys.readouterr().err
    assert not (tmp_path / "raw.parquet").exists()


def test_console_script_is_installed_and_documents_itself() -> None:
    out = subprocess.run([MLOPS, "--help"], capture_output=True, text=True, check=True).stdout
    commands = ("ingest", "validate", "split", "train", "evaluate", "gate", "summary", "report", "pr-target")
    for command in commands:
        assert command in out


def test_a_report_against_an_unknown_base_names_it_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "pr"
    code = main(["report", "--base", "no-such-branch-xyz", "--out", str(out)])
    assert code == 2
    assert "no-such-branch-xyz" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_report_preview_of_a_missing_report_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report-preview", "--report", str(tmp_path / "none.md")]) == 2
    assert "report not found" in capsys.readouterr().err
