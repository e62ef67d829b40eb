"""How a data file reads: encoding, delimiter, header row, missing-value markers, padded values.

Pure detectors over the file's first bytes and rows as text give a `Detected` (params.yaml ingest.read,
plus the column names); `detect_csv` reads those rows, `read_detected` then the file as ingest will.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlops.io import InputError, ReadOptions, read_table
from mlops.params import ReadParams

# Whole values that mean "missing" in exported files (UCI's `?`, spreadsheets' `-`, SAS's `.`, ...).
NA_TOKENS = ("?", "NA", "N/A", "n/a", "na", "null", "NULL", "None", "nan", "NaN", "-", "--", ".")
SAMPLE_ROWS = 100_000  # rows read as text to detect the read options (the whole file is read afterwards)


@dataclass(frozen=True)
class Detected:
    """How the file reads: params.yaml ingest.read, plus the column names of a header-less file."""

    header: bool = True
    delimiter: str = ","
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = ()
    strip: bool = False
    names: tuple[str, ...] = ()  # the file's columns (header names, --names or column_1..N)

    def read_params(self) -> ReadParams:
        """What init writes to params.yaml ingest.read (and what ingest then reads the file with)."""
        return ReadParams(
            header=self.header,
            delimiter=self.delimiter,
            encoding=self.encoding,
            na_values=list(self.na_values),
            strip=self.strip,
        )

    def options(self, numeric: tuple[str, ...] = ()) -> ReadOptions:
        return ReadOptions(
            header=self.header,
            names=self.names,
            delimiter=self.delimiter,
            encoding=self.encoding,
            na_values=self.na_values,
            strip=self.strip,
            numeric=numeric,
        )


def detect_encoding(head: bytes) -> str:
    """utf-8 (with or without a BOM) when the first bytes decode as such, else latin-1 (decodes anything)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    complete = head[: head.rfind(b"\n") + 1] or head  # a multi-byte character cut at the end is not an error
    try:
        complete.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def sniff_delimiter(text: str) -> str:
    """The delimiter csv.Sniffer finds over the first lines among , ; tab |; ',' when it cannot tell."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _numeric_column(values: pd.Series, na: set[str]) -> bool:
    present = [v for v in values if v and v not in na]
    return bool(present) and all(_is_number(v) for v in present)


def detect_na(cells: pd.DataFrame, known_only: bool = False) -> tuple[str, ...]:
    """Missing-value markers: known tokens found as whole (stripped) values, and (unless `known_only`) the
    one or two short non-numbers of an otherwise numeric column (`unknown` among numbers). `cells`: the
    file's values as text, without the header row (a header name atop numbers is no marker)."""
    stripped = cells.apply(lambda col: col.str.strip())
    found = {t for t in NA_TOKENS if stripped.isin([t]).to_numpy().any()}
    for name in [] if known_only else stripped.columns:
        values = stripped[name][stripped[name] != ""]
        odd = values[pd.to_numeric(values, errors="coerce").isna()]
        if 0 < odd.nunique() <= 2 and len(odd) < 0.5 * len(values) and odd.str.len().max() <= 12:
            found |= set(odd.unique())
    return tuple(sorted(found))


def detect_header(cells: pd.DataFrame, na: set[str]) -> bool:
    """Is the first row a header? Not when it looks like the data below it: a number atop a numeric column,
    or a value that recurs in its column. A word atop a numeric column says header; text-only files with
    no such clue fall back to csv.Sniffer's verdict on the first lines."""
    if len(cells) < 2:
        return True
    first = cells.iloc[0].str.strip()
    body = cells.iloc[1:].apply(lambda col: col.str.strip())
    numeric_data = numeric_header = text_data = 0
    for name in cells.columns:
        if _numeric_column(body[name], na):
            if _is_number(first[name]):
                numeric_data += 1
            elif first[name] not in na:
                numeric_header += 1
        elif first[name] and first[name] in set(body[name]):
            text_data += 1
    if numeric_data or numeric_header:
        return numeric_header > numeric_data
    if text_data:
        return False
    sample = "\n".join(",".join(row) for row in cells.head(50).itertuples(index=False))
    try:
        return csv.Sniffer().has_header(sample)
    except csv.Error:
        return True


def detect_strip(cells: pd.DataFrame) -> bool:
    """Padded values (`, Private` after a comma): blanks around any value mean `strip: true`."""
    return bool(cells.apply(lambda col: (col != col.str.strip()).any()).any())


def detect_csv(path: Path, names: tuple[str, ...] | None) -> Detected:
    """The read options of a CSV from its first bytes (encoding, delimiter) and first rows (the rest)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    if head.startswith((b"PAR1", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\x1f\x8b")):
        read_table(path)  # io names what the file really is
    encoding = detect_encoding(head)
    delimiter = sniff_delimiter(head.decode(encoding, errors="replace"))
    try:
        cells = pd.read_csv(
            path, sep=delimiter, header=None, dtype=str, keep_default_na=False, nrows=SAMPLE_ROWS,
            encoding=encoding,
        )  # fmt: skip
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(f"{path}: not a readable CSV with delimiter {delimiter!r}: {exc}") from exc
    header = detect_header(cells, set(detect_na(cells, known_only=True)))
    na = detect_na(cells.iloc[1:] if header else cells)
    columns = _column_names(cells, header, names, path)
    return Detected(header, delimiter, encoding, na, detect_strip(cells), columns)


def _column_names(
    cells: pd.DataFrame, header: bool, names: tuple[str, ...] | None, path: Path
) -> tuple[str, ...]:
    if header:
        if names:
            shown = ", ".join(cells.iloc[0].str.strip())
            raise InputError(f"--names is for a header-less file: {path} has a header row ({shown})")
        return tuple(cells.iloc[0].str.strip())
    if names and len(names) != cells.shape[1]:
        raise InputError(f"--names lists {len(names)} columns, {path} has {cells.shape[1]}")
    return names or tuple(f"column_{i}" for i in range(1, cells.shape[1] + 1))


def detect_frame(frame: pd.DataFrame) -> Detected:
    """Parquet carries its types: only markers and padding in its text columns are detected."""
    text = frame.select_dtypes(include=["object", "string"]).astype("string").fillna("")
    return Detected(
        na_values=detect_na(text) if len(text.columns) else (),
        strip=detect_strip(text) if len(text.columns) else False,
        names=tuple(str(c) for c in frame.columns),
    )


def read_detected(data: Path, names: tuple[str, ...] | None) -> tuple[Detected, pd.DataFrame]:
    """The read options, and the frame read with them as ingest will (number columns are re-read as
    numbers once stripped: ingest does the same for the contract's number columns)."""
    if data.suffix.lower() == ".parquet":
        raw = read_table(data)
        detected = detect_frame(raw)
        return detected, read_table(data, options=detected.options()) if detected.strip else raw
    detected = detect_csv(data, names)
    return detected, read_table(data, options=detected.options(numeric=detected.names))
