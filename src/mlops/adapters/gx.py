"""Great Expectations (GX Core 1.x) adapter: runs `ExpectationSpec`s on a DataFrame, returns `CheckResult`s.

The only module that imports great_expectations. Uses an ephemeral context: no files written, no
sockets opened, nothing left behind in the repository.

The contract's text columns reach GX as pandas' Arrow-backed string dtype when every value in them is a
`str` (`as_gx_frame`). GX checks the type of an object column value by value in Python, and each of its column
checks copies the whole frame it was given; on 1,000,000 rows the suite took ~17 s of CPU with object
columns and ~9 s with Arrow strings (same outcome for every expectation; benchmarks/pipeline.py). A
column holding anything but text, and any column the contract does not type as text, stays as it was read,
so GX judges it value by value and reports the bad values exactly as before.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pandas as pd

from mlops.validation import CheckResult, ExpectationSpec

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _class_name(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _plain(value: Any) -> Any:
    """JSON-safe, deterministic rendering of what GX observed (numpy scalars, timestamps, NaN)."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def as_gx_frame(df: pd.DataFrame, text_columns: set[str]) -> pd.DataFrame:
    """`df` with each of `text_columns` (those the contract types as text) whose non-null values are all
    `str` as an Arrow-backed string column (null stays null); every other column as it is. Call under
    `_ARROW_STRINGS`, where pandas' `string` dtype, the one GX's type list compares with, is the
    Arrow-backed one (a column already of pandas' `string` dtype is moved to that storage too). Other
    columns (a date column left as text, say) keep the path GX reports value by value."""
    from pandas.api.types import infer_dtype

    if not df.columns.is_unique:  # duplicated names: GX's column-set expectation reports them as they are
        return df

    def is_text(column: pd.Series) -> bool:
        if isinstance(column.dtype, pd.StringDtype):
            return True
        return column.dtype == object and infer_dtype(column, skipna=True) == "string"

    text = [c for c in df.columns if c in text_columns and is_text(df[c])]
    return df.astype(dict.fromkeys(text, "string")) if text else df


def _text_columns(specs: list[ExpectationSpec]) -> set[str]:
    """Columns whose type check accepts pandas' string dtype: the contract's text columns."""
    return {
        str(spec.column)
        for spec in specs
        if spec.type == "expect_column_values_to_be_in_type_list"
        and "StringDtype" in spec.kwargs["type_list"]
    }


# GX builds `pd.StringDtype()` for the type list's "StringDtype": with this storage it equals the columns'.
_ARROW_STRINGS = ("mode.string_storage", "pyarrow")


def run_expectations(df: pd.DataFrame, specs: list[ExpectationSpec]) -> list[CheckResult]:
    """Validate `df` against `specs` with GX and translate each result."""
    with pd.option_context(*_ARROW_STRINGS):
        return _run(as_gx_frame(df, _text_columns(specs)), specs)


def _run(df: pd.DataFrame, specs: list[ExpectationSpec]) -> list[CheckResult]:
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("contract")
        .add_dataframe_asset("dataset")
        .add_batch_definition_whole_dataframe("whole")
    )
    # One suite with every expectation at once: add_expectation() re-saves the suite on each call
    # (measured: 0.54 -> 0.27 s per validate run with 46 expectations, same results). One suite per
    # column on that column alone was measured too: 1.2 s less at 1,000,000 rows, 0.2 s more at 50,000
    # (GX fingerprints every frame it is given), so not taken.
    expectations = [getattr(gxe, _class_name(spec.type))(**spec.kwargs) for spec in specs]
    suite = context.suites.add(gx.ExpectationSuite(name="contract", expectations=expectations))
    ids = [expectation.id for expectation in suite.expectations]
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="gate", data=batch, suite=suite)
    )
    outcome = definition.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
    # GX does not return results in suite order: pair them back with our specs by expectation id.
    by_id = {res.expectation_config.id: res for res in outcome.results if res.expectation_config}
    return [_translate(spec, by_id[eid]) for spec, eid in zip(specs, ids, strict=True)]


def _translate(spec: ExpectationSpec, res: Any) -> CheckResult:
    result = res.result or {}
    info = res.exception_info or {}
    error = None
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "exception while evaluating").splitlines()[0]
    return CheckResult(
        spec=spec,
        success=bool(res.success),
        observed=_plain(result.get("observed_value")),
        unexpected_count=_plain(result.get("unexpected_count")),
        unexpected_percent=_plain(result.get("unexpected_percent")),
        examples=_plain(result.get("partial_unexpected_list") or []),
        details=_plain(result.get("details") or {}),
        error=error,
    )
