"""The data gate (real Great Expectations) on good data and on each kind of corruption, in the tests' world.

Each case names the risk it guards against. Every failure must exit non-zero, name the expectation, the
column and the offending value, and still write both reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.world import WORLD_CONTRACT, WORLD_PARAMS

from mlops.stages import validate


def _run(
    tmp_path: Path, frame: pd.DataFrame | None, fmt: str = "parquet", raw: str | None = None
) -> tuple[int, dict]:
    data = tmp_path / f"raw.{fmt}"
    if raw is not None:
        data.write_text(raw)
    elif fmt == "csv":
        assert frame is not None
        frame.to_csv(data, index=False)
    else:
        assert frame is not None
        frame.to_parquet(data, index=False)
    report_json, report_md = tmp_path / "validation.json", tmp_path / "validation.md"
    code = validate.run(WORLD_PARAMS, WORLD_CONTRACT, data, report_json, report_md)
    assert report_md.exists(), "the markdown summary is written whether the data passes or not"
    return code, json.loads(report_json.read_text())


def test_good_data_passes(tmp_path: Path, small_frame: pd.DataFrame) -> None:
    code, report = _run(tmp_path, small_frame)
    assert code == 0, report["failures"]
    assert report["success"] and report["failed"] == 0 and report["evaluated"] >= 40


def test_good_data_passes_from_csv(tmp_path: Path, small_frame: pd.DataFrame) -> None:
    code, report = _run(tmp_path, small_frame, fmt="csv")
    assert code == 0, report["failures"]


def _drop_region(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["region"])


def _null_target(df: pd.DataFrame) -> pd.DataFrame:
    df["churned"] = df["churned"].astype("float64")
    df.loc[[3, 50, 700], "churned"] = np.nan
    return df


def _out_of_range(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[10, "tenure_months"] = 999
    return df


def _unknown_category(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[11, "contract"] = "lifetime"
    return df


def _wrong_dtype(df: pd.DataFrame) -> pd.DataFrame:
    df["monthly_charges"] = df["monthly_charges"].map(lambda v: f"{v} EUR")
    return df


def _duplicate_ids(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[20, "customer_id"] = df.loc[21, "customer_id"]
    return df


def _extra_column(df: pd.DataFrame) -> pd.DataFrame:
    df["coupon_code"] = "WELCOME"
    return df


def _null_feature(df: pd.DataFrame) -> pd.DataFrame:
    df["support_calls"] = df["support_calls"].astype("float64")
    df.loc[5, "support_calls"] = np.nan
    return df


def _target_rate(df: pd.DataFrame) -> pd.DataFrame:
    df["churned"] = 0
    return df


CASES: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], list[str]]] = [
    # A renamed or dropped source column would silently remove a feature.
    ("missing column", _drop_region, ["expect_table_columns_to_match_set", "missing columns ['region']"]),
    # Unlabelled rows would be trained on as if they were labelled.
    ("nulls in target", _null_target, ["expect_column_values_to_not_be_null", "`churned`", "3 unexpected"]),
    # Unit or entry errors (months typed as days) distort what the model learns.
    ("out-of-range value", _out_of_range, ["expect_column_values_to_be_between", "`tenure_months`", "999"]),
    # A new product the model has never seen: decide consciously before it reaches training.
    ("unknown category", _unknown_category, ["expect_column_values_to_be_in_set", "`contract`", "lifetime"]),
    # Numbers arriving as text (a currency suffix) would be dropped or mis-encoded.
    ("wrong dtype", _wrong_dtype, ["expect_column_values_to_be_in_type_list", "`monthly_charges`", "EUR"]),
    # Duplicated customers leak between train and holdout and inflate metrics.
    ("duplicated ids", _duplicate_ids, ["expect_column_values_to_be_unique", "`customer_id`"]),
    # An unexpected column means the extract changed: the contract must change with it.
    (
        "extra column",
        _extra_column,
        ["expect_table_columns_to_match_set", "unexpected columns ['coupon_code']"],
    ),
    # Missing values in a column the contract says is always present.
    ("null in a feature", _null_feature, ["expect_column_values_to_not_be_null", "`support_calls`"]),
    # A broken label join shows as an impossible churn rate.
    ("target rate", _target_rate, ["expect_column_mean_to_be_between", "`churned`", "observed 0"]),
]


@pytest.mark.parametrize(("name", "corrupt", "expected"), CASES, ids=[c[0] for c in CASES])
def test_corruption_is_stopped_and_named(
    tmp_path: Path,
    small_frame: pd.DataFrame,
    name: str,
    corrupt: Callable[[pd.DataFrame], pd.DataFrame],
    expected: list[str],
) -> None:
    code, report = _run(tmp_path, corrupt(small_frame.copy()))
    assert code == 1
    assert not report["success"]
    text = "\n".join(report["failures"])
    for fragment in expected:
        assert fragment in text, f"{name}: {fragment!r} not in:\n{text}"
    assert fragment in (tmp_path / "validation.md").read_text()


@pytest.mark.parametrize("raw", ["", "customer_id,event_date\n"], ids=["zero bytes", "header only"])
def test_empty_file_is_stopped(tmp_path: Path, raw: str) -> None:
    code, report = _run(tmp_path, None, fmt="csv", raw=raw)
    assert code == 1
    text = "\n".join(report["failures"])
    assert "expect_table_row_count_to_be_between" in text and "observed 0" in text
    assert "missing columns" in text


def test_failures_are_printed_to_stderr(
    tmp_path: Path, small_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _run(tmp_path, _out_of_range(small_frame.copy()))
    err = capsys.readouterr().err
    assert code == 1 and "validate: FAILED 1 of" in err and "tenure_months" in err


def test_text_columns_reach_gx_as_arrow_strings_only_when_every_value_is_text() -> None:
    from mlops.adapters.gx import as_gx_frame

    frame = pd.DataFrame(
        {
            "text": ["a", None, "b"],
            "mixed": ["a", 5, "b"],
            "empty": [None, None, None],
            "typed": pd.Series(["a", "b", None], dtype=pd.StringDtype("python")),
            "date_as_text": ["2026-01-01", "x", "y"],  # not a text column: GX names its values
            "n": [1, 2, 3],
        }
    )
    text = {"text", "mixed", "empty", "typed"}
    with pd.option_context("mode.string_storage", "pyarrow"):
        out = as_gx_frame(frame, text)
    for name in ("text", "typed"):
        assert str(out[name].dtype) == "string" and out[name].dtype.storage == "pyarrow", name
    assert out["text"].isna().tolist() == [False, True, False]
    kept = {c: str(out[c].dtype) for c in ("mixed", "empty", "date_as_text", "n")}
    assert kept == {"mixed": "object", "empty": "object", "date_as_text": "object", "n": "int64"}
    twice = pd.concat([frame[["text"]], frame[["text"]]], axis=1)  # duplicated names: left to GX to report
    assert as_gx_frame(twice, text) is twice


def test_a_number_among_text_values_is_still_named_by_gx(small_frame: pd.DataFrame) -> None:
    """The Arrow fast path must not hide a wrong-typed value: GX judges that column value by value."""
    from mlops.adapters.gx import run_expectations
    from mlops.contract import load_contract
    from mlops.validation import expectations_for, offending_types

    contract = load_contract(WORLD_CONTRACT)
    frame = small_frame.copy()
    frame["region"] = frame["region"].astype(object)
    frame.loc[7, "region"] = 5
    frame.loc[[3, 4], "contract"] = None
    results = offending_types(
        run_expectations(frame, expectations_for(contract, list(frame.columns))), frame, contract
    )
    failed = {(r.spec.type, r.spec.column): r for r in results if not r.success}
    wrong = failed[("expect_column_values_to_be_in_type_list", "region")]
    assert wrong.unexpected_count == 1 and wrong.examples == [5]
    nulls = failed[("expect_column_values_to_not_be_null", "contract")]
    assert nulls.unexpected_count == 2 and nulls.examples == [None, None]  # never "<NA>"
    assert ("expect_column_values_to_be_in_type_list", "contract") not in failed
