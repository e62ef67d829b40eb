"""Ingest reads real files: read options, optional roles, ignored columns, named errors (no traceback)."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from mlops.contract import Contract, row_keys
from mlops.io import InputError, ReadOptions, read_table
from mlops.params import IngestParams
from mlops.stages.ingest import produce, read_options, source_path

CONTRACT = Contract.model_validate(
    {
        "name": "census",
        "version": 1,
        "table": {"min_rows": 1, "max_rows": 100, "target_rate_min": 0.0, "target_rate_max": 1.0},
        "columns": {
            "age": {"type": "integer"},
            "zip": {"type": "string"},
            "notes": {"role": "ignore"},
            "workclass": {"type": "category", "values": ["Gov", "Private"], "nullable": True},
            "income": {"type": "category", "role": "target", "values": ["<=50K", ">50K"]},
        },
    }
)


def section(**read: object) -> IngestParams:
    settings = {"header": False, "delimiter": ",", "encoding": "utf-8", "na_values": ["?"], "strip": True}
    return IngestParams.model_validate({"source": "data/extract/census.data", "read": {**settings, **read}})


def test_a_headerless_padded_file_with_question_marks_reads_as_the_contract_says(tmp_path: Path) -> None:
    extracts = tmp_path / "data" / "extract"
    extracts.mkdir(parents=True)
    (extracts / "census.data").write_text(
        "39, 02134, free text, Private, <=50K\n50, ?, more, ?, >50K\n 41 , 10001, x,Gov , >50K\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        df = produce(section(), CONTRACT, Path("data/extract"))
    assert list(df.columns) == ["age", "zip", "workclass", "income"]  # `notes` (ignore) dropped
    assert df["age"].tolist() == [39, 50, 41] and pd.api.types.is_integer_dtype(df["age"])
    assert df["zip"].tolist()[::2] == ["02134", "10001"] and pd.isna(df["zip"][1])  # text keeps its zero
    assert df["workclass"].tolist()[::2] == ["Private", "Gov"] and pd.isna(df["workclass"][1])
    assert df["income"].tolist() == ["<=50K", ">50K", ">50K"]


def test_a_source_outside_the_extracts_folder_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "data" / "extract").mkdir(parents=True)
    with pytest.raises(InputError, match=r"outside .*data/extract.*make init DATA="):
        source_path(str(tmp_path / "elsewhere.csv"), tmp_path / "data" / "extract")
    assert source_path(str(tmp_path / "data" / "extract" / "a.csv"), tmp_path / "data" / "extract")


@pytest.mark.parametrize(
    ("content", "name", "cause"),
    [
        (b"PAR1\x00\x00garbage", "x.csv", "is a Parquet file"),
        (b"PK\x03\x04" + b"\x00" * 20, "x.csv", "Excel .xlsx workbook"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 20, "x.csv", "old Excel .xls"),
        (gzip.compress(b"a,b\n1,2\n", mtime=0), "x.csv", "gzip archive"),
        (b"name,city\nJos\xe9,Paris\n", "x.csv", "not utf-8 text .* ingest.read.encoding"),
        (b"a;b;c\n1;2;3\n", "x.csv", "ingest.read.delimiter to ';'"),
        (b"PAR1 truncated", "x.parquet", "not a readable Parquet file"),
    ],
    ids=["parquet-as-csv", "xlsx-as-csv", "xls-as-csv", "gzip-as-csv", "latin-1", "semicolon", "bad-parquet"],
)
def test_unreadable_files_are_named_with_their_cause(
    tmp_path: Path, content: bytes, name: str, cause: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=cause) as err:
        read_table(path, options=ReadOptions())
    assert str(path) in str(err.value)


def test_a_truncated_parquet_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    buffer = io.BytesIO()
    pd.DataFrame({"a": range(1000)}).to_parquet(buffer)
    path.write_bytes(buffer.getvalue()[:-200])
    with pytest.raises(InputError, match="truncated or corrupted"):
        read_table(path)


def test_a_wrong_column_count_in_a_headerless_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("1,2\n3,4\n")
    with pytest.raises(InputError, match="header-less file with 2 columns, but the contract lists 5"):
        read_table(path, options=read_options(section(), CONTRACT))


def test_the_contract_allows_no_id_and_no_time_and_ignores_typeless_columns() -> None:
    assert CONTRACT.id_column is None and CONTRACT.time_column is None
    assert CONTRACT.ignored == ["notes"] and "notes" not in CONTRACT.data_columns
    assert CONTRACT.labels == ("<=50K", ">50K") and CONTRACT.label_name(1) == ">50K"
    with pytest.raises(ValueError, match="`type` is required"):
        Contract.model_validate(
            {
                **CONTRACT.model_dump(),
                "columns": {**CONTRACT.model_dump()["columns"], "x": {"role": "feature"}},
            }
        )


def test_row_keys_are_stable_and_tell_repeated_rows_apart() -> None:
    frame = pd.DataFrame({"a": [1, 2, 1], "b": ["x", "y", "x"]})
    keys = row_keys(frame, ["a", "b"])
    assert keys[0] != keys[2] and keys[0].split("-")[0] == keys[2].split("-")[0]
    assert row_keys(frame.iloc[::-1].reset_index(drop=True), ["a", "b"])[2] in set(keys)


def test_zip_magic_is_not_confused_with_text(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", "<x/>")
    with pytest.raises(InputError, match="not CSV text"):
        read_table(path)


def test_timezone_aware_dates_are_read_as_utc_without_an_offset(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    stamps = pd.to_datetime(["2025-03-01T23:30:00+02:00", "2025-03-01T21:00:00+02:00"]).tz_convert(
        "Asia/Tokyo"
    )
    pd.DataFrame({"when": stamps}).to_parquet(path)
    read = read_table(path)
    assert str(read["when"].dtype).startswith("datetime64[") and read["when"].dt.tz is None
    assert [str(v) for v in read["when"]] == ["2025-03-01 21:30:00", "2025-03-01 19:00:00"]  # UTC


def test_dates_from_the_future_fail_the_gate_relative_to_the_run_with_the_values_shown() -> None:
    import datetime as dt

    from mlops.validation import future_dates

    contract = Contract.model_validate(
        {
            **CONTRACT.model_dump(),
            "columns": {
                **CONTRACT.model_dump()["columns"],
                "seen": {"type": "date", "role": "time", "max_future_days": 1},
            },
        }
    )
    today = dt.date(2026, 12, 1)
    frame = pd.DataFrame({"seen": pd.to_datetime(["2026-11-30", "2026-12-02", "2027-01-15"])})
    [check] = future_dates(frame, contract, today)
    assert not check.success and check.unexpected_count == 1 and check.examples == ["2027-01-15"]
    assert "max_future_days=1" in check.message and "2027-01-15" in check.message
    assert future_dates(frame, contract, dt.date(2027, 2, 1))[0].success  # the same data, a later run
