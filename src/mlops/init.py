"""`mlops init`: make the template yours in one command, from a sample of your own CSV or Parquet file.

It detects how the file reads (delimiter, header row, missing-value markers, padded values), drafts
data/contract.yaml (types, ranges and categories with a margin, nullability, roles), resets the example's
settings in params.yaml (textually: every comment survives), clears the deploy records (the example's
champion cannot score the new data), puts the file under data/extract/ tracked by DVC, and prints what a
person must review. The drafting functions are pure (frames and text in, text and dicts out); `run` is the
thin edge that reads, calls them once, and writes.
"""

from __future__ import annotations

import csv
import filecmp
import itertools
import json
import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlops.contract import NUMERIC_TYPES, Contract
from mlops.io import InputError, ReadOptions, read_table, write_text
from mlops.params import Params, ParamsError

DRAFT_MARKER = "# mlops init draft: review every line marked REVIEW, then delete this line."
EXAMPLE_MARKER = "# mlops example contract: make init replaces this file."
SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/contract.schema.json"
# Whole values that mean "missing" in exported files (UCI's `?`, spreadsheets' `-`, SAS's `.`, ...).
NA_TOKENS = ("?", "NA", "N/A", "n/a", "na", "null", "NULL", "None", "nan", "NaN", "-", "--", ".")
SAMPLE_ROWS = 100_000  # rows read as text to detect the read options (the whole file is read afterwards)
CATEGORY_MAX = 30  # a text column with at most this many distinct values (and repeats) is a category
MARGIN = 0.5  # ranges widen by this share of the observed span on each side (null fractions, rates too)
BASELINE_ROWS = 20_000  # the quick baseline fits on at most this many sampled rows (~1 s)
FLOOR_MARGIN = 0.05  # performance floors sit this far below the baseline
MIN_ROC_AUC_FLOOR = 0.55  # a floor below this would pass a model no better than chance
ID_NAME = re.compile(r"(^|_)(id|key|uuid|guid)$|^(id|key|uuid|guid)(_|$)|[a-z](Id|ID|Key|UUID)$")
DATE_TEXT = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
SENSITIVE_WORDS = frozenset(
    {"sex", "gender", "race", "ethnicity", "ethnic", "age", "ageband", "agegroup", "religion", "religious"}
    | {"marital", "nationality", "citizenship", "citizen", "disability", "disabled", "pregnancy", "pregnant"}
    | {"orientation", "nativecountry"}
)


# ---------------------------------------------------------------- detecting how the file reads (pure)


