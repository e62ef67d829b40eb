"""Stage `split`: train / holdout split of the validated raw data, with each part's rows and positive rate.

A holdout whose positive rate is far from train's (split.max_target_rate_gap) fails the stage before either
part is written: every later metric and gate would judge the model on a label mix it never learnt, which
with a time split is most often recent outcomes not known yet (censored labels).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlops.consistency import load_checked
from mlops.io import read_json, read_table, write_json, write_parquet
from mlops.splitting import rate_gap_problem, split_frame, split_report
from mlops.validation import require_passed


def run(
    params: Path,
    contract: Path,
    data: Path,
    validation: Path,
    train_out: Path,
    test_out: Path,
    report: Path | None = None,
) -> int:
    """`report` (optional): where the parts' rows and rates go as JSON, written whether the check passes or
    not (it is the evidence); the two Parquet parts are written only when it passes. `validation`: the
    data gate's report on `data`; a failed one stops the stage (exit 2) before anything is read."""
    config, data_contract = load_checked(params, contract)
    require_passed(read_json(validation), str(validation))
    section = config.split
    df = read_table(data)
    train, test = split_frame(
        df,
        section.strategy,
        section.test_fraction,
        section.seed,
        data_contract.time_column,
        data_contract.target,
    )
    summary = split_report(train, test, section.strategy, data_contract.target, data_contract.positive_label)
    print(summary.line())
    problem = rate_gap_problem(summary, section.max_target_rate_gap)
    if report is not None:
        limit = {"max_target_rate_gap": section.max_target_rate_gap, "passed": problem is None}
        write_json({**summary.as_dict(), **limit}, report)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    write_parquet(train, train_out)
    write_parquet(test, test_out)
    return 0
