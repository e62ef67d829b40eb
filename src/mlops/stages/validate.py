"""Stage `validate`: the data gate. Runs the contract's expectations with GX; any failure stops the pipeline.

The reports are written whether the data passes or not, so the reason is on disk for people and for the
PR report; the exit code is what stops `dvc repro` before `split`.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from mlops.adapters.gx import run_expectations
from mlops.consistency import load_checked
from mlops.io import read_table, write_json, write_text
from mlops.validation import (
    expectations_for,
    future_dates,
    markdown,
    offending_types,
    positive_rate,
    summary,
)


def run(params: Path, contract: Path, data: Path, report_json: Path, report_md: Path) -> int:
    _, data_contract = load_checked(params, contract)
    df = read_table(data, time_column=data_contract.time_column)
    results = run_expectations(df, expectations_for(data_contract, list(df.columns)))
    results = offending_types(results, df, data_contract)
    if (rate := positive_rate(df, data_contract)) is not None:
        results.append(rate)
    results += future_dates(df, data_contract, dt.datetime.now(dt.UTC).date())
    report = summary(results, rows=len(df), columns=[str(c) for c in df.columns])
    write_json(report, report_json)
    write_text(markdown(report), report_md)
    if not report["success"]:
        print(
            f"validate: FAILED {report['failed']} of {report['evaluated']} expectations on {data}:",
            file=sys.stderr,
        )
        for message in report["failures"]:
            print(f"  - {message}", file=sys.stderr)
        return 1
    print(f"validate: passed {report['evaluated']} expectations on {report['rows']} rows -> {report_json}")
    return 0