@dataclass(frozen=True)
class Detected:
    """How the file reads: params.yaml ingest.read, plus the column names of a header-less file."""

    header: bool = True
    delimiter: str = ","
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = ()
    strip: bool = False
    names: tuple[str, ...] = ()  # the file's columns (header names, --names or column_1..N)

    def options(self, numeric: tuple[str, ...] = (), text: tuple[str, ...] = ()) -> ReadOptions:
        return ReadOptions(
            header=self.header,
            names=self.names,
            delimiter=self.delimiter,
            encoding=self.encoding,
            na_values=self.na_values,
            strip=self.strip,
            numeric=numeric,
            text=text,
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


# ---------------------------------------------------------------- drafting the contract (pure)


@dataclass
class Draft:
    """The drafted contract: fields per column (file order), the comment each carries, the table rules."""

    columns: dict[str, dict[str, Any]]
    notes: dict[str, str] = field(default_factory=dict)
    table: dict[str, Any] = field(default_factory=dict)
    rate: float = 0.0
    rows: int = 0
    why: dict[str, str] = field(default_factory=dict)  # why the positive label and the time column

    def with_role(self, role: str) -> list[str]:
        return [name for name, col in self.columns.items() if col["role"] == role]


def looks_like_dates(series: pd.Series) -> bool:
    """Text that is ISO dates (2025-01-31, with an optional time): parsed as the time column by ingest."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if series.dtype != object and not pd.api.types.is_string_dtype(series):
        return False
    values = series.dropna().astype(str)
    if values.empty or not values.map(lambda v: bool(DATE_TEXT.match(v))).all():
        return False
    return bool(pd.to_datetime(values, errors="coerce", format="mixed").notna().all())


def _nice(value: float, step: float, up: bool) -> float:
    rounded = (math.ceil if up else math.floor)(value / step) * step
    return round(rounded, 10)


def numeric_bounds(series: pd.Series, integer: bool) -> tuple[float, float]:
    """The observed range widened by MARGIN of its span each side; never below 0 for a non-negative column."""
    low, high = float(series.min()), float(series.max())
    pad = MARGIN * (high - low) if high > low else max(abs(low) * MARGIN, 1.0)
    step = 1.0 if integer else 10.0 ** math.floor(math.log10(pad))
    lo, hi = _nice(low - pad, step, up=False), _nice(high + pad, step, up=True)
    if low >= 0:
        lo = max(lo, 0.0)
    return lo, hi


def date_bounds(series: pd.Series) -> tuple[str, str]:
    """ISO dates around the observed ones: MARGIN of the span, at least a year, each side."""
    parsed = pd.to_datetime(series.dropna(), format="mixed")
    low, high = parsed.min(), parsed.max()
    pad = max((high - low) * MARGIN, pd.Timedelta(days=365))
    return str((low - pad).date()), str((high + pad).date())


def null_rules(series: pd.Series) -> dict[str, Any]:
    fraction = float(series.isna().mean())
    if fraction == 0:
        return {"nullable": False}
    allowed = min(1.0, math.ceil((fraction * (1 + MARGIN) + 0.01) * 100) / 100)
    return {"nullable": True, "max_null_fraction": allowed}


def target_labels(series: pd.Series, name: str, positive: str | None) -> tuple[Any, Any]:
    """(negative, positive): the target's two values, positive = `positive` if given, else the minority."""
    counts = series.dropna().value_counts()
    if len(counts) != 2:
        shown = ", ".join(f"{v!r} ({n})" for v, n in counts.head(10).items())
        more = f" and {len(counts) - 10} more" if len(counts) > 10 else ""
        raise InputError(
            f"target `{name}` must have exactly two values (binary classification); it has {len(counts)}: "
            f"{shown}{more}"
        )
    values = [_plain(v) for v in counts.index]
    if positive is not None:
        chosen = [v for v in values if str(v) == positive.strip()]
        if not chosen:
            raise InputError(
                f"--positive {positive!r} is not a value of `{name}`: {values[0]!r} or {values[1]!r}"
            )
        pos = chosen[0]
    else:
        pos = values[1] if counts.iloc[0] != counts.iloc[1] else sorted(values, key=str)[1]
    neg = values[0] if values[1] == pos else values[1]
    return neg, pos


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones (YAML and pydantic take those), integral floats as ints."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def column_type(series: pd.Series) -> str:
    """integer | float | category | string | date, as ingest will read the column."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if pd.api.types.is_bool_dtype(series):
        return "category"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "float"  # an integer column with missing values reads as float: the data gate wants float
    present = series.dropna()
    distinct = present.nunique()
    return "category" if 0 < distinct <= CATEGORY_MAX and distinct < len(present) else "string"


def is_sensitive(name: str) -> bool:
    """A protected attribute by its name (sex, race, age_band, native-country, MaritalStatus, ...)."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).lower()
    tokens = re.split(r"[^a-z0-9]+", words)
    joined = {a + b for a, b in itertools.pairwise(tokens)}
    return bool(SENSITIVE_WORDS & ({*tokens} | joined))


def _unique(series: pd.Series) -> bool:
    return bool(series.notna().all()) and series.nunique() == len(series) > 1


def choose_time(frame: pd.DataFrame, target: str, wanted: str | None) -> str | None:
    """`--time` (checked), else the first date column; None when there is none (split: random)."""
    candidates = [c for c in frame.columns if c != target and looks_like_dates(frame[c])]
    if wanted is not None and wanted.lower() == "none":
        return None
    if wanted is not None:
        if wanted not in frame.columns:
            raise InputError(f"--time `{wanted}` is not a column: {', '.join(map(str, frame.columns))}")
        if wanted not in candidates:
            raise InputError(f"--time `{wanted}` does not hold dates; date columns: {candidates or 'none'}")
        return wanted
    return candidates[0] if candidates else None


def choose_id(frame: pd.DataFrame, taken: set[str]) -> str | None:
    """A column unique per row and named like an id (id, customer_id, key, uuid), else unique text."""
    unique = [c for c in frame.columns if c not in taken and _unique(frame[c])]
    named = [c for c in unique if ID_NAME.search(str(c))]
    text = [c for c in unique if column_type(frame[c]) == "string"]
    return (named or text or [None])[0]  # type: ignore[list-item]  # (None when there is no candidate)


def _fields(series: pd.Series, kind: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": kind, **null_rules(series)}
    present = series.dropna()
    if kind in NUMERIC_TYPES and not present.empty:
        fields["min"], fields["max"] = numeric_bounds(present, kind == "integer")
    elif kind == "date" and not present.empty:
        fields["min"], fields["max"] = date_bounds(present)
    elif kind == "category":
        fields["values"] = sorted(
            {_plain(v) if not isinstance(v, bool) else str(v) for v in present}, key=str
        )
    return fields


def _text_note(series: pd.Series) -> str:
    """Why a text feature is left to review: the model reads numbers and categories only."""
    if column_type(series) != "string":
        return ""
    if looks_like_dates(series):
        return "dates read as text: only the time column is parsed (not a model input)"
    return "free text: not a model input (only numbers and categories are)"


def _roles(
    frame: pd.DataFrame, target: str, time: str | None, use_sensitive: bool
) -> dict[str, tuple[str, str]]:
    """(role, the reason shown beside it) per column, in file order."""
    id_column = choose_id(frame, {target, *([time] if time else [])})
    named = ", named like an id" if id_column and ID_NAME.search(id_column) else ""
    picked = {
        target: ("target", "REVIEW: the target (--target)"),
        time: ("time", "REVIEW: time: the holdout is its most recent rows (split.strategy time)"),
        id_column: ("id", f"REVIEW: id: unique per row{named}"),
    }
    return {name: picked.get(name) or _role(name, frame[name], use_sensitive) for name in frame.columns}


def _role(name: str, series: pd.Series, use_sensitive: bool) -> tuple[str, str]:
    if series.isna().all():
        return "ignore", "always empty in the sample"
    if column_type(series) == "string" and _unique(series):
        return "ignore", "unique text per row (free text or another id): nothing to learn from"
    if not is_sensitive(name):
        return "feature", _text_note(series)
    use = "a model input too (train.use_sensitive_features)" if use_sensitive else "not a model input"
    numeric = column_type(series) in NUMERIC_TYPES
    binned = "; numeric: the gate groups by each value, bin it" if numeric else ""
    return "sensitive", f"REVIEW: sensitive by its name: fairness gate, {use}{binned}"


def draft_contract(
    frame: pd.DataFrame,
    target: str,
    positive: str | None = None,
    time: str | None = None,
    use_sensitive: bool = False,
) -> Draft:
    """The contract a person reviews, from the frame as ingest reads it (before the time column is parsed)."""
    if target not in frame.columns:
        raise InputError(
            f"target `{target}` is not a column; the columns are: {', '.join(map(str, frame.columns))}"
        )
    negative, positive_label = target_labels(frame[target], target, positive)
    time_column = choose_time(frame, target, time)
    draft = Draft(columns={}, rows=len(frame))
    for name, (role, note) in _roles(frame, target, time_column, use_sensitive).items():
        draft.columns[name] = _column(frame[name], role, (negative, positive_label))
        if note:
            draft.notes[name] = note
    draft.why = {
        "positive": "--positive" if positive is not None else "the minority class; --positive to choose",
        "time": ("--time" if time else "the first date column; --time to choose, --time none for none")
        if time_column
        else ("--time none" if time else "no date column"),
    }
    draft.rate = float((frame[target] == positive_label).mean())
    draft.table = table_rules(len(frame), draft.rate)
    if frame[target].isna().any():
        draft.notes[target] += f"; {int(frame[target].isna().sum())} rows have no target"
    return draft


def _column(series: pd.Series, role: str, labels: tuple[Any, Any]) -> dict[str, Any]:
    """One column's contract fields (the role last but one: a flow mapping reads type, role, rules)."""
    if role == "ignore":
        return {"role": "ignore"}
    kind = "date" if role == "time" else column_type(series)
    if role == "target":  # text labels are a category; 0/1 stays the integer (or float) ingest reads
        kind = kind if kind in NUMERIC_TYPES else "category"
        return {"type": kind, "role": role, **null_rules(series), "values": list(labels)}
    return {**_fields(series, kind), "role": role}


def table_rules(rows: int, rate: float) -> dict[str, Any]:
    pad = max(0.05, MARGIN * rate)
    return {
        "min_rows": max(1, rows // 10),
        "max_rows": max(10_000_000, rows * 100),
        "target_rate_min": max(0.0, math.floor((rate - pad) * 100) / 100),
        "target_rate_max": min(1.0, math.ceil((rate + pad) * 100) / 100),
        "max_single_feature_auc": 0.9,
    }


# ---------------------------------------------------------------- rendering YAML (pure)

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./+-]*$")
FIELD_ORDER = ("type", "role", "nullable", "max_null_fraction", "min", "max", "values", "pattern")


def scalar(value: Any) -> str:
    """One YAML flow scalar: plain when it reads back as the same string, else a JSON (double-quoted) one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    text = str(value)
    if _PLAIN.match(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any) -> str:
    """A value in YAML flow style: [a, b], {k: v}, or a scalar."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    return scalar(value)


def render_contract(draft: Draft, name: str, source: str) -> str:
    """data/contract.yaml: the schema line, the draft marker, one flow mapping per column in file order."""
    keys = {column: scalar(column) + ":" for column in draft.columns}
    width = max(map(len, keys.values())) + 1
    lines = [
        SCHEMA_LINE,
        DRAFT_MARKER,
        f"# The data contract of {source}, drafted by `mlops init` from {draft.rows} rows: the ONE",
        "# description of the dataset (data gate, model inputs, serving schema, drift). Ranges, null",
        "# fractions and the target rate are the sample's, widened by a margin; categories: the values seen.",
        "# Roles: id | time | feature | sensitive (fairness; not a model input unless",
        "# train.use_sensitive_features) | target (values: negative, positive) | ignore (read, dropped).",
        f"name: {scalar(name.replace('-', '_'))}",
        "version: 1",
        "",
        "table:",
        *_table_lines(draft),
        "",
        "columns:",
    ]
    for column, fields in draft.columns.items():
        body = ", ".join(f"{k}: {flow(fields[k])}" for k in FIELD_ORDER if k in fields)
        note = draft.notes.get(column)
        lines.append(f"  {keys[column]:<{width}}{{{body}}}" + (f"  # {note}" if note else ""))
    return "\n".join(lines) + "\n"


def _table_lines(draft: Draft) -> list[str]:
    t = draft.table
    rate = f"{draft.rate:.3f}"
    return [
        f"  min_rows: {t['min_rows']:<14}# REVIEW: 10 % of the sample: fewer rows is a broken extract",
        f"  max_rows: {t['max_rows']}",
        f"  target_rate_min: {scalar(t['target_rate_min']):<7}# REVIEW: the sample's positive rate is {rate}",
        f"  target_rate_max: {scalar(t['target_rate_max'])}",
        "  max_single_feature_auc: 0.9   # leakage ceiling: a feature separating the classes better alone is",
        "                                # usually the label in disguise (raise it with a reason)",
    ]


# ---------------------------------------------------------------- editing YAML text, comments kept (pure)

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[^\s#:'\"-][^:#]*?):(?P<rest>(\s.*)?)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block_end(lines: list[str], start: int) -> int:
    """The line after `start`'s block: the next non-blank line (comments too) indented no deeper."""
    indent, end = _indent(lines[start]), start + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def _find(lines: list[str], key: str) -> int | None:
    low, high = 0, len(lines)
    found = None
    for part in key.split("."):
        depth = min((_indent(line) for line in lines[low:high] if _content(line)), default=-1)
        found = next(
            (
                i
                for i in range(low, high)
                if _indent(lines[i]) == depth and (m := _KEY.match(lines[i])) and m["key"] == part
            ),
            None,
        )
        if found is None:
            return None
        low, high = found + 1, _block_end(lines, found)
    return found


def _split_comment(rest: str) -> tuple[str, str]:
    """A key line's value and its trailing comment (a `#` after a blank, outside quotes)."""
    quote = None
    for i, char in enumerate(rest):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or rest[i - 1] in " \t"):
            return rest[:i], rest[i:]
    return rest, ""


def set_key(text: str, key: str, value: str, comment: str | None = None) -> str:
    """`key` (dotted, block mappings) set to the flow-style `value`: its old value, nested lines included,
    goes; its line's comment stays (aligned as it was) unless `comment` replaces it; other lines stay."""
    lines = text.split("\n")
    at = _find(lines, key)
    if at is None:
        raise ParamsError(f"no `{key}` key to set")
    match = _KEY.match(lines[at])
    assert match is not None
    old_value, old_comment = _split_comment(match["rest"])
    head = f"{match['indent']}{match['key']}: {value}"
    if comment is not None:
        head += f"  # {comment}"
    elif old_comment:
        column = len(match["indent"]) + len(match["key"]) + 1 + len(old_value)
        head = f"{head:<{column}}" if len(head) < column else head + "  "
        head += old_comment
    return "\n".join([*lines[:at], head, *lines[_block_end(lines, at) :]])


def set_keys(text: str, edits: dict[str, tuple[Any, str | None]]) -> str:
    for key, (value, comment) in edits.items():
        text = set_key(text, key, flow(value), comment)
    return text


# ---------------------------------------------------------------- params and deploy records (pure)


def project_name(stem: str) -> str:
    """A DNS label from a file name: `Adult Income.v2` -> `adult-income-v2`."""
    name = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    name = name if name[:1].isalpha() else f"p-{name}".rstrip("-")
    return name[:63].rstrip("-") or "project"


def params_edits(
    contract: Contract,
    detected: Detected,
    name: str,
    source: str,
    floors: dict[str, float],
    why: str,
    use_sensitive: bool,
) -> dict[str, tuple[Any, str | None]]:
    """Every params.yaml key init sets (dotted key -> (value, new comment or None to keep the old one))."""
    invariance = [c for c in (contract.id_column, contract.time_column) if c]
    if not use_sensitive:
        invariance += contract.sensitive
    return {
        "project.name": (name, None),
        "ingest.source": (source, None),
        "ingest.read.header": (detected.header, None),
        "ingest.read.delimiter": (detected.delimiter, None),
        "ingest.read.encoding": (detected.encoding, None),
        "ingest.read.na_values": (list(detected.na_values), None),
        "ingest.read.strip": (detected.strip, None),
        "split.strategy": ("time" if contract.time_column else "random", None),
        "train.monotonic": ({}, None),
        "gates.performance.min": (floors, why),
        "gates.behaviour.invariance": (invariance, None),
        "gates.behaviour.directional": ([], None),
        "gates.fairness.attributes": ({}, None),
    }


def reset_deploy_record(text: str) -> str | None:
    """The record with model / challenger / image set to null; None when it records no model."""
    record = yaml.safe_load(text) or {}
    if record.get("model") is None and record.get("challenger") is None:
        return None
    return set_keys(text, {k: (None, None) for k in ("model", "challenger", "image") if k in record})


def is_replaceable(contract_text: str) -> bool:
    """An init draft or the shipped example: init may overwrite it without --force."""
    head = contract_text.splitlines()[:10]
    return DRAFT_MARKER in head or EXAMPLE_MARKER in head


# ---------------------------------------------------------------- baseline and leakage (pure computations)


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(rows, random_state=seed) if len(frame) > rows else frame


def baseline(
    frame: pd.DataFrame, contract: Contract, threshold: float, use_sensitive: bool, seed: int = 42
) -> dict[str, float] | None:
    """Holdout roc_auc, pr_auc and recall at `threshold` of a logistic regression (one-hot categories,
    imputed and scaled numbers) on a stratified quarter of the sample; None when there is nothing to fit."""
    from sklearn import metrics as skm
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlops.modeling import targets
    from mlops.threads import one_native_thread

    features = contract.features(include_sensitive=use_sensitive)
    numeric, categorical = contract.numeric(features), contract.categorical(features)
    data = _sample(frame, BASELINE_ROWS, seed)
    y = targets(data, contract)
    if not numeric + categorical or np.bincount(y, minlength=2).min() < 8:
        return None
    x = data[numeric + categorical].astype(dict.fromkeys(categorical, object))
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    encode = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()),
                numeric,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=1000))
    with one_native_thread():
        proba = model.fit(x_train, y_train).predict_proba(x_test)[:, 1]
    return {
        "roc_auc": round(float(skm.roc_auc_score(y_test, proba)), 4),
        "pr_auc": round(float(skm.average_precision_score(y_test, proba)), 4),
        "recall": round(float(skm.recall_score(y_test, proba >= threshold, zero_division=0)), 4),
    }


