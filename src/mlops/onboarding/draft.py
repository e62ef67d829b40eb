"""The contract draft: types, bounds with a margin, nullability, roles (target, time, id, sensitive by
name, ignore), the table rules, and data/contract.yaml rendered from it (one flow mapping per column).

Pure: the frame as ingest reads it in, a `Draft` and its YAML text out.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops.contract import NUMERIC_TYPES
from mlops.io import InputError
from mlops.onboarding.edit import flow, scalar

DRAFT_MARKER = "# mlops init draft: review every line marked REVIEW, then delete this line."
EXAMPLE_MARKER = "# mlops example contract: make init replaces this file."
SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/contract.schema.json"
CATEGORY_MAX = 30  # a text column with at most this many distinct values (and repeats) is a category
MARGIN = 0.5  # ranges widen by this share of the observed span on each side (null fractions, rates too)
ID_NAME = re.compile(r"(^|_)(id|key|uuid|guid)$|^(id|key|uuid|guid)(_|$)|[a-z](Id|ID|Key|UUID)$")
DATE_TEXT = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
SENSITIVE_WORDS = frozenset(
    {"sex", "gender", "race", "ethnicity", "ethnic", "age", "ageband", "agegroup", "religion", "religious"}
    | {"marital", "nationality", "citizenship", "citizen", "disability", "disabled", "pregnancy", "pregnant"}
    | {"orientation", "nativecountry"}
)


@dataclass
class Draft:
    """The drafted contract: fields per column (file order), the comment each carries, the table rules."""

    columns: dict[str, dict[str, Any]]
    notes: dict[str, str] = field(default_factory=dict)
    table: dict[str, Any] = field(default_factory=dict)
    rate: float = 0.0
    rows: int = 0
    why: dict[str, str] = field(default_factory=dict)  # why the positive label and the time column


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
        fields["max_future_days"] = 1  # no event from the future (one day of clock and timezone slack)
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
    if role == "id":  # no range: new ids grow past the sample's
        return {"type": kind, "role": role, **null_rules(series)}
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


# ---------------------------------------------------------------- rendering the YAML

FIELD_ORDER = ("type", "role", "nullable", "max_null_fraction", "min", "max", "values", "pattern")


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


def is_replaceable(contract_text: str) -> bool:
    """An init draft or the shipped example: init may overwrite it without --force."""
    head = contract_text.splitlines()[:10]
    return DRAFT_MARKER in head or EXAMPLE_MARKER in head
