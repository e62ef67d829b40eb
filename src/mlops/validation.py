"""Pure rules of the data gate: the expectations a contract implies, and readable failure messages.

Nothing here imports Great Expectations: `adapters/gx.py` runs these specs and returns `CheckResult`s,
so the rules and the messages are testable in milliseconds and survive a GX version bump.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mlops.contract import Column, Contract

# Dtype names accepted for each contract type. Float columns accept integer dtypes too: a float column
# without decimals (or read from CSV) is still valid data.
_INT_DTYPES = ["int64", "int32", "int16", "int8", "Int64", "Int32", "Int16", "Int8"]
TYPE_LISTS: dict[str, list[str]] = {
    "integer": _INT_DTYPES,
    "float": ["float64", "float32", "Float64", "Float32", *_INT_DTYPES],
    # object columns are checked value by value by GX: every value must be a Python str.
    "category": ["str", "string", "StringDtype"],
    "string": ["str", "string", "StringDtype"],
    "date": ["datetime64", "datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
}


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation to run: its GX snake_case type, its arguments, and why it exists."""

    type: str
    kwargs: dict[str, Any]
    reason: str

    @property
    def column(self) -> str | None:
        col = self.kwargs.get("column")
        return str(col) if col is not None else None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation, with what was observed."""

    spec: ExpectationSpec
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def message(self) -> str:
        return describe(self)


def _column_specs(name: str, col: Column, contract: Contract) -> list[ExpectationSpec]:
    assert col.type is not None  # only `ignore` columns have none, and they never reach the data gate
    specs = [
        ExpectationSpec(
            "expect_column_values_to_be_in_type_list",
            {"column": name, "type_list": TYPE_LISTS[col.type]},
            f"`{name}` must hold {col.type} values",
        )
    ]
    if not col.nullable:
        specs.append(
            ExpectationSpec("expect_column_values_to_not_be_null", {"column": name}, "no missing values")
        )
    elif col.max_null_fraction is not None:
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_not_be_null",
                {"column": name, "mostly": round(1.0 - col.max_null_fraction, 6)},
                f"at most {col.max_null_fraction:.0%} missing values",
            )
        )
    if col.min is not None or col.max is not None:
        bounds = {"min_value": _bound(col.min), "max_value": _bound(col.max)}
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_be_between", {"column": name, **bounds}, "values in range"
            )
        )
    if col.values is not None:
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_be_in_set",
                {"column": name, "value_set": list(col.values)},
                "only known categories" if col.type == "category" else "only the contract's values",
            )
        )
    if col.pattern is not None:
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_match_regex",
                {"column": name, "regex": col.pattern},
                "well-formed values",
            )
        )
    if name == contract.id_column:
        specs.append(ExpectationSpec("expect_column_values_to_be_unique", {"column": name}, "one row per id"))
    if name == contract.target and _mean_is_rate(contract):
        specs.append(
            ExpectationSpec(
                "expect_column_mean_to_be_between",
                {
                    "column": name,
                    "min_value": contract.table.target_rate_min,
                    "max_value": contract.table.target_rate_max,
                },
                "target rate within the contract's bounds",
            )
        )
    return specs


def future_dates(df: Any, contract: Contract, today: dt.date) -> list[CheckResult]:
    """Date columns with `max_future_days`: no value later than `today` + that many days (a bound relative
    to the run, which a fixed `max` cannot express: event dates from the future mean a clock or a join is
    wrong). The rule is shown relative, so the report is the same every day the data is."""
    import pandas as pd

    out = []
    for name, col in contract.data_columns.items():
        if col.type != "date" or col.max_future_days is None or name not in df.columns:
            continue
        limit = pd.Timestamp(today + dt.timedelta(days=col.max_future_days))
        values = pd.to_datetime(df[name], errors="coerce")
        late = values[values > limit]
        spec = ExpectationSpec(
            "expect_column_values_to_be_at_most_days_ahead",
            {"column": name, "max_future_days": col.max_future_days},
            f"no `{name}` later than the run's date + {col.max_future_days} days",
        )
        examples = sorted({str(v.date()) for v in late})[:5]
        out.append(
            CheckResult(
                spec,
                late.empty,
                observed=str(values.max().date()) if values.notna().any() else None,
                unexpected_count=len(late),
                unexpected_percent=round(100.0 * len(late) / max(int(values.notna().sum()), 1), 6),
                examples=examples,
            )
        )
    return out


def offending_types(results: list[CheckResult], df: Any, contract: Contract) -> list[CheckResult]:
    """Failed type checks with the values that are of the wrong type as examples. GX judges an object
    column as a whole, so for a number column with one "x" in it every value is "unexpected" and its
    examples are the first, good ones; the reader needs the bad ones."""
    import dataclasses
    import numbers

    out = []
    for result in results:
        name = result.spec.column
        type_check = result.spec.type == "expect_column_values_to_be_in_type_list"
        if result.success or not type_check or name is None or name not in df:
            out.append(result)
            continue
        kind = contract.columns[name].type
        values = df[name].dropna()
        if kind in ("integer", "float"):
            bad = values[[not isinstance(v, numbers.Number) or isinstance(v, bool) for v in values]]
        elif kind in ("category", "string"):
            bad = values[[not isinstance(v, str) for v in values]]
        else:
            out.append(result)
            continue
        if bad.empty:  # a wrong dtype, not wrong values (e.g. floats in an integer column): as GX said
            out.append(result)
            continue
        shown = list(dict.fromkeys(bad))[:5]  # the list's repr quotes text: 'x' vs 3
        percent = round(100.0 * len(bad) / max(len(values), 1), 6)
        out.append(
            dataclasses.replace(result, unexpected_count=len(bad), unexpected_percent=percent, examples=shown)
        )
    return out


def _mean_is_rate(contract: Contract) -> bool:
    """A 0/1 target whose positive label is 1: its column mean is the positive rate (GX checks it)."""
    return contract.labels == (0, 1)


def positive_rate(df: Any, contract: Contract) -> CheckResult | None:
    """The target-rate bound for any other target (text, e.g. "<=50K" / ">50K", or a positive label 0):
    GX's column mean is not the positive rate there, so this one check is computed here, in the same
    result shape. None when the column mean covers it, or the column is missing (reported elsewhere)."""
    target = contract.target
    if _mean_is_rate(contract) or target not in df.columns:
        return None
    low, high = contract.table.target_rate_min, contract.table.target_rate_max
    spec = ExpectationSpec(
        "expect_positive_rate_to_be_between",
        {"column": target, "min_value": low, "max_value": high},
        f"share of {target} = {contract.positive_label!r} within the contract's bounds",
    )
    rate = float((df[target] == contract.positive_label).mean()) if len(df) else 0.0
    return CheckResult(spec, low <= rate <= high, observed=round(rate, 6))


def _bound(value: float | dt.date | None) -> object:
    # GX compares datetime columns only with datetime bounds (ISO strings or `date`s silently fail).
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # shown as `min_value=0`, not `0.0`, in messages
    return value


def expectations_for(contract: Contract, present_columns: list[str]) -> list[ExpectationSpec]:
    """The full suite for a frame with `present_columns`.

    Column-level expectations are only built for columns that exist: a missing column is reported once,
    by the table-level column-set expectation, instead of as a dozen crashed checks.
    """
    specs = [
        ExpectationSpec(
            "expect_table_columns_to_match_set",
            {"column_set": list(contract.data_columns), "exact_match": True},
            "exactly the contract's columns",
        ),
        ExpectationSpec(
            "expect_table_row_count_to_be_between",
            {"min_value": contract.table.min_rows, "max_value": contract.table.max_rows},
            "row count within the contract's bounds",
        ),
    ]
    for name, col in contract.data_columns.items():
        if name in present_columns:
            specs.extend(_column_specs(name, col, contract))
    return specs


def _rule(spec: ExpectationSpec) -> str:
    shown = {k: v for k, v in spec.kwargs.items() if k not in ("column", "column_set", "exact_match")}
    return ", ".join(f"{k}={v.date() if isinstance(v, dt.datetime) else v}" for k, v in shown.items())


def describe(result: CheckResult) -> str:
    """One line naming the expectation, the column, the rule and what was observed."""
    spec = result.spec
    where = f" on column `{spec.column}`" if spec.column else ""
    rule = _rule(spec)
    head = f"{spec.type}{where}" + (f" ({rule})" if rule else "")
    if result.success:
        return f"passed: {head}"
    if result.error:
        return f"FAILED: {head}: could not be evaluated: {result.error}"
    mismatched = result.details.get("mismatched") if result.details else None
    if mismatched:
        parts = [f"{kind} columns {sorted(cols)}" for kind, cols in sorted(mismatched.items()) if cols]
        return f"FAILED: {head}: " + "; ".join(parts)
    if result.unexpected_count is not None:
        # GX counts a null check's misses among all rows, every other check's among the non-null values.
        base = "rows" if spec.type == "expect_column_values_to_not_be_null" else "non-null values"
        pct = f" ({result.unexpected_percent:.2f}% of {base})" if result.unexpected_percent else ""
        return f"FAILED: {head}: {result.unexpected_count} unexpected values{pct}, e.g. {result.examples[:5]}"
    if result.observed is None:
        return f"FAILED: {head}: could not be evaluated (check the column's type)"
    return f"FAILED: {head}: observed {result.observed}"


def summary(results: list[CheckResult], rows: int, columns: list[str]) -> dict[str, Any]:
    """The JSON-ready validation summary written to reports/validation.json (deterministic: no times)."""
    failed = [r for r in results if not r.success]
    return {
        "success": not failed,
        "rows": rows,
        "columns": columns,
        "evaluated": len(results),
        "failed": len(failed),
        "failures": [r.message for r in failed],
        "checks": [
            {
                "expectation": r.spec.type,
                "column": r.spec.column,
                "rule": _rule(r.spec),
                "reason": r.spec.reason,
                "success": r.success,
                "observed": r.observed,
                "unexpected_count": r.unexpected_count,
                "unexpected_percent": r.unexpected_percent,
                "examples": r.examples[:5],
                "error": r.error,
            }
            for r in results
        ],
    }


def markdown(report: dict[str, Any]) -> str:
    """A short human summary (reports/validation.md): verdict, then one line per failed check."""
    verdict = "PASSED" if report["success"] else "FAILED"
    lines = [
        f"## Data validation: {verdict}",
        "",
        f"{report['rows']} rows, {len(report['columns'])} columns; "
        f"{report['evaluated'] - report['failed']}/{report['evaluated']} expectations met.",
    ]
    if report["failures"]:
        lines += ["", "| # | failed check |", "|---|---|"]
        lines += [f"| {i} | {_cell(msg)} |" for i, msg in enumerate(report["failures"], 1)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Escape a string for a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def require_passed(report: dict[str, Any], path: str) -> None:
    """Refuse to go on from data the gate failed (`dvc repro -s split` runs split alone, whatever
    `validate` said): InputError naming the report and its first failures."""
    from mlops.io import InputError

    if report.get("success") is True:
        return
    failures = report.get("failures") or ["the report does not say the data passed"]
    shown = "; ".join(str(f) for f in failures[:3])
    more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
    raise InputError(f"{path}: the data failed validation, so it is not split: {shown}{more}")
