"""The prediction log: every served prediction as one JSON line, written off the request's critical path.

A request only appends a dict to an in-memory queue (microseconds); one writer thread per process drains
the queue in batches to the current file and flushes after each batch. Files rotate by record count
(`predictions-<UTC time>-<pid>-<seq>.jsonl`, one writer per process, so several workers never share a
file) and a rotated file is complete and never touched again, which is what the drift job and an uploader
rely on. `close()` (called on graceful shutdown, i.e. SIGTERM) drains everything still queued before it
returns: nothing accepted is lost. A hard kill loses at most the records of the last unflushed batch.

Team scale: set `MLOPS_PREDICTION_LOG_URL` (any fsspec URL, e.g. s3://bucket/predictions with s3fs
installed) and every rotated file (by record count, by age: MLOPS_PREDICTION_LOG_ROTATE_SECONDS, and at
shutdown) is also copied there by the writer thread, the feedback log's too; the
local folder stays the buffer, and a failed copy is retried on every later tick until it succeeds. Labels
arrive later as `feedback-*.jsonl` files in the same folder (request_id, label).

No loss is silent: every record written or dropped, every failed write or upload, and the queue depth go
to `observe` (the service exports them as Prometheus metrics, mlops.serving.telemetry) and every failure is
logged as an error; `healthy()` is False while the folder is not writable or the last write failed, and
the service's readiness follows it, so a deploy onto an unwritable log never passes its smoke test.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mlops.io import InputError

PREFIX = "predictions"
FEEDBACK_PREFIX = "feedback"
_STOP = object()
LOG = logging.getLogger("mlops.predlog")
LOG_EVERY_S = 60.0
# observe(event, count): "written" / "dropped" records, "write_error" / "upload_error", "queue_depth"
Observer = Callable[[str, int], None]


ROTATE_ENV = "MLOPS_PREDICTION_LOG_ROTATE_SECONDS"
DEFAULT_ROTATE_SECONDS = 3600.0


def rotate_seconds(environ: Mapping[str, str]) -> float:
    """The log's file age limit from MLOPS_PREDICTION_LOG_ROTATE_SECONDS (default an hour).

    Only rotated files are copied to MLOPS_PREDICTION_LOG_URL, so this bounds what a pod killed without
    its graceful drain (OOM, node loss) takes with it: Kubernetes sets it shorter than the default."""
    raw = environ.get(ROTATE_ENV, "").strip()
    if not raw:
        return DEFAULT_ROTATE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise InputError(f"{ROTATE_ENV}={raw!r}: must be a positive number of seconds")
    return value


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


class PredictionLog:
    """Append-only JSONL log with a background writer; thread-safe `append`, draining `close`."""

    def __init__(
        self,
        folder: str | Path,
        *,
        prefix: str = PREFIX,
        max_records_per_file: int = 100_000,
        max_seconds_per_file: float = 3600.0,
        remote_url: str | None = None,
        observe: Observer | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_records = max_records_per_file
        # Rotate by age too: at low traffic a file would otherwise stay open (and un-uploaded) for days.
        self.max_seconds = max_seconds_per_file
        self._opened = 0.0
        self.dropped = 0
        self.remote_url = remote_url.rstrip("/") if remote_url else None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._seq = 0
        self._file: Any = None
        self._path: Path | None = None
        self._in_file = 0
        self._pending = 0  # written to the current file's buffer, not yet flushed
        self.written = 0
        self.errors: list[str] = []
        self._observe: Observer = observe or (lambda event, count: None)
        self._logged: dict[str, tuple[float, int]] = {}  # kind -> (last logged, held back since)
        self._unuploaded: list[Path] = []  # rotated files whose copy failed: retried on every tick
        self._last_write_ok = True
        self._thread = threading.Thread(target=self._run, name=f"{prefix}-log-writer", daemon=True)
        self._thread.start()

    def append(self, record: dict[str, Any]) -> None:
        self._queue.put(record)

    def extend(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self._queue.put(record)

    def healthy(self) -> bool:
        """Can records reach disk: the folder is writable and the last write did not fail."""
        return self._last_write_ok and os.access(self.folder, os.W_OK)

    def _failed(self, kind: str, message: str) -> None:
        """Every failure counted; the server log gets the first of each kind per minute (a full disk
        fails every batch: a line per batch would bury everything else), with how many it held back."""
        self.errors.append(message)
        del self.errors[:-100]  # the latest failures, not an unbounded list
        self._observe(kind, 1)
        now = time.monotonic()
        last, held = self._logged.get(kind, (-LOG_EVERY_S, 0))
        if now - last >= LOG_EVERY_S:
            more = f" ({held} more like it in the last minute)" if held else ""
            LOG.error("prediction log %s: %s%s", self.folder, message, more)
            self._logged[kind] = (now, 0)
        else:
            self._logged[kind] = (last, held + 1)

    def close(self, timeout: float = 30.0) -> None:
        """Drain the queue to disk, close the current file, stop the writer."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    # -- writer thread -------------------------------------------------------------------------------

    def _open(self) -> None:
        self._seq += 1
        self._path = self.folder / f"{self.prefix}-{_stamp()}-{os.getpid()}-{self._seq:04d}.jsonl"
        self._file = self._path.open("a", encoding="utf-8")
        self._in_file = 0
        self._opened = time.monotonic()

    def _rotate(self) -> None:
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._settle()
        self._file.close()
        done, self._file, self._path = self._path, None, None
        if self.remote_url and done is not None:
            self._unuploaded.append(done)
            self._upload_pending()

    def _upload_pending(self) -> None:
        """Copy every rotated file not yet copied (oldest first); a failure keeps it for the next tick
        (each batch, each idle minute, close), so an outage of the bucket delays the copy, never loses it."""
        while self._unuploaded:
            path = self._unuploaded[0]
            try:
                import fsspec

                with fsspec.open(f"{self.remote_url}/{path.name}", "wb") as out:
                    out.write(path.read_bytes())
            except Exception as exc:  # the local file stays; retried on the next tick
                self._failed("upload_error", f"upload of {path.name} to {self.remote_url} failed: {exc}")
                return
            self._unuploaded.pop(0)

    def _batches(self) -> Iterator[list[Any]]:
        while True:
            try:
                batch = [self._queue.get(timeout=min(60.0, self.max_seconds))]
            except queue.Empty:
                yield []  # idle: a chance to rotate an old file
                continue
            while True:  # take what else is queued now, so a busy server writes in large chunks
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            yield batch
            if batch and batch[-1] is _STOP:
                return

    def _run(self) -> None:
        for batch in self._batches():
            if self._unuploaded:
                self._upload_pending()
            before = self.written
            records = sum(1 for r in batch if r is not _STOP)
            try:
                self._write(batch)
                self._last_write_ok = True
            except Exception as exc:  # keep the writer alive: a dead thread would drop all that follows
                lost = records - (self.written - before)
                self.dropped += lost
                self._last_write_ok = False
                self._observe("dropped", lost)
                self._failed("write_error", f"writing {records} records failed, {lost} dropped: {exc}")
                self._abandon()
            self._observe("written", self.written - before)
            self._observe("queue_depth", self._queue.qsize())
        try:
            self._rotate()
        except Exception as exc:
            self._failed("write_error", f"closing the last file failed: {exc}")
        if self._unuploaded:
            self._failed(
                "upload_error",
                f"{len(self._unuploaded)} rotated files not copied to {self.remote_url} at shutdown: "
                f"they stay in {self.folder} ({', '.join(p.name for p in self._unuploaded[:3])}...)",
            )

    def _abandon(self) -> None:
        """A file that failed is not written again (disk full, revoked): the next record opens a new one."""
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
        self._file, self._path, self._pending = None, None, 0

    def _write(self, batch: list[Any]) -> None:
        if self._file is not None and time.monotonic() - self._opened >= self.max_seconds:
            self._rotate()
        for record in batch:
            if record is _STOP:
                continue
            if self._file is None or self._in_file >= self.max_records:
                self._rotate()
                self._open()
            self._file.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
            self._in_file += 1
            self._pending += 1
        if self._file is not None:
            self._file.flush()
            self._settle()

    def _settle(self) -> None:
        """Records count as written once flushed to the OS (buffered ones die with a failed flush)."""
        self.written += self._pending
        self._pending = 0


