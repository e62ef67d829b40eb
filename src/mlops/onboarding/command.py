"""`mlops init`, the I/O edge: check the inputs, read and draft once (detect, draft, baseline), place the
file under data/extract/, write the contract and params.yaml, reset the deploy records, track the file with
DVC, and print what a person must review (`report`).
"""

from __future__ import annotations

import filecmp
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlops.contract import Contract
from mlops.io import TEXT_SUFFIXES, InputError, read_table, write_text
from mlops.modeling import targets
from mlops.onboarding.baseline import baseline, floors, margin, single_feature_aucs
from mlops.onboarding.detect import Detected, read_detected
from mlops.onboarding.draft import Draft, draft_contract, is_replaceable, render_contract
from mlops.onboarding.edit import set_keys
from mlops.onboarding.reset import params_edits, project_name, reset_deploy_record
from mlops.params import Params, ParamsError


def extract_name(data: Path) -> str:
    """The file's name under data/extract/: kept when ingest reads its suffix (.parquet, or delimited text:
    mlops.io.TEXT_SUFFIXES, e.g. UCI's `adult.data`); otherwise `<stem>.parquet` for a Parquet file and
    `<stem>.csv` for text."""
    if data.suffix.lower() in (".parquet", *TEXT_SUFFIXES):
        return data.name
    with data.open("rb") as fh:
        return data.stem + (".parquet" if fh.read(4) == b"PAR1" else ".csv")


def _placement(data: Path, extracts: Path, force: bool) -> Path:
    """Where the file goes (data/extract/<name>), refused when a different file is already there."""
    if data.resolve().is_relative_to(extracts.resolve()) and data.name == extract_name(data):
        return extracts / data.resolve().relative_to(extracts.resolve())  # ingest.source as dvc.yaml names it
    dest = extracts / extract_name(data)
    if dest.exists() and not force and not filecmp.cmp(data, dest, shallow=False):
        raise InputError(f"{dest} exists and differs from {data}: pass --force to replace it")
    return dest


@contextmanager
def _readable(data: Path, dest: Path) -> Iterator[Path]:
    """`data` under a name read_table reads (a temporary copy when its suffix is not .csv / .parquet), so
    nothing is written to the project before the draft succeeded."""
    if data.suffix.lower() == dest.suffix:
        yield data
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / dest.name
        shutil.copyfile(data, copy)
        yield copy


def _check_inputs(data: Path, target: str, contract: Path, force: bool) -> None:
    if not str(data) or str(data) == ".":
        raise InputError("no data file given: make init DATA=<file.csv|file.parquet> TARGET=<column>")
    if not target:
        raise InputError("no target column given: make init DATA=<file> TARGET=<the column to predict>")
    if not data.is_file():
        raise InputError(f"input file not found: {data}")
    if contract.exists() and not force and not is_replaceable(contract.read_text()):
        raise InputError(
            f"{contract} is a reviewed contract (neither the shipped example nor an init draft): "
            f"pass --force to replace it"
        )


def _track(dest: Path, no_dvc: bool) -> int:
    from mlops.ci.shell import tool

    if no_dvc:
        print(f"init: --no-dvc: track {dest} yourself (`dvc add {dest}`), never with git")
        return 0
    if not Path(".dvc").is_dir():
        print(f"init: not a DVC repository (no .dvc/): {dest} is not tracked (`dvc init`, `dvc add {dest}`)")
        return 0
    code = subprocess.run([tool("dvc"), "add", "-q", str(dest)], check=False).returncode
    print(
        f"init: dvc add {dest}: " + ("done (commit its .dvc file)" if code == 0 else f"failed (exit {code})")
    )
    return code


def run(
    params: Path,
    contract: Path,
    extracts: Path,
    staging: Path,
    production: Path,
    data: Path,
    target: str,
    positive: str | None = None,
    time: str | None = None,
    names: str | None = None,
    name: str | None = None,
    no_dvc: bool = False,
    force: bool = False,
) -> int:
    """Draft the contract, reset params and deploy records for `data`, place and track the file, report."""
    from mlops.consistency import check
    from mlops.params import load_params

    _check_inputs(data, target, contract, force)
    settings = load_params(params)
    project = name or project_name(data.stem)
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", project):
        raise ParamsError(f"--name {project!r} is not a DNS label (lowercase letters, digits, '-')")
    dest = _placement(data, extracts, force)
    given = tuple(n.strip() for n in names.split(",")) if names else None
    with _readable(data, dest) as readable:
        found = _draft(readable, given, target, positive, time, settings, project)
    if dest.resolve() != data.resolve():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data, dest)
    write_text(found.text, contract)
    edits = params_edits(
        found.contract, found.detected, project, str(dest), found.floors, found.why, found.use_sensitive
    )
    write_text(set_keys(params.read_text(), edits), params)
    check(load_params(params), found.contract, params)
    reset = [p for p in (staging, production) if p.exists() and _reset(p)]
    print(report(found, reset, settings.project.threshold))
    return _track(dest, no_dvc)


