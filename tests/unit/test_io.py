"""Edge I/O: atomic writes never leave half a file; tables read from CSV and Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops.io import InputError, read_table, write_json, write_parquet


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_json({"v": 1}, target)
    with pytest.raises(ValueError, match="Out of range float"):
        write_json({"v": float("nan")}, target)  # NaN is not valid JSON: refuse it
    assert target.read_text() == '{\n  "v": 1\n}\n'
    assert list(tmp_path.iterdir()) == [target]  # no temp file left behind


def test_csv_and_parquet_round_trip(tmp_path: Path, small_frame: pd.DataFrame) -> None:
    write_parquet(small_frame, tmp_path / "d.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "d.parquet"), small_frame)
    small_frame.to_csv(tmp_path / "d.csv", index=False)
    from_csv = read_table(tmp_path / "d.csv", time_column="event_date")
    assert from_csv["event_date"].dtype.kind == "M"
    assert list(from_csv.columns) == list(small_frame.columns)


def test_unparseable_dates_stay_strings_for_the_gate(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("event_date,x\n2025-01-01,1\nnot a date,2\n")
    assert read_table(tmp_path / "d.csv", time_column="event_date")["event_date"].dtype == object


def test_empty_csv_is_an_empty_frame(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    assert read_table(tmp_path / "empty.csv").empty


@pytest.mark.parametrize(
    ("name", "message"), [("missing.csv", "not found"), ("data.xlsx", "unsupported file type")]
)
def test_unreadable_inputs_are_named(tmp_path: Path, name: str, message: str) -> None:
    if name.endswith(".xlsx"):
        (tmp_path / name).write_text("x")
    with pytest.raises(InputError, match=message):
        read_table(tmp_path / name)
