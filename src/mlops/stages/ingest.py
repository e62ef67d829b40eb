"""Stage `ingest`: produce the raw dataset, from the example's seeded generator or from a CSV / Parquet file.

A file source must live under dvc.yaml `paths.extracts` (data/extract/): that folder is the stage's DVC
dependency, so a file anywhere else could change without the pipeline noticing (green and stale forever).
The read options (header, delimiter, encoding, missing markers, blank stripping) are params.yaml
`ingest.read`; columns the contract marks `ignore` are read and dropped here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops import paths
from mlops.consistency import load_checked
from mlops.contract import NUMERIC_TYPES, Contract
from mlops.io import InputError, ReadOptions, read_table, write_parquet
from mlops.params import IngestParams


def read_options(section: IngestParams, contract: Contract) -> ReadOptions:
    """The params' read settings plus what only the contract knows (column order and types)."""
    read = section.read
    return ReadOptions(
        header=read.header,
        names=tuple(contract.columns),  # every contract column, `ignore` ones included: the file's order
        delimiter=read.delimiter,
        encoding=read.encoding,
        na_values=tuple(read.na_values),
        strip=read.strip,
        numeric=tuple(n for n, c in contract.columns.items() if c.type in NUMERIC_TYPES),
        text=tuple(n for n, c in contract.columns.items() if c.type == "string"),
    )


def source_path(source: str, extracts: Path) -> Path:
    """The extract file; refused, with the fix named, when it is not under the DVC-tracked extracts folder."""
    path = Path(source)
    try:
        path.resolve().relative_to(extracts.resolve())
    except ValueError:
        raise InputError(
            f"ingest.source {source!r} is outside {extracts}/, the folder the ingest stage depends on: a "
            f"file elsewhere can change without DVC rerunning anything. Move it there "
            f"(`make init DATA={source} TARGET=<column>` does, and tracks it with DVC) and set "
            f"ingest.source to {extracts}/{path.name}"
        ) from None
    return path


def produce(section: IngestParams, contract: Contract, extracts: Path) -> pd.DataFrame:
    """The raw frame the params ask for. No cleaning here: judging the data is `validate`'s job."""
    if section.source == "synthetic":
        from mlops.generate import generate  # the example's data source: imported only when asked for

        assert section.synthetic is not None  # guaranteed by IngestParams
        settings = section.synthetic
        return generate(
            rows=settings.rows,
            seed=settings.seed,
            start_date=settings.start_date,
            days=settings.days,
            covariate_shift=settings.covariate_shift,
            concept_shift=settings.concept_shift,
        )
    path = source_path(section.source, extracts)
    df = read_table(path, time_column=contract.time_column, options=read_options(section, contract))
    return df.drop(columns=[c for c in contract.ignored if c in df.columns])


def run(params: Path, contract: Path, out: Path) -> int:
    settings, data_contract = load_checked(params, contract)
    df = produce(settings.ingest, data_contract, paths.path("extracts"))
    write_parquet(df, out)
    print(f"ingest: {len(df)} rows x {df.shape[1]} columns from {settings.ingest.source} -> {out}")
    return 0
