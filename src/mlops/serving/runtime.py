"""What the service does, without BentoML: score records, route champion / challenger, log, count.

The BentoML class (service.py) is a thin shell over `Runtime`, so this logic is tested directly and the
FastAPI baseline of the serving benchmark serves the model through the very same scoring function.

Adaptive batching of single-record requests: BentoML's built-in batching merges list inputs of a
batchable API and hands the batch one request's context, which loses per-request ids. Instead, each
single-record request awaits `MicroBatcher`, which scores everything queued while the previous batch
ran: one record at a time when traffic is light (no waiting window, no added latency), large batches
under load (one model call amortised over many requests).

Every model call runs on one native thread (`mlops.threads`), set once per scoring thread: BentoML runs
`predict_batch` on its threadpool and `MicroBatcher` scores on asyncio's executor, and an OpenMP limit set
where the model is loaded would not reach those threads.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlops.threads import limit_this_thread

Mode = Literal["split", "shadow"]
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # a server-issued id (batch items: "<id>:<i>")
# A caller's X-Request-ID: ':' is reserved (it joins a batch id and the item's index), so "<batch id>:0"
# sent as a client id could be mistaken for an item of another batch. Anything else is refused (guard).
RECENT_IDS = 200_000  # answered ids a server remembers for /feedback's report (~30 MB)
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class LoadedModel:
    """A model with the lineage it was packaged with (bento model metadata)."""

    version: str  # the bento model tag, e.g. <project>:fdb50ece07e0416d
    model: Any
    threshold: float
    metadata: dict[str, Any] = field(default_factory=dict)
    # The compiled scoring path (mlops.serving.compiled), when packaging proved its parity; else None and
    # the Pipeline itself scores.
    compiled: Any = None

    @property
    def scoring(self) -> str:
        return "compiled" if self.compiled is not None else "sklearn"

    def proba(self, frame: pd.DataFrame) -> np.ndarray:
        limit_this_thread()  # whichever thread serves this call; predictable latency under load
        return np.asarray(self.model.predict_proba(frame)[:, 1], dtype=float)

    def proba_records(self, records: list[dict[str, Any]]) -> np.ndarray:
        """P(positive) of validated records: the compiled path needs no DataFrame."""
        if self.compiled is not None:
            limit_this_thread()  # numpy here runs on the calling thread; the limit keeps any BLAS call there
            return np.asarray(self.compiled.proba(records), dtype=float)
        return self.proba(_frame(records))


@dataclass(frozen=True)
class Challenger:
    loaded: LoadedModel
    mode: Mode
    share: float  # split: fraction of requests it answers; shadow: ignored (it sees all, answers none)


def request_id() -> str:
    """A request id the server issues: unique, so a fed-back label names exactly one prediction. A
    client's X-Request-ID is never the key (a reused one would join one label onto many predictions)."""
    return uuid.uuid4().hex


def client_request_id(header: str | None) -> str | None:
    """The caller's X-Request-ID when well-formed: logged beside the server's id and echoed back."""
    return header if header and CLIENT_REQUEST_ID.match(header) else None


def routes_to_challenger(rid: str, share: float) -> bool:
    """Sticky split: the same request id always lands on the same model (hash bucket in [0, 1))."""
    bucket = int.from_bytes(hashlib.sha256(rid.encode()).digest()[:8], "big") / 2**64
    return bucket < share


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records)


class Runtime:
    """Scores validated records (dicts) and logs one record per answered prediction."""

    def __init__(
        self,
        champion: LoadedModel,
        log: Callable[[list[dict[str, Any]]], None],
        challenger: Challenger | None = None,
        on_prediction: Callable[[str, str | int], None] | None = None,
        time_column: str | None = None,
        target: str = "label",
        labels: tuple[str | int, str | int] = (0, 1),
    ) -> None:
        self.time_column = time_column
        # The answer names the class as the contract does: {"<target>": "<one of its two values>"}.
        self.target, self.labels = target, labels
        self.champion = champion
        self.challenger = challenger
        self._log = log
        self._count = on_prediction or (lambda version, cls: None)
        # The ids this process answered most recently, so /feedback can say which labels it cannot place.
        self._recent: collections.deque[str] = collections.deque(maxlen=RECENT_IDS)
        self._recent_set: set[str] = set()

    def predict(
        self,
        records: list[dict[str, Any]],
        rids: list[str],
        client_ids: list[str | None] | None = None,
        traffic: list[str | None] | None = None,
    ) -> list[dict[str, Any]]:
        """Answers for `records`, in order; each answer and the model that gave it is logged. `client_ids`:
        the callers' own ids (X-Request-ID), logged beside the server's and the key of the sticky split."""
        clients = client_ids or [None] * len(records)
        kinds = traffic or [None] * len(records)  # "smoke": a deploy's own requests (mlops.serving)
        if self.time_column:  # an omitted event date is the request's date (UTC), as the drift job expects
            today = dt.datetime.now(dt.UTC).date().isoformat()
            records = [r if r.get(self.time_column) else {**r, self.time_column: today} for r in records]
        champion_p = self.champion.proba_records(records)
        answers_p, answered_by = champion_p, [self.champion] * len(records)
        shadow: np.ndarray | None = None
        if self.challenger is not None:
            challenger_p = self.challenger.loaded.proba_records(records)
            if self.challenger.mode == "shadow":
                shadow = challenger_p
            else:
                keys = [c or r for c, r in zip(clients, rids, strict=True)]
                picks = [routes_to_challenger(k, self.challenger.share) for k in keys]
                answers_p = np.where(picks, challenger_p, champion_p)
                answered_by = [self.challenger.loaded if p else self.champion for p in picks]
        now = dt.datetime.now(dt.UTC).isoformat()
        answers, logged = [], []
        for i, (rid, record) in enumerate(zip(rids, records, strict=True)):
            model = answered_by[i]
            p = float(answers_p[i])
            cls = int(p >= model.threshold)
            label = self.labels[cls]
            answer = {"request_id": rid, "model_version": model.version, "probability": p, self.target: label}
            entry = {
                "request_id": rid,
                "model_version": model.version,
                "probability": p,
                "predicted": cls,  # the log's own field: 0/1 whatever the contract calls the classes
                "client_request_id": clients[i],
                **({"traffic": kinds[i]} if kinds[i] else {}),
                "timestamp": now,
                "role": "champion" if model is self.champion else "challenger",
                "inputs": record,
            }
            if shadow is not None and self.challenger is not None:
                entry["shadow"] = {
                    "model_version": self.challenger.loaded.version,
                    "probability": float(shadow[i]),
                    "predicted": int(shadow[i] >= self.challenger.loaded.threshold),
                }
            answers.append(answer)
            logged.append(entry)
            self._count(model.version, label)
        self._log(logged)
        self._remember(rids)
        return answers

    def _remember(self, rids: list[str]) -> None:
        for rid in rids:
            if len(self._recent) == self._recent.maxlen:
                self._recent_set.discard(self._recent[0])
            self._recent.append(rid)
            self._recent_set.add(rid)

    def unknown(self, ids: list[str]) -> list[str]:
        """Of `ids`, those this process has not answered (since it started, within its last RECENT_IDS)."""
        return [i for i in ids if i not in self._recent_set]