def floors(base: dict[str, float] | None) -> dict[str, float]:
    """Each floor FLOOR_MARGIN below the baseline (rounded down), roc_auc never below MIN_ROC_AUC_FLOOR."""
    if base is None:
        return {"roc_auc": MIN_ROC_AUC_FLOOR, "pr_auc": 0.0, "recall": 0.0}
    out = {k: max(0.0, math.floor((v - FLOOR_MARGIN) * 100) / 100) for k, v in base.items()}
    out["roc_auc"] = max(MIN_ROC_AUC_FLOOR, out["roc_auc"])
    return out


def single_feature_aucs(frame: pd.DataFrame, contract: Contract, seed: int = 42) -> dict[str, float]:
    """Each numeric / category input alone as a score (numbers as they are, a category as its positive
    rate): ROC AUC, the better of the two directions."""
    from sklearn.metrics import roc_auc_score

    from mlops.modeling import targets

    data = _sample(frame, 50_000, seed)
    y = targets(data, contract)
    if len(set(y)) < 2:
        return {}
    aucs: dict[str, float] = {}
    inputs = contract.features(include_sensitive=True)
    for name in contract.numeric(inputs) + contract.categorical(inputs):
        column = data[name]
        if name in contract.categorical(inputs):
            keys = column.astype("string").fillna("(missing)")
            score = pd.Series(y, index=data.index).groupby(keys).transform("mean")
        else:
            score = pd.to_numeric(column, errors="coerce")
            if score.isna().all():
                continue
            score = score.fillna(score.median())
        auc = float(roc_auc_score(y, score))
        aucs[name] = round(max(auc, 1 - auc), 4)
    return aucs


