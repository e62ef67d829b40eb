"""`mlops refresh-data`: the labelled window of production traffic as a training extract.

The retrain workflow's first step: predictions of the monitoring window joined with their fed-back labels
become `data/extract/labelled.parquet` (the contract's columns, the label as the target), and params.yaml
points `ingest.source` at it. The pipeline then validates it against the contract like any extract, so a
broken log cannot train a model. The ingest stage depends on the `data/extract` folder, so a new extract
reruns the pipeline; the file itself is tracked by DVC (`dvc add`), never by git.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pandas as pd

from mlops.contract import Contract, load_contract
from mlops.io import InputError, write_parquet
from mlops.monitoring import drift as rules
from mlops.params import load_params
from mlops.serving.predlog import FEEDBACK_PREFIX, read_records


def extract(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Labelled predictions as contract rows, the label as the target in the contract's own values
    (0/1 labels become the target's listed values: a text target stays text). One row per id (its
    latest) when the contract has an id column; without one every labelled prediction is a row."""
    columns, target = list(contract.data_columns), contract.target
    rows = frame.sort_values("timestamp", kind="stable")
    if contract.id_column is not None:
        rows = rows.drop_duplicates(contract.id_column, keep="last")
    out = rows.reindex(columns=[c for c in columns if c != target]).copy()
    out[target] = [contract.label_name(v) for v in rows["label"]]
    if all(isinstance(v, int) for v in contract.labels):
        out[target] = out[target].astype("int64")
    return out.reset_index(drop=True)[columns]


def set_ingest_source(params_path: Path, source: str) -> None:
    """Point `ingest.source` at the extract (keeping the file's comments), then validate the result."""
    from mlops.io import write_text
    from mlops.onboarding.edit import scalar, set_key
    from mlops.params import ParamsError

    try:
        text = set_key(params_path.read_text(), "ingest.source", scalar(source))
    except ParamsError as exc:
        raise InputError(f"{params_path}: no `source:` line under `ingest:` to point at {source}") from exc
    write_text(text, params_path)
    if load_params(params_path).ingest.source != source:
        raise InputError(f"{params_path}: ingest.source is not {source} after the edit")


def run(
    params: Path,
    contract: Path,
    log_dir: Path,
    out: Path,
    min_rows: int | None = None,
    set_source: bool = False,
    dvc_add: bool = False,
) -> int:
    """`min_rows` None: params.yaml monitoring.retrain_min_rows. `dvc_add`: track `out` with DVC (its
    .dvc file goes to git; the extract itself never does)."""
    section = load_params(params).monitoring
    min_rows = section.retrain_min_rows if min_rows is None else min_rows
    data_contract = load_contract(contract)
    if not log_dir.is_dir():
        raise InputError(f"prediction log folder not found: {log_dir}")
    # No cap: the extract keeps every labelled row of the window. monitoring.sample_cap bounds what the
    # drift check computes on; applied here it would silently train on fewer rows than were labelled.
    records, smoke = rules.production_traffic(read_records(log_dir))
    frame = rules.window(rules.log_frame(records), section.window_hours, dt.datetime.now(dt.UTC))
    if smoke:
        print(f"refresh-data: left out {smoke} smoke-test predictions (a deploy's own requests)")
    feedback = read_records(log_dir, FEEDBACK_PREFIX)
    joined = rules.labelled(frame, feedback)
    left_out = rules.label_join(frame, feedback)
    if any(left_out.values()):  # counted and shown, never silently dropped
        print(
            f"refresh-data: left out {left_out['ambiguous_predictions']} predictions whose request id is "
            f"shared (a label would land on all of them) and {left_out['unmatched_labels']} labels that "
            f"match no prediction of the window",
            file=sys.stderr,
        )
    data = extract(joined, data_contract)
    if len(data) < min_rows:
        raise InputError(
            f"{len(data)} labelled rows in the last {section.window_hours:g} h of {log_dir}; "
            f"a retrain needs at least {min_rows}"
        )
    if data_contract.time_column is not None:
        data[data_contract.time_column] = pd.to_datetime(data[data_contract.time_column])
    write_parquet(data, out)
    rate = float((data[data_contract.target] == data_contract.positive_label).mean())
    print(
        f"refresh-data: {len(data)} labelled rows ({data_contract.target} = "
        f"{data_contract.positive_label!r}: {rate:.1%}) -> {out}"
    )
    if set_source:
        set_ingest_source(params, str(out))
        print(f"refresh-data: {params} ingest.source -> {out}")
    if dvc_add:
        import subprocess

        from mlops.ci.shell import tool  # the venv's own DVC, else the one on PATH

        return subprocess.run([tool("dvc"), "add", "-q", str(out)], check=False).returncode
    return 0
