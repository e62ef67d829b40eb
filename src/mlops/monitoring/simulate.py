"""`mlops simulate`: generated traffic to a running service on loopback, with the generator's drift knobs.

`--shift none|covariate|concept|both` sets the generator's covariate_shift / concept_shift to 0 or 1.
Records go to /predict_batch in chunks (each chunk's request id prefixes its records' ids), and with
`--feedback` the generated labels are posted to /feedback for the answered request ids: what a business
sees when outcomes arrive later. Only loopback URLs are accepted: this is a demo and test tool.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from typing import Any, Literal
from urllib.parse import urlparse

from mlops.generate import generate
from mlops.io import InputError

Shift = Literal["none", "covariate", "concept", "both"]
KNOBS = {"none": (0.0, 0.0), "covariate": (1.0, 0.0), "concept": (0.0, 1.0), "both": (1.0, 1.0)}


def _post(url: str, payload: dict[str, Any], rid: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json", **({"x-request-id": rid} if rid else {})}
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            body: dict[str, Any] = json.loads(resp.read())
            return body
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url} answered {exc.code}: {exc.read()[:300]!r}") from exc
    except urllib.error.URLError as exc:
        raise InputError(f"{url} unreachable: {exc.reason}") from exc


def records(rows: int, shift: Shift, seed: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Generated customers of the last 30 days (as a client sends them) and their true outcomes."""
    covariate, concept = KNOBS[shift]
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=30)
    df = generate(rows, seed, start_date=start, days=30, covariate_shift=covariate, concept_shift=concept)
    labels = df.pop("churned").astype(int).tolist()
    df["event_date"] = df["event_date"].dt.strftime("%Y-%m-%d")
    return json.loads(df.to_json(orient="records")), labels


def run(url: str, rows: int, shift: Shift, seed: int, feedback: bool, batch: int = 500) -> int:
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise InputError(f"--url must be a loopback address (got {host}): simulate is for local services")
    customers, labels = records(rows, shift, seed)
    answered = 0
    for start in range(0, rows, batch):
        chunk = customers[start : start + batch]
        rid = f"sim-{shift}-{seed}-{start // batch}"
        result = _post(f"{url}/predict_batch", {"customers": chunk}, rid)
        answers = result["predictions"]
        answered += len(answers)
        if feedback:
            truth = labels[start : start + batch]
            pairs = [{"request_id": a["request_id"], "label": y} for a, y in zip(answers, truth, strict=True)]
            _post(f"{url}/feedback", {"labels": pairs})
    labelled = " with labels" if feedback else ""
    print(f"simulate: {answered} predictions ({shift} shift, seed {seed}){labelled}")
    return 0
