"""`mlops init`: what it detects in a file, the contract and params it drafts, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from tests.world import WORLD_PARAMS

from mlops.consistency import mismatches
from mlops.contract import Contract, load_contract
from mlops.io import InputError
from mlops.onboarding.baseline import floors
from mlops.onboarding.command import _placement, run
from mlops.onboarding.detect import detect_csv
from mlops.onboarding.draft import (
    DRAFT_MARKER,
    EXAMPLE_MARKER,
    SCHEMA_LINE,
    draft_contract,
    is_replaceable,
    is_sensitive,
    render_contract,
)
from mlops.onboarding.edit import set_key, set_keys
from mlops.onboarding.reset import params_edits, project_name, reset_deploy_record
from mlops.params import load_params

ROOT = Path(__file__).resolve().parents[2]


def adult_like(path: Path, rows: int = 600) -> Path:
    """A header-less UCI-style file: `, ` after each comma, `?` for missing, a padded text target."""
    rng = np.random.default_rng(3)
    lines = []
    for _ in range(rows):
        age, hours = rng.integers(17, 90), rng.integers(1, 99)
        work = rng.choice(["Private", "Self-emp", "State-gov", "?"], p=[0.6, 0.2, 0.15, 0.05])
        edu = rng.choice(["Bachelors", "HS-grad", "Masters"])
        rich = rng.random() < 1 / (1 + np.exp(-(-4 + 0.05 * (age - 17) + 0.03 * hours)))
        shown_hours = "?" if rng.random() < 0.05 else str(hours)
        lines.append(f"{age}, {work}, {edu}, {shown_hours}, {' >50K' if rich else ' <=50K'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def churn_frame(rows: int = 400) -> pd.DataFrame:
    """A Parquet-like frame: an id, a date, a sensitive attribute, free text and a 0/1 target."""
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(rows)],
            "signup_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
            "gender": rng.choice(["f", "m"], rows),
            "spend": rng.gamma(2.0, 50.0, rows).round(2),
            "plan": rng.choice(["basic", "pro", "no"], rows),
            "note": [f"called on day {i}" for i in range(rows)],
        }
    )
    frame["churned"] = (rng.random(rows) < 0.3).astype(int)
    return frame


def test_a_headerless_csv_is_detected_with_its_markers_and_padding(tmp_path: Path) -> None:
    detected = detect_csv(adult_like(tmp_path / "adult.csv"), names=None)
    assert (detected.header, detected.delimiter, detected.strip) == (False, ",", True)
    assert detected.na_values == ("?",)
    assert detected.names == tuple(f"column_{i}" for i in range(1, 6))


def test_a_header_row_over_numbers_is_a_header(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("age;income;city\n31;2000.5;Basel\n45;N/A;Bern\n52;3100;Basel\n")
    detected = detect_csv(path, names=None)
    assert (detected.header, detected.delimiter, detected.names) == (True, ";", ("age", "income", "city"))
    assert detected.na_values == ("N/A",)


def test_init_on_a_headerless_csv_drafts_a_contract_ingest_and_validate_accept(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops.cli import main

    project = make_project()  # its contract is the tests' world, not the shipped example: hence --force
    monkeypatch.chdir(project)
    data = adult_like(project.parent / "adult.data")  # as UCI names them: text, not called .csv
    names = "age,workclass,education,hours,income"
    argv = ["init", "--data", str(data), "--target", "income", "--names", names, "--no-dvc", "--force"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "na_values ['?']" in out and "split.strategy random" in out and "floors" in out
    text = (project / "data/contract.yaml").read_text()
    assert text.splitlines()[:2] == [SCHEMA_LINE, DRAFT_MARKER]
    contract, params = load_contract(project / "data/contract.yaml"), load_params(project / "params.yaml")
    assert mismatches(params, contract) == []
    assert list(contract.columns) == names.split(",")  # the file's order: a header-less file needs it
    assert set(contract.labels) == {"<=50K", ">50K"}  # stripped
    assert contract.columns["hours"].nullable and contract.columns["workclass"].nullable
    assert (contract.id_column, contract.time_column) == (None, None)
    assert params.ingest.source == "data/extract/adult.data" and (project / params.ingest.source).exists()
    assert not params.ingest.read.header and params.ingest.read.strip and params.split.strategy == "random"
    assert params.train.monotonic == {} and params.gates.behaviour.directional == []
    assert (
        "# time: the most recent rows are the holdout" in (project / "params.yaml").read_text()
    )  # comments kept
    assert main(["ingest"]) == 0
    assert main(["validate"]) == 0, capsys.readouterr().err


def test_a_parquet_file_gets_its_id_and_time_roles_and_a_time_split() -> None:
    frame = churn_frame()
    contract = Contract.model_validate(
        yaml.safe_load(render_contract(draft_contract(frame, "churned"), "c", "c"))
    )
    assert (contract.id_column, contract.time_column, contract.labels) == (
        "customer_id",
        "signup_date",
        (0, 1),
    )
    assert contract.sensitive == ["gender"] and contract.ignored == ["note"]
    assert contract.columns["plan"].values == ("basic", "no", "pro")  # noqa: PD011 (`no` stays a string)
    assert contract.columns["spend"].min == 0
    from mlops.onboarding.detect import Detected

    edits = params_edits(contract, Detected(), "churn", "data/extract/c.parquet", floors(None), "x", False)
    assert edits["split.strategy"][0] == "time"
    assert edits["gates.behaviour.invariance"][0] == ["customer_id", "signup_date", "gender"]


def test_the_params_edits_keep_every_comment_and_fit_the_contract(tmp_path: Path) -> None:
    from mlops.onboarding.detect import Detected

    contract = Contract.model_validate(
        yaml.safe_load(render_contract(draft_contract(churn_frame(), "churned"), "c", "c"))
    )
    edits = params_edits(contract, Detected(), "churn", "data/extract/c.parquet", floors(None), "init", False)
    original = WORLD_PARAMS.read_text()  # the example's params, whatever a fork did to its own
    edited = set_keys(original, edits)
    comments = [line.split("#", 1)[1] for line in original.splitlines() if line.lstrip().startswith("#")]
    assert all(comment in edited for comment in comments)
    (tmp_path / "params.yaml").write_text(edited)
    params = load_params(tmp_path / "params.yaml")
    assert mismatches(params, contract) == []
    assert params.gates.performance.min == {"roc_auc": 0.55, "pr_auc": 0.0, "recall": 0.0}


def test_set_key_replaces_a_nested_block_and_keeps_the_line_comment() -> None:
    text = "a:\n  b:          # why b\n    - x\n    - y\n  # about c\n  c: 1\n"
    assert set_key(text, "a.b", "[]") == "a:\n  b: []       # why b\n  # about c\n  c: 1\n"
    assert (
        set_key(text, "a.c", "2", comment="new")
        == "a:\n  b:          # why b\n    - x\n    - y\n  # about c\n  c: 2  # new\n"
    )


def test_a_target_with_three_values_is_refused_naming_them() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": ["a", "b", "c", "a"]})
    with pytest.raises(InputError, match=r"exactly two values.*'a' \(2\), 'b' \(1\), 'c' \(1\)"):
        draft_contract(frame, "y")
    with pytest.raises(InputError, match="columns are: x, y"):
        draft_contract(frame, "z")


def test_the_positive_label_is_the_minority_unless_named() -> None:
    frame = pd.DataFrame({"x": range(6), "y": ["no", "no", "no", "no", "yes", "yes"]})
    assert draft_contract(frame, "y").columns["y"]["values"] == ["no", "yes"]
    assert draft_contract(frame, "y", positive="no").columns["y"]["values"] == ["yes", "no"]


def test_a_reviewed_contract_is_refused_without_force(tmp_path: Path) -> None:
    data = adult_like(tmp_path / "adult.csv", rows=20)
    contract = tmp_path / "contract.yaml"
    contract.write_text("# reviewed\nname: mine\n")
    with pytest.raises(InputError, match=r"contract.yaml is a reviewed contract.*--force"):
        run(tmp_path / "p.yaml", contract, tmp_path, tmp_path, tmp_path, data=data, target="column_5")
    assert is_replaceable(f"{SCHEMA_LINE}\n{EXAMPLE_MARKER}\nname: customer_churn\n")  # the shipped example
    assert is_replaceable(f"{SCHEMA_LINE}\n{DRAFT_MARKER}\n")


def test_a_different_file_in_the_extracts_folder_is_never_overwritten_without_force(tmp_path: Path) -> None:
    (tmp_path / "extract").mkdir()
    (tmp_path / "extract/x.csv").write_text("a\n1\n")
    (tmp_path / "x.csv").write_text("a\n2\n")
    with pytest.raises(InputError, match="--force"):
        _placement(tmp_path / "x.csv", tmp_path / "extract", force=False)
    assert _placement(tmp_path / "x.csv", tmp_path / "extract", force=True) == tmp_path / "extract/x.csv"
    assert (
        _placement(tmp_path / "extract/x.csv", tmp_path / "extract", force=False)
        == tmp_path / "extract/x.csv"
    )


def test_a_deploy_record_with_a_model_is_reset_and_keeps_its_comments() -> None:
    record = "# what runs\nmodel:  # the model\n  path: m\n  md5: abc\nchallenger: null\nimage: ghcr.io/x:1\n"
    assert (
        reset_deploy_record(record)
        == "# what runs\nmodel: null  # the model\nchallenger: null\nimage: null\n"
    )
    assert reset_deploy_record("model: null\nchallenger: null\nimage: null\n") is None


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [("sex", True), ("native-country", True), ("MaritalStatus", True), ("age_band", True), ("page", False),
     ("usage_gb", False), ("races_won", False)],
)  # fmt: skip
def test_sensitive_attributes_are_suggested_by_name(name: str, sensitive: bool) -> None:
    assert is_sensitive(name) is sensitive


def test_the_project_name_is_a_dns_label_from_the_file_name() -> None:
    assert project_name("Adult Income.v2") == "adult-income-v2"
    assert project_name("2024_extract") == "p-2024-extract"


def test_floors_sit_below_the_baseline_by_the_noise_of_a_small_holdout() -> None:
    from mlops.onboarding.baseline import margin

    assert margin(100_000) == 0.05  # a big holdout: the fixed margin
    assert round(margin(480), 4) == 0.0685  # 1,200 holdout rows at a 40 % rate: three standard errors
    base = {"roc_auc": 0.83, "pr_auc": 0.77, "recall": 0.80}
    assert floors(base, 480) == {"roc_auc": 0.76, "pr_auc": 0.7, "recall": 0.73}
    assert floors(base, 100_000) == {"roc_auc": 0.78, "pr_auc": 0.72, "recall": 0.75}