# ---------------------------------------------------------------- the command (I/O edge)


def _read(data: Path, names: tuple[str, ...] | None) -> tuple[Detected, pd.DataFrame]:
    """The read options, and the frame read with them as ingest will (number columns are re-read as
    numbers once stripped: ingest does the same for the contract's number columns)."""
    if data.suffix.lower() == ".parquet":
        raw = read_table(data)
        detected = detect_frame(raw)
        return detected, read_table(data, options=detected.options()) if detected.strip else raw
    detected = detect_csv(data, names)
    return detected, read_table(data, options=detected.options(numeric=detected.names))


def extract_name(data: Path) -> str:
    """The file's name under data/extract/: ingest reads .csv and .parquet, so `adult.data` (text, as the
    UCI files are) becomes `adult.csv`, and a Parquet file by any name `<stem>.parquet`."""
    if data.suffix.lower() in (".csv", ".parquet"):
        return data.name
    with data.open("rb") as fh:
        return data.stem + (".parquet" if fh.read(4) == b"PAR1" else ".csv")


def _placement(data: Path, extracts: Path, force: bool) -> Path:
    """Where the file goes (data/extract/<name>), refused when a different file is already there."""
    if data.resolve().is_relative_to(extracts.resolve()) and data.name == extract_name(data):
        return data
    dest = extracts / extract_name(data)
    if dest.exists() and not force and not filecmp.cmp(data, dest, shallow=False):
        raise InputError(f"{dest} exists and differs from {data}: pass --force to replace it")
    return dest


