"""Stage `ingest`: produce the raw dataset, from the seeded generator or from a CSV / Parquet file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops.contract import load_contract
from mlops.generate import generate
from mlops.io import read_table, write_parquet
from mlops.params import IngestParams, load_section


def produce(params: IngestParams, time_column: str) -> pd.DataFrame:
    """The raw frame the params ask for. No cleaning here: judging the data is `validate`'s job."""
    if params.source == "synthetic":
        return generate(
            rows=params.rows,
            seed=params.seed,
            start_date=params.start_date,
            days=params.days,
            covariate_shift=params.covariate_shift,
            concept_shift=params.concept_shift,
        )
    return read_table(params.source, time_column=time_column)


def run(params_path: Path, contract_path: Path, out: Path) -> int:
    params = load_section(params_path, "ingest", IngestParams)
    contract = load_contract(contract_path)
    df = produce(params, contract.time_column)
    write_parquet(df, out)
    print(f"ingest: {len(df)} rows x {df.shape[1]} columns from {params.source} -> {out}")
    return 0
