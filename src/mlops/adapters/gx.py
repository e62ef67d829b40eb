"""Great Expectations (GX Core 1.x) adapter: runs `ExpectationSpec`s on a DataFrame, returns `CheckResult`s.

The only module that imports great_expectations. Uses an ephemeral context: no files written, no
sockets opened, nothing left behind in the repository.
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
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def run_expectations(df: pd.DataFrame, specs: list[ExpectationSpec]) -> list[CheckResult]:
    """Validate `df` against `specs` with GX and translate each result."""
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
    # (measured: 0.54 -> 0.27 s per validate run with 46 expectations, same results).
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