@dataclass(frozen=True)
class Found:
    """Everything init drafted and measured, before anything is written."""

    draft: Draft
    text: str  # data/contract.yaml
    contract: Contract
    detected: Detected
    baseline: dict[str, float] | None
    floors: dict[str, float]
    margin: float
    aucs: dict[str, float]
    use_sensitive: bool

    @property
    def why(self) -> str:
        shown = _shown(self.baseline)
        return (
            f"mlops init: baseline - {self.margin:.3f} ({shown})"
            if self.baseline
            else "mlops init: no baseline"
        )


def _draft(
    data: Path,
    names: tuple[str, ...] | None,
    target: str,
    positive: str | None,
    time: str | None,
    settings: Params,
    project: str,
) -> Found:
    """Detect, draft, then re-read the file exactly as ingest will with the draft, and measure on that."""
    from mlops.params import IngestParams
    from mlops.stages.ingest import read_options

    detected, frame = read_detected(data, names)
    use_sensitive = settings.train.use_sensitive_features
    draft = draft_contract(frame, target, positive, time, use_sensitive)
    text = render_contract(draft, project, data.name)
    contract = Contract.model_validate(yaml.safe_load(text))
    options = read_options(IngestParams(source=str(data), read=detected.read_params()), contract)
    ingested = read_table(data, contract.time_column, options).drop(columns=contract.ignored)
    base = baseline(ingested, contract, settings.project.threshold, use_sensitive)
    aucs = single_feature_aucs(ingested, contract)
    # The pipeline's holdout: split.test_fraction of the rows; its minority class sets the noise margin.
    positives = int(targets(ingested, contract).sum())
    minority = round(min(positives, len(ingested) - positives) * settings.split.test_fraction)
    found_floors = floors(base, minority)
    return Found(draft, text, contract, detected, base, found_floors, margin(minority), aucs, use_sensitive)


def _reset(path: Path) -> bool:
    text = reset_deploy_record(path.read_text())
    if text is not None:
        write_text(text, path)
    return text is not None


def _shown(metrics: dict[str, float] | None) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()) if metrics else "none"


def report(found: Found, reset: list[Path], threshold: float) -> str:
    """What a person must review, and what to run next."""
    draft, contract, detected, base = found.draft, found.contract, found.detected, found.baseline
    target = contract.target
    lines = [
        f"init: drafted {len(contract.columns)} columns from {draft.rows} rows; review (marked REVIEW):",
        f"  read options: header {detected.header}, delimiter {detected.delimiter!r}, encoding "
        f"{detected.encoding}, na_values {list(detected.na_values)}, strip {detected.strip}",
        f"  target: {target}, positive label {contract.positive_label!r} (negative {contract.labels[0]!r}), "
        f"rate {draft.rate:.3f} ({draft.why['positive']})",
        f"  id: {contract.id_column or 'none (rows are keyed by their content)'}"
        + (f" ({draft.notes[contract.id_column].removeprefix('REVIEW: ')})" if contract.id_column else ""),
        f"  time: {contract.time_column or 'none'} ({draft.why['time']}): split.strategy "
        f"{'time' if contract.time_column else 'random'}",
        f"  sensitive (suggested by name: fairness gate, behaviour invariance): "
        f"{', '.join(contract.sensitive) or 'none'}",
    ]
    text = [n for n, c in contract.data_columns.items() if c.type == "string" and c.role != "id"]
    if text:
        lines.append(f"  text columns (not model inputs): {', '.join(text)}")
    lines += [f"  ignored: {n} ({draft.notes[n]})" for n in contract.ignored]
    if base:
        lines.append(f"  baseline (logistic regression, recall at {threshold}): {_shown(base)}")
    lines.append(f"  performance floors (gates.performance.min): {_shown(found.floors)}")
    if base is None or base["roc_auc"] < found.floors["roc_auc"]:
        lines.append(
            "  WARNING: the baseline does not reach the roc_auc floor: do the inputs predict the target?"
        )
    ceiling = contract.table.max_single_feature_auc
    lines += [
        f"  LIKELY LEAK: column {n} alone reaches ROC AUC {a:.2f} (> max_single_feature_auc {ceiling})"
        for n, a in sorted(found.aucs.items(), key=lambda kv: -kv[1])
        if a > ceiling
    ]
    lines += [f"  deploy record reset (its model cannot score this data): {p}" for p in reset]
    lines.append(
        "next: review data/contract.yaml (then delete its draft line) and params.yaml, then `make pipeline`"
    )
    return "\n".join(lines)