@contextmanager
def _readable(data: Path, dest: Path) -> Iterator[Path]:
    """`data` under a name read_table reads (a temporary copy when its suffix is not .csv / .parquet), so
    nothing is written to the project before the draft succeeded."""
    if data.suffix.lower() == dest.suffix:
        yield data
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / dest.name
        shutil.copyfile(data, copy)
        yield copy


def _check_inputs(data: Path, target: str, contract: Path, force: bool) -> None:
    if not str(data) or str(data) == ".":
        raise InputError("no data file given: make init DATA=<file.csv|file.parquet> TARGET=<column>")
    if not target:
        raise InputError("no target column given: make init DATA=<file> TARGET=<the column to predict>")
    if not data.is_file():
        raise InputError(f"input file not found: {data}")
    if contract.exists() and not force and not is_replaceable(contract.read_text()):
        raise InputError(
            f"{contract} is a reviewed contract (neither the shipped example nor an init draft): "
            f"pass --force to replace it"
        )


def _track(dest: Path, no_dvc: bool) -> int:
    from mlops.ci.shell import tool

    if no_dvc:
        print(f"init: --no-dvc: track {dest} yourself (`dvc add {dest}`), never with git")
        return 0
    if not Path(".dvc").is_dir():
        print(f"init: not a DVC repository (no .dvc/): {dest} is not tracked (`dvc init`, `dvc add {dest}`)")
        return 0
    code = subprocess.run([tool("dvc"), "add", "-q", str(dest)], check=False).returncode
    print(
        f"init: dvc add {dest}: " + ("done (commit its .dvc file)" if code == 0 else f"failed (exit {code})")
    )
    return code


