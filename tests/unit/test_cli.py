"""The `mlops` console script: each command declared once, flags = parameter names, paths from dvc.yaml,
and bad params exit 2 with the key named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.world import WORLD_CONTRACT, WORLD_PARAMS

from mlops.cli import COMMANDS, build_parser, main
from mlops.paths import declared

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
    params.write_text(WORLD_PARAMS.read_text().replace("rows: 50000", "rows: many", 1))
    code = main(
        [
            "ingest",
            "--params",
            str(params),
            "--contract",
            str(WORLD_CONTRACT),
            "--out",
            str(tmp_path / "raw.parquet"),
        ]
    )
    assert code == 2
    assert "ingest.synthetic.rows" in capsys.readouterr().err
    assert not (tmp_path / "raw.parquet").exists()


@pytest.mark.parametrize("stage", ["ingest", "validate"])
def test_params_that_do_not_fit_the_contract_exit_2_listing_every_problem(
    stage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = tmp_path / "params.yaml"
    text = WORLD_PARAMS.read_text().replace("support_calls: 1", "support_call: 1", 1)
    params.write_text(text.replace("- gender", "- sex", 1))
    out = {"ingest": ["--out", str(tmp_path / "raw.parquet")], "validate": ["--data", str(tmp_path / "raw")]}
    code = main([stage, "--params", str(params), "--contract", str(WORLD_CONTRACT), *out[stage]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "2 problems" in err and "train.monotonic.support_call" in err
    assert "gates.behaviour.invariance[2]" in err
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


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_each_command_calls_its_function_with_one_keyword_per_flag(command: object) -> None:
    import inspect

    from mlops.cli import Command

    assert isinstance(command, Command)
    signature = inspect.signature(command.resolve()).parameters
    flags = [arg.dest for arg in command.args]
    assert list(signature)[: len(flags)] == flags, f"{command.target}: {list(signature)} != flags {flags}"
    extra = list(signature.values())[len(flags) :]  # seams for tests (a project root, a clock), never flags
    assert all(p.default is not inspect.Parameter.empty for p in extra), f"{command.target}: {extra}"


def test_every_path_default_is_declared_in_dvc_yaml() -> None:
    paths = declared(ROOT / "dvc.yaml")
    keys = {arg.path_key for command in COMMANDS for arg in command.args if arg.path_key}
    assert keys <= set(paths), f"not in dvc.yaml vars.paths: {sorted(keys - set(paths))}"


def test_a_left_out_path_takes_the_dvc_yaml_value(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops.cli import BY_NAME, _with_path_defaults

    monkeypatch.chdir(ROOT)
    given = {"summary": None, "out": Path("x.md"), "run_url": None}
    filled = _with_path_defaults(BY_NAME["drift-issue-body"], given)
    assert filled == {"summary": Path("reports/drift/drift.json"), "out": Path("x.md"), "run_url": None}


def test_a_path_dvc_yaml_does_not_declare_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.yaml").write_text("vars:\n  - paths:\n      model: m.joblib\nstages: {}\n")
    assert main(["summary"]) == 2
    assert "vars.paths.metrics" in capsys.readouterr().err


def test_the_environments_are_one_tuple() -> None:
    from mlops.deploy import ENVIRONMENTS
    from mlops.deploy.local import PORT_OFFSET

    assert set(PORT_OFFSET) == set(ENVIRONMENTS)
    assert build_parser().parse_args(["stop", "--env", ENVIRONMENTS[-1]]).env == ENVIRONMENTS[-1]


def test_fetch_log_without_a_url_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("MLOPS_PREDICTION_LOG_URL", raising=False)
    assert main(["fetch-log", "--out", str(tmp_path / "log")]) == 2
    assert "MLOPS_PREDICTION_LOG_URL is not set" in capsys.readouterr().err
    assert not (tmp_path / "log").exists()


def test_aliases_server_only_without_a_tracking_server_mirrors_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # no deploy/ record, no dvc.yaml: nothing is read
    argv = [
        "aliases",
        "--env",
        "staging",
        "--params",
        str(WORLD_PARAMS),
        "--gates",
        "gates.json",
        "--server-only",
    ]
    assert main(argv) == 0
    assert (
        capsys.readouterr().out
        == "aliases: MLFLOW_TRACKING_URI not set (embedded store): nothing to mirror\n"
    )


def test_help_shows_plain_defaults_and_path_keys() -> None:
    text = build_parser()._subparsers._group_actions[0].choices["simulate"].format_help()  # type: ignore[union-attr]
    assert "(default: 5000)" in text and "(default: none)" in text
    refresh = build_parser()._subparsers._group_actions[0].choices["refresh-data"].format_help()  # type: ignore[union-attr]
    assert "paths.deploy_state/production/predictions" in " ".join(refresh.split())
    assert "monitoring.retrain_min_rows" in refresh


def test_fetch_log_without_credentials_or_a_backend_is_one_line_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fsspec
    from fsspec.spec import AbstractFileSystem

    class NoCredentialsError(Exception):  # what botocore raises when no credentials are configured
        pass

    class Locked(AbstractFileSystem):
        protocol = "locked"

        def glob(self, path: str, **kwargs: object) -> list[str]:
            raise NoCredentialsError("Unable to locate credentials")

    fsspec.register_implementation("locked", Locked, clobber=True)
    assert main(["fetch-log", "--url", "locked://bucket/log", "--out", str(tmp_path / "log")]) == 2
    err = capsys.readouterr().err
    assert "cannot read the prediction log at locked://bucket/log: NoCredentialsError" in err
    assert "set the store's credentials" in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert main(["fetch-log", "--url", "nosuchproto://bucket/log", "--out", str(tmp_path / "log")]) == 2
    err = capsys.readouterr().err
    assert "cannot read the prediction log at nosuchproto://bucket/log" in err and "Traceback" not in err
    # A password in the URL is never printed.
    assert (
        main(["fetch-log", "--url", "nosuchproto://user:s3cret@host/log", "--out", str(tmp_path / "l")]) == 2
    )
    err = capsys.readouterr().err
    assert "s3cret" not in err and "nosuchproto://***@host/log" in err
