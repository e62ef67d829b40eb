"""`mlops simulate`: traffic to a running service on loopback, with optional drift.

Two sources. `holdout` (any dataset): rows of the evaluation holdout (dvc.yaml paths.test), drawn with
replacement, with shifts derived from the contract: `covariate` moves every numeric feature by half a
standard deviation (kept in the contract's range) and sends half the categorical values as the rarest
category; `concept` inverts the outcome of every row above the median of the first numeric feature (a
changed, learnable input -> outcome relation). `synthetic`: the example's generator with its own drift
knobs (covariate_shift / concept_shift 0 or 1), imported only then. `auto` (the default) is `synthetic`
when params.yaml ingest.source is, else `holdout`.

Records go to /predict_batch in chunks (each chunk's request id prefixes its records' ids); the time
column, if any, is spread over the last 30 days. With `--feedback` the true outcomes are posted to
/feedback for the answered request ids (in the contract's own label values): what a business sees when
outcomes arrive later. Only loopback URLs are accepted: this is a demo and test tool.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from mlops.contract import NUMERIC_TYPES, Contract
from mlops.io import InputError

Shift = Literal["none", "covariate", "concept", "both"]
Source = Literal["auto", "holdout", "synthetic"]
KNOBS = {"none": (0.0, 0.0), "covariate": (1.0, 0.0), "concept": (0.0, 1.0), "both": (1.0, 1.0)}


def _post(url: str, payload: dict[str, Any], rid: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json", **({"x-request-id": rid} if rid else {})}
    if url.endswith("/feedback") and (token := os.environ.get("MLOPS_FEEDBACK_TOKEN")):
        headers["authorization"] = f"Bearer {token}"  # the service's guard asks for it once one is set
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            body: dict[str, Any] = json.loads(resp.read())
            return body
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url} answered {exc.code}: {exc.read()[:300]!r}") from exc
    except urllib.error.URLError as exc:
        raise InputError(f"{url} unreachable: {exc.reason}") from exc


def _as_sent(df: pd.DataFrame, time_column: str | None) -> list[dict[str, Any]]:
    """Rows as a client sends them: dates as ISO days, NaN as null."""
    df = df.copy()
    if time_column is not None and time_column in df.columns:
        df[time_column] = pd.to_datetime(df[time_column]).dt.strftime("%Y-%m-%d")
    sent: list[dict[str, Any]] = json.loads(df.to_json(orient="records"))
    return sent


def shifted(
    holdout: pd.DataFrame, contract: Contract, rows: int, shift: Shift, seed: int
) -> tuple[pd.DataFrame, list[int]]:
    """`rows` holdout rows (with replacement) and their 0/1 outcomes, shifted as `shift` asks (pure)."""
    rng = np.random.default_rng(seed)
    df = holdout.iloc[rng.integers(0, len(holdout), size=rows)].reset_index(drop=True)
    y = (df.pop(contract.target) == contract.positive_label).to_numpy(dtype=int)
    features = contract.features(include_sensitive=True)
    numeric = [n for n in features if contract.columns[n].type in NUMERIC_TYPES]
    covariate, concept = KNOBS[shift]
    if covariate:
        for name in numeric:
            col = contract.columns[name]
            low, high = col.numeric_range()
            values = df[name].astype(float) + 0.5 * float(holdout[name].std(skipna=True) or 0.0)
            values = values.clip(low, high)
            df[name] = values.round().astype("Int64") if col.type == "integer" else values
        for name in contract.categorical(features):
            rarest = holdout[name].value_counts().idxmin()
            df[name] = df[name].where(rng.random(rows) >= 0.5, rarest)
    if concept and numeric:
        # Every outcome above the median of the first numeric feature inverted: a different relation in
        # that region, which a retrained model can learn (random flips would only add noise).
        lead = df[numeric[0]].astype(float)
        y = np.where(lead > lead.median(), 1 - y, y)
    if contract.time_column is not None:
        today = dt.datetime.now(dt.UTC).date()
        days = rng.integers(0, 30, size=rows)
        df[contract.time_column] = [today - dt.timedelta(days=int(d)) for d in days]
    return df, y.astype(int).tolist()


def synthetic(rows: int, shift: Shift, seed: int) -> tuple[list[dict[str, Any]], list[int]]:
    """The example's generated customers of the last 30 days and their outcomes (source synthetic)."""
    from mlops.generate import TARGET, TIME_COLUMN, generate  # the example's source: imported only here

    covariate, concept = KNOBS[shift]
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=30)
    df = generate(rows, seed, start_date=start, days=30, covariate_shift=covariate, concept_shift=concept)
    labels = df.pop(TARGET).astype(int).tolist()
    return _as_sent(df, TIME_COLUMN), labels