def run(
    params: Path,
    contract: Path,
    extracts: Path,
    staging: Path,
    production: Path,
    data: Path,
    target: str,
    positive: str | None = None,
    time: str | None = None,
    names: str | None = None,
    name: str | None = None,
    no_dvc: bool = False,
    force: bool = False,
) -> int:
    """Draft the contract, reset params and deploy records for `data`, place and track the file, report."""
    from mlops.consistency import check
    from mlops.params import load_params

    _check_inputs(data, target, contract, force)
    settings = load_params(params)
    project = name or project_name(data.stem)
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", project):
        raise ParamsError(f"--name {project!r} is not a DNS label (lowercase letters, digits, '-')")
    dest = _placement(data, extracts, force)
    given = tuple(n.strip() for n in names.split(",")) if names else None
    with _readable(data, dest) as readable:
        found = _draft(readable, given, target, positive, time, settings, project)
    if dest != data:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data, dest)
    write_text(found.text, contract)
    edits = params_edits(
        found.contract, found.detected, project, str(dest), found.floors, found.why, found.use_sensitive
    )
    write_text(set_keys(params.read_text(), edits), params)
    check(load_params(params), found.contract, params)
    reset = [p for p in (staging, production) if p.exists() and _reset(p)]
    print(report(found, reset, settings.project.threshold))
    return _track(dest, no_dvc)


