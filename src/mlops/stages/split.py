"""Stage `split`: train / holdout split of the validated raw data."""

from __future__ import annotations

from pathlib import Path

from mlops.consistency import load_checked
from mlops.io import read_table, write_parquet
from mlops.splitting import split_frame


def run(params: Path, contract: Path, data: Path, train_out: Path, test_out: Path) -> int:
    config, data_contract = load_checked(params, contract)
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
    write_parquet(train, train_out)
    write_parquet(test, test_out)
    print(f"split ({section.strategy}): {len(train)} train rows, {len(test)} holdout rows")
    return 0