def read_records(folder: str | Path, prefix: str = PREFIX) -> list[dict[str, Any]]:
    """All records of the log files in `folder`, oldest file first (for the drift job and the tests)."""
    out: list[dict[str, Any]] = []
    for path in sorted(Path(folder).glob(f"{prefix}-*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                if number == len(lines):  # the file being written: its last line may be half flushed
                    continue
                raise InputError(f"{path}:{number}: not a JSON record") from None
    return out


def _auth(exc: BaseException) -> bool:
    """An authentication failure, by the names the cloud SDKs give them (no SDK imported)."""
    name = type(exc).__name__
    return any(word in name for word in ("Credential", "Authentication", "NoRegion")) or isinstance(
        exc, PermissionError
    )


def _without_secret(url: str) -> str:
    """The URL with any user:password@ part masked (it is printed)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")).geturl()


def fetch(url: str, out: str | Path) -> int:
    """Copy the log files (predictions and feedback) from an fsspec URL into a local folder; returns count.

    The drift workflow's first step at team scale (MLOPS_PREDICTION_LOG_URL): files already present with
    the same size are skipped, so repeated runs only download what is new.
    """
    import fsspec

    out = Path(out)
    copied = 0
    try:
        fs, root = fsspec.core.url_to_fs(url)
        out.mkdir(parents=True, exist_ok=True)
        for prefix in (PREFIX, FEEDBACK_PREFIX):
            for remote in sorted(fs.glob(f"{root.rstrip('/')}/{prefix}-*.jsonl")):
                local = out / Path(remote).name
                if local.exists() and local.stat().st_size == fs.size(remote):
                    continue
                fs.get(remote, str(local))
                copied += 1
    except Exception as exc:  # the edge to any object store: one line, never a traceback
        # Object stores raise their own errors (botocore's NoCredentialsError or EndpointConnectionError
        # are no OSError): the store, the error and where the fix goes, with no secret from the URL.
        hint = " (set the store's credentials in the job: docs/team-scale.md)" if _auth(exc) else ""
        raise InputError(
            f"cannot read the prediction log at {_without_secret(url)}: {type(exc).__name__}: {exc}{hint}"
        ) from exc
    return copied