@dataclass(frozen=True)
class Found:
    """Everything init drafted and measured, before anything is written."""

    draft: Draft
    text: str  # data/contract.yaml
    contract: Contract
    detected: Detected
    baseline: dict[str, float] | None
    floors: dict[str, float]
    aucs: dict[str, float]
    use_sensitive: bool

    @property
    def why(self) -> str:
        shown = _shown(self.baseline)
        return (
            f"mlops init: baseline - {FLOOR_MARGIN} ({shown})" if self.baseline else "mlops init: no baseline"
        )


def _draft(
    data: Path,
    names: tuple[str, ...] | None,
    target: str,
    positive: str | None,
    time: str | None,
    settings: Params,
    project: str,
) -> Found:
    """Detect, draft, then re-read the file exactly as ingest will with the draft, and measure on that."""
    from mlops.params import IngestParams, ReadParams
    from mlops.stages.ingest import read_options

    detected, frame = _read(data, names)
    use_sensitive = settings.train.use_sensitive_features
    draft = draft_contract(frame, target, positive, time, use_sensitive)
    text = render_contract(draft, project, data.name)
    contract = Contract.model_validate(yaml.safe_load(text))
    read = ReadParams(header=detected.header, delimiter=detected.delimiter, encoding=detected.encoding,
                      na_values=list(detected.na_values), strip=detected.strip)  # fmt: skip
    options = read_options(IngestParams(source=str(data), read=read), contract)
    ingested = read_table(data, contract.time_column, options).drop(columns=contract.ignored)
    base = baseline(ingested, contract, settings.project.threshold, use_sensitive)
    aucs = single_feature_aucs(ingested, contract)
    return Found(draft, text, contract, detected, base, floors(base), aucs, use_sensitive)