# (records, server request ids, client request ids, traffic kinds) -> answers, in order
Score = Callable[[list[dict[str, Any]], list[str], list[str | None], list[str | None]], list[dict[str, Any]]]
_Queued = tuple[dict[str, Any], str, str | None, str | None, "asyncio.Future[dict[str, Any]]"]


class MicroBatcher:
    """Adaptive batching for single-record calls: one scoring call for everything queued meanwhile."""

    def __init__(self, score: Score, max_batch: int) -> None:
        self._score = score
        self._max = max_batch
        self._queue: asyncio.Queue[_Queued] | None = None
        self._task: asyncio.Task[None] | None = None
        self.batch_sizes: list[int] = []

    async def submit(
        self, record: dict[str, Any], rid: str, client: str | None = None, traffic: str | None = None
    ) -> dict[str, Any]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._drain())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        await self._queue.put((record, rid, client, traffic, future))
        return await future

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if len(self.batch_sizes) < 100_000:
                self.batch_sizes.append(len(batch))
            try:
                answers = await asyncio.to_thread(
                    self._score,
                    [b[0] for b in batch],
                    [b[1] for b in batch],
                    [b[2] for b in batch],
                    [b[3] for b in batch],
                )
            except Exception as exc:  # every waiting request gets the error, the batcher lives on
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (*_, fut), answer in zip(batch, answers, strict=True):
                if not fut.done():
                    fut.set_result(answer)


class CorruptedModelError(RuntimeError):
    """A packaged model file whose bytes are not the ones its metadata names: never served."""


def verify_packaged(path: Path, metadata: dict[str, Any]) -> None:
    """The model file's md5 must be the `model_md5` it was packaged (and tagged) with: a store entry
    changed on disk (a bad copy, a truncated volume, a tampered file) is refused, by name, at start-up."""
    from mlops.lineage import file_md5

    file = path / "model.joblib"
    expected = str(metadata.get("model_md5", ""))
    actual = file_md5(file) if file.exists() else "missing"
    if actual != expected:
        raise CorruptedModelError(
            f"{file}: md5 {actual}, but the model was packaged as md5 {expected or '(none recorded)'}: "
            "the store entry is corrupted; delete it (bentoml models delete <tag>) and run make package"
        )


def load_packaged(path: Path, version: str, metadata: dict[str, Any]) -> LoadedModel:
    """A model saved by `mlops package` into a BentoML model folder (model.joblib + metadata), its bytes
    verified against the md5 it was packaged with first."""
    from mlops.io import load_model

    verify_packaged(path, metadata)
    model = load_model(path / "model.joblib")
    threshold = float(metadata.get("threshold", 0.5))
    compiled = None
    if metadata.get("scoring_path") == "compiled":
        compiled = compiled_or_none(model, path, threshold)
    return LoadedModel(version, model, threshold, dict(metadata), compiled)


LOG = logging.getLogger("mlops.serving")


def compiled_or_none(model: Any, path: Path, threshold: float) -> Any:
    """The compiled path of a packaged model, checked again at start-up against the packaged golden
    answers (same bound as at packaging); any mismatch or error: None, logged, and the Pipeline serves."""
    import json

    from mlops.contract import load_contract
    from mlops.serving.compiled import PARITY_BOUND, agreement, compile_for_contract

    try:
        golden = json.loads((path / "golden.json").read_text())
        records = [g["record"] for g in golden]
        compiled = compile_for_contract(model, load_contract(path / "contract.yaml"), records[0])
        expected = np.array([g["probability"] for g in golden], dtype=float)
        diff, same = agreement(compiled.proba(records), expected, threshold)
        if not (diff <= PARITY_BOUND and same):
            raise ValueError(f"golden answers differ by up to {diff:.3g} (classes identical: {same})")
    except Exception as exc:  # never serve an unproven path: the Pipeline is always correct
        LOG.warning("compiled scoring path refused at start-up, the sklearn Pipeline serves: %s", exc)
        return None
    return compiled
