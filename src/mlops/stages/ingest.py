"""Stage `ingest`: produce the raw dataset, from the seeded generator or from a CSV / Parquet file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops.contract import load_contract
from mlops.generate import generate
from mlops.io import read_table, write_parquet
from mlops.params import IngestParams, load_params


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


def run(params: Path, contract: Path, out: Path) -> int:
    section = load_params(params).ingest
    data_contract = load_contract(contract)
    df = produce(section, data_contract.time_column)
    write_parquet(df, out)
    print(f"ingest: {len(df)} rows x {df.shape[1]} columns from {section.source} -> {out}")
    return 0