def resolve(source: Source, params: Path | None = None) -> Source:
    """`auto` -> `synthetic` when params.yaml ingest.source is the example's generator, else `holdout`."""
    if source != "auto":
        return source
    from mlops import paths
    from mlops.params import load_params

    synthetic_source = load_params(params or paths.path("params")).ingest.source == "synthetic"
    return "synthetic" if synthetic_source else "holdout"


Spelt = tuple[str | int, str | int]  # how the outcomes 0 / 1 are fed back: the contract's two values


def records(
    rows: int,
    shift: Shift,
    seed: int,
    source: Source = "synthetic",
    params: Path | None = None,
    contract: Path | None = None,
    holdout: Path | None = None,
) -> tuple[list[dict[str, Any]], list[int]]:
    """What `mlops simulate` sends (records as JSON-ready dicts) and the true 0/1 outcomes."""
    sent, labels, _ = _traffic(rows, shift, seed, resolve(source, params), params, contract, holdout)
    return sent, labels


def _traffic(
    rows: int,
    shift: Shift,
    seed: int,
    source: Source,
    params: Path | None,
    contract: Path | None,
    holdout: Path | None,
) -> tuple[list[dict[str, Any]], list[int], Spelt]:
    """The records, their 0/1 outcomes and the contract's spelling of the outcomes (`source` resolved)."""
    from mlops import paths
    from mlops.consistency import load_checked
    from mlops.io import read_table

    if source == "synthetic":
        sent, labels = synthetic(rows, shift, seed)
        return sent, labels, (0, 1)  # the example's target lists 0 and 1
    _, data_contract = load_checked(params or paths.path("params"), contract or paths.path("contract"))
    holdout = holdout or paths.path("test")
    frame = read_table(holdout, time_column=data_contract.time_column)
    if frame.empty:
        raise InputError(f"{holdout}: no holdout rows to replay (run the pipeline first)")
    df, labels = shifted(frame, data_contract, rows, shift, seed)
    return _as_sent(df, data_contract.time_column), labels, data_contract.labels


def run(
    url: str,
    rows: int,
    shift: Shift,
    seed: int,
    feedback: bool,
    source: Source = "auto",
    params: Path | None = None,
    contract: Path | None = None,
    test: Path | None = None,
    batch: int = 500,
) -> int:
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise InputError(f"--url must be a loopback address (got {host}): simulate is for local services")
    shown = resolve(source, params)
    # Outcomes are fed back as the contract spells them ("<=50K" / ">50K"), as a business system would.
    sent, labels, spelt = _traffic(rows, shift, seed, shown, params, contract, test)
    answered = 0
    for start in range(0, rows, batch):
        chunk = sent[start : start + batch]
        rid = f"sim-{shift}-{seed}-{start // batch}"
        result = _post(f"{url}/predict_batch", {"records": chunk}, rid)
        answers = result["predictions"]
        answered += len(answers)
        if feedback:
            truth = labels[start : start + batch]
            pairs = [
                {"request_id": a["request_id"], "label": spelt[y]}
                for a, y in zip(answers, truth, strict=True)
            ]
            _post(f"{url}/feedback", {"labels": pairs})
    labelled = " with labels" if feedback else ""
    print(f"simulate: {answered} predictions ({shown} rows, {shift} shift, seed {seed}){labelled}")
    return 0