def _reset(path: Path) -> bool:
    text = reset_deploy_record(path.read_text())
    if text is not None:
        write_text(text, path)
    return text is not None


def _shown(metrics: dict[str, float] | None) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()) if metrics else "none"


def report(found: Found, reset: list[Path], threshold: float) -> str:
    """What a person must review, and what to run next."""
    draft, contract, detected, base = found.draft, found.contract, found.detected, found.baseline
    target = contract.target
    lines = [
        f"init: drafted {len(contract.columns)} columns from {draft.rows} rows; review (marked REVIEW):",
        f"  read options: header {detected.header}, delimiter {detected.delimiter!r}, encoding "
        f"{detected.encoding}, na_values {list(detected.na_values)}, strip {detected.strip}",
        f"  target: {target}, positive label {contract.positive_label!r} (negative {contract.labels[0]!r}), "
        f"rate {draft.rate:.3f} ({draft.why['positive']})",
        f"  id: {contract.id_column or 'none (rows are keyed by their content)'}"
        + (f" ({draft.notes[contract.id_column].removeprefix('REVIEW: ')})" if contract.id_column else ""),
        f"  time: {contract.time_column or 'none'} ({draft.why['time']}): split.strategy "
        f"{'time' if contract.time_column else 'random'}",
        f"  sensitive (suggested by name: fairness gate, behaviour invariance): "
        f"{', '.join(contract.sensitive) or 'none'}",
    ]
    text = [n for n, c in contract.data_columns.items() if c.type == "string" and c.role != "id"]
    if text:
        lines.append(f"  text columns (not model inputs): {', '.join(text)}")
    lines += [f"  ignored: {n} ({draft.notes[n]})" for n in contract.ignored]
    if base:
        lines.append(f"  baseline (logistic regression, recall at {threshold}): {_shown(base)}")
    lines.append(f"  performance floors (gates.performance.min): {_shown(found.floors)}")
    if base is None or base["roc_auc"] < found.floors["roc_auc"]:
        lines.append(
            "  WARNING: the baseline does not reach the roc_auc floor: do the inputs predict the target?"
        )
    ceiling = contract.table.max_single_feature_auc
    lines += [
        f"  LIKELY LEAK: column {n} alone reaches ROC AUC {a:.2f} (> max_single_feature_auc {ceiling})"
        for n, a in sorted(found.aucs.items(), key=lambda kv: -kv[1])
        if a > ceiling
    ]
    lines += [f"  deploy record reset (its model cannot score this data): {p}" for p in reset]
    lines.append(
        "next: review data/contract.yaml (then delete its draft line) and params.yaml, then `make pipeline`"
    )
    return "\n".join(lines)
