"""Stage `split`: train / holdout split of the validated raw data."""

from __future__ import annotations

from pathlib import Path

from mlops.contract import load_contract
from mlops.io import read_table, write_parquet
from mlops.params import load_params
from mlops.splitting import split_frame


def run(params: Path, contract: Path, data: Path, train_out: Path, test_out: Path) -> int:
    section = load_params(params).split
    data_contract = load_contract(contract)
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
