"""File I/O at the stage edges: table reads, and atomic writes so a crash never leaves a half-written file."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


class InputError(ValueError):
    """An input file is missing or unreadable: the message names the file."""


@dataclass(frozen=True)
class ReadOptions:
    """How a CSV is read (params.yaml ingest.read); the defaults read what `write_parquet`/pandas write."""

    header: bool = True
    names: tuple[str, ...] = ()  # the columns of a header-less file, in file order
    delimiter: str = ","
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = ()
    strip: bool = False
    numeric: tuple[str, ...] = ()  # contract number columns: text there once stripped is re-read as numbers
    text: tuple[str, ...] = ()  # the contract's string columns: read as text ("02134" keeps its zero)


# Delimited text, as the files come (UCI's `.data`, `.txt`, `.tsv`): read with params.yaml ingest.read.
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".data")
# First bytes of files that are often misnamed .csv: named in the error instead of a parser traceback.
_MAGIC = {
    b"PAR1": "a Parquet file",
    b"PK\x03\x04": "a zip archive (an Excel .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
    b"\x1f\x8b": "a gzip archive",
}


def read_table(
    path: str | Path, time_column: str | None = None, options: ReadOptions | None = None
) -> pd.DataFrame:
    """Read a .parquet or .csv file; an empty CSV gives an empty frame (validation then says why).

    Every way a file can be unreadable raises InputError naming the file and the cause (wrong encoding, a
    workbook or Parquet file named .csv, a truncated Parquet file), never a parser traceback.
    """
    path = Path(path)
    options = options or ReadOptions()
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a .csv or .parquet file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        df = _read_parquet(path)
    elif suffix in TEXT_SUFFIXES:
        df = _read_csv(path, options)
    else:
        raise InputError(
            f"unsupported file type {suffix!r} for {path}: use .parquet or delimited text "
            f"({', '.join(TEXT_SUFFIXES)})"
        )
    if options.strip:
        df = _strip(df, options)
    parse_time = time_column and time_column in df.columns
    if parse_time and not pd.api.types.is_datetime64_any_dtype(df[time_column]):
        # CSV has no date type: parse the contract's time column; unparseable values stay strings and
        # the validation gate reports them.
        parsed = pd.to_datetime(df[time_column], errors="coerce")
        if parsed.notna().sum() == df[time_column].notna().sum():
            df[time_column] = parsed
    for name in df.columns:
        # Timezone-aware dates (a Parquet writer's, or CSV values with an offset) are read as UTC without
        # an offset: the contract's date type, and one clock for every comparison and every window.
        if isinstance(df[name].dtype, pd.DatetimeTZDtype):
            df[name] = df[name].dt.tz_convert("UTC").dt.tz_localize(None)
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame: pd.DataFrame = pd.read_parquet(path)
        return frame
    except Exception as exc:  # pyarrow raises several types (ArrowInvalid, OSError): all mean "unreadable"
        head = path.read_bytes()[:4]
        what = "it does not start like a Parquet file" if head != b"PAR1" else "truncated or corrupted"
        raise InputError(f"{path}: not a readable Parquet file ({what}): {exc}") from exc


def _read_csv(path: Path, options: ReadOptions) -> pd.DataFrame:
    with path.open("rb") as fh:
        head = fh.read(4096)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise InputError(f"{path} is {what}, not CSV text: export it as CSV, or name it by its type")
    kwargs: dict[str, Any] = {
        "sep": options.delimiter,
        "encoding": options.encoding,
        "na_values": list(options.na_values),
        "skipinitialspace": options.strip,
        "dtype": dict.fromkeys(options.text, "str"),
    }
    if not options.header:
        kwargs.update(header=None, names=list(options.names))
    try:
        df: pd.DataFrame = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not {options.encoding} text (byte {exc.object[exc.start : exc.start + 1]!r} at offset "
            f"{exc.start}): set params.yaml ingest.read.encoding (e.g. latin-1, cp1252)"
        ) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{path}: not a readable CSV with delimiter {options.delimiter!r}: {exc}") from exc
    if options.header and df.shape[1] == 1:
        # One column read: the file most likely uses another delimiter. Name the likely one.
        first = head.decode(options.encoding, errors="replace").splitlines()[0] if head else ""
        for candidate in (";", "\t", "|", ","):
            if candidate != options.delimiter and candidate in first:
                shown = "\\t" if candidate == "\t" else candidate
                raise InputError(
                    f"{path}: read as one column {str(df.columns[0])[:60]!r}; the header contains "
                    f"{shown!r}: set params.yaml ingest.read.delimiter to {shown!r}"
                )
    if not options.header:
        # pandas pads short rows with NaN under `names`: count the first row's fields instead.
        first_line = head.decode(options.encoding, errors="replace").splitlines()[:1]
        fields = len(next(csv.reader(first_line, delimiter=options.delimiter), []))
        if fields and fields != len(options.names):
            raise InputError(
                f"{path}: a header-less file with {fields} columns, but the contract lists "
                f"{len(options.names)} (every file column, in file order; `role: ignore` for unused ones)"
            )
    return df


def _strip(df: pd.DataFrame, options: ReadOptions) -> pd.DataFrame:
    """Blanks around header names and text values removed; a value left empty (or an NA marker once
    stripped, " ?") is missing; a contract number column whose values are then all numbers is read as
    numbers, as it would have been without the blanks (text columns stay text: "02134" keeps its zero)."""
    df = df.rename(columns=lambda c: c.strip() if isinstance(c, str) else c)
    missing = {"", *options.na_values}
    for name in df.columns:
        if df[name].dtype == object or pd.api.types.is_string_dtype(df[name]):
            stripped = df[name].map(lambda v: v.strip() if isinstance(v, str) else v)
            stripped = stripped.mask(stripped.isin(missing))
            numbers = pd.to_numeric(stripped, errors="coerce")
            present = stripped.notna()
            numeric = name in options.numeric and numbers[present].notna().all()
            df[name] = numbers if numeric else stripped
    return df


def _atomic(path: str | Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename: readers see old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    _atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_bytes(data: bytes, path: str | Path) -> None:
    _atomic(path, lambda tmp: tmp.write_bytes(data))


def write_text(text: str, path: str | Path) -> None:
    _atomic(path, lambda tmp: tmp.write_text(text))


def write_json(data: Any, path: str | Path) -> None:
    """Stable JSON (sorted keys are NOT used: key order is meaningful to readers); trailing newline."""
    write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", path)


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    return json.loads(path.read_text())


def load_model(path: str | Path) -> Any:
    """Load the pipeline `train` saved (joblib: our own artifact, produced by this pipeline)."""
    import joblib

    path = Path(path)
    if not path.exists():
        raise InputError(f"model file not found: {path}")
    return joblib.load(path)
