"""Stage `split`: train / holdout split of the validated raw data."""

from __future__ import annotations

from pathlib import Path

from mlops.contract import load_contract
from mlops.io import read_table, write_parquet
from mlops.params import SplitParams, load_section
from mlops.splitting import split_frame


def run(params_path: Path, contract_path: Path, data: Path, train_out: Path, test_out: Path) -> int:
    params = load_section(params_path, "split", SplitParams)
    contract = load_contract(contract_path)
    df = read_table(data)
    train, test = split_frame(
        df, params.strategy, params.test_fraction, params.seed, contract.time_column, contract.target
    )
    write_parquet(train, train_out)
    write_parquet(test, test_out)
    print(f"split ({params.strategy}): {len(train)} train rows, {len(test)} holdout rows")
    return 0
