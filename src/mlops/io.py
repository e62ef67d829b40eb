"""File I/O at the stage edges: table reads, and atomic writes so a crash never leaves a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


class InputError(ValueError):
    """An input file is missing or unreadable: the message names the file."""


def read_table(path: str | Path, time_column: str | None = None) -> pd.DataFrame:
    """Read a .parquet or .csv file; an empty CSV gives an empty frame (validation then says why)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        try:
            df = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
        if time_column and time_column in df.columns:
            # CSV has no date type: parse the contract's time column; unparseable values stay strings
            # and the validation gate reports them.
            parsed = pd.to_datetime(df[time_column], errors="coerce")
            if parsed.notna().sum() == df[time_column].notna().sum():
                df[time_column] = parsed
        return df
    raise InputError(f"unsupported file type {suffix!r} for {path}: use .csv or .parquet")


def _atomic(path: str | Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename: readers see old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    _atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_bytes(data: bytes, path: str | Path) -> None:
    _atomic(path, lambda tmp: tmp.write_bytes(data))


def write_text(text: str, path: str | Path) -> None:
    _atomic(path, lambda tmp: tmp.write_text(text))


def write_json(data: Any, path: str | Path) -> None:
    """Stable JSON (sorted keys are NOT used: key order is meaningful to readers); trailing newline."""
    write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", path)


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    return json.loads(path.read_text())


def load_model(path: str | Path) -> Any:
    """Load the pipeline `train` saved (joblib: our own artifact, produced by this pipeline)."""
    import joblib

    path = Path(path)
    if not path.exists():
        raise InputError(f"model file not found: {path}")
    return joblib.load(path)
