"""Serving against real peers: our bento, today's (sklearn-path) bento, MLServer, `mlflow models serve` and a
minimal FastAPI app, all serving the same model, in one run.

Every server runs on 127.0.0.1, pinned to the same single core (`taskset -c`, default core 0); the load
generator is pinned to another core (default 1). The machine is shared and noisy, so the servers are
measured in interleaved rounds (the order rotates every round) and noise hits all alike. Servers:

- `bentoml`: our packaged bento (`bentoml serve`), on the scoring path packaging chose (compiled);
- `bentoml-sklearn`: today's service, the very same bento and code, forced onto the sklearn Pipeline: the
  runtime has no switch (`load_packaged` reads `scoring_path` from the bento model's metadata), so the
  benchmark serves a COPY of the BentoML store (~1 MB) whose model.yaml says `scoring_path: sklearn`;
  checked on each server's /metrics (`mlops_model_info{scoring=...}`);
- `mlserver`: MLServer + mlserver-sklearn with its adaptive batching, one process (`parallel_workers: 0`),
  `predict_fn: predict_proba`, V2 requests with `content_type: pd` (one input per column, so the Pipeline
  gets a DataFrame with the contract's column names);
- `mlflow`: `mlflow models serve --env-manager local --workers 1` (the project's .venv) on the model saved
  with `mlflow.sklearn.save_model(..., pyfunc_predict_fn="predict_proba")`, POST /invocations;
- `fastapi`: benchmarks/fastapi_baseline.py (uvicorn, the sklearn Pipeline on a one-row DataFrame).

MLServer runs in its own throwaway venv, built here with .tools/bin/uv from MLSERVER_PINS plus
scikit-learn/pandas/numpy/scipy/joblib/threadpoolctl pinned to exactly uv.lock's versions (read at run
time, so the model unpickles identically), cached under .deploy/bench-peers/<name>-<hash of pins>/. A peer
that cannot be installed or started is reported as unavailable (with the error), never a crash.

Figures per server: single-record p50/p99 over `--requests` sequential calls on a keep-alive connection;
throughput, p50/p99 at `--clients` concurrent clients for `--duration` seconds (minimal asyncio HTTP/1.1
client, one keep-alive connection per client; non-200 answers and broken connections are errors); server
CPU per request from /proc/<pid>/stat of the server's whole process tree. Before timing, every server must
give the same probability (abs 1e-9) for the same records, each sent in its own request format. Beside
them, in-process: CPU time of one model call on one record (one thread, best of `--calls`), through
`LoadedModel.proba_records` (compiled) and through the sklearn Pipeline's predict_proba.

Budgets (the serving issue, exit 1 when one fails): BentoML's single-record p50 <= 1.2x the FastAPI
baseline's, its throughput at 32 clients >= the baseline's, and no BentoML errors. Targets (the peers
issue, reported PASS/FAIL, never an exit code): p50 at 1 client <= 0.5x today's service and <= 1.0x the best
peer; throughput at 32 clients >= 1.5x the best peer; model call for 1 record <= 0.3 ms CPU.

Run: `.venv/bin/python benchmarks/serving.py [--requests 1000 --clients 32 --duration 10 --out PATH]`
(`--peers mlserver,mlflow,fastapi` to choose). Needs the packaged bento (`mlops package`; tags from
dist/package.json). Prints markdown tables, writes JSON to `--out`, and prints last
`bench-serving: <json path>: <one-line summary>`. Exits 1 when a budget fails, 2 when the harness itself
fails (our server did not start, the servers disagree).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
UV = ROOT / ".tools" / "bin" / "uv"
PEER_VENVS = ROOT / ".deploy" / "bench-peers"
BUDGET_P50_RATIO = 1.2  # BentoML single-record p50 <= 1.2x the baseline's
BUDGET_THROUGHPUT_RATIO = 1.0  # BentoML throughput at --clients >= the baseline's
TARGET_P50_VS_TODAY = 0.5  # our p50 at 1 client <= 0.5x today's (sklearn-path) service
TARGET_P50_VS_PEER = 1.0  # ... and <= 1.0x the best peer's
TARGET_RPS_VS_PEER = 1.5  # throughput at --clients >= 1.5x the best peer's
TARGET_MODEL_CALL_MS = 0.3  # CPU of one model call on one record
SAME_ANSWER = 1e-9  # |dp| every server must stay within, per record, before timing
HEADERS = {"content-type": "application/json"}
BENTO, TODAY, MLSERVER, MLFLOW, BASE = "bentoml", "bentoml-sklearn", "mlserver", "mlflow", "fastapi"
PEERS = (MLSERVER, MLFLOW, BASE)  # the best peer is the best of these (today's service is not a peer)
NAMES = {
    BENTO: "BentoML (ours)",
    TODAY: "BentoML sklearn path (today)",
    MLSERVER: "MLServer",
    MLFLOW: "mlflow models serve",
    BASE: "FastAPI baseline",
}
# MLServer's own venv. Chosen 2026-12-01 with a dry run (`uv pip install --dry-run mlserver mlserver-sklearn
# scikit-learn==<uv.lock> ...` on Python 3.11): 1.7.1 is the newest release and resolves with the lock's
# scikit-learn 1.9 / numpy 2.4 / pandas 2.3. The model's libraries are added from uv.lock at run time.
MLSERVER_PINS = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1")
# MLServer's adaptive batching: up to --clients requests, waiting at most 2 ms for a batch to fill (the
# window every single-client request also pays; ~1/4 of one Pipeline call).
MLSERVER_MAX_BATCH_SIZE = 32
MLSERVER_MAX_BATCH_TIME_S = 0.002
# The libraries the pickled Pipeline needs, at exactly the project's versions (from uv.lock).
MODEL_LIBS = ("scikit-learn", "pandas", "numpy", "scipy", "joblib", "threadpoolctl")
# mlflow is not a separate venv: `mlflow models serve --env-manager local` from the project's .venv, i.e.
# uv.lock's mlflow (the one the project already logs its models with).
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class HarnessError(RuntimeError):
    """The benchmark could not measure (our server did not start, answers disagree): exit 2."""


class UnavailableError(RuntimeError):
    """A peer that cannot be installed or started here: reported as unavailable, the others go on."""


# -- servers ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    cmd: list[str]
    port: int
    env: dict[str, str]
    log_path: Path
    path: str = "/predict"  # where records are POSTed
    ready_path: str = "/readyz"
    encode: Callable[[dict[str, Any]], bytes] = lambda record: json.dumps({"record": record}).encode()
    decode: Callable[[bytes], float] = lambda body: float(json.loads(body)["probability"])
    cwd: Path = ROOT
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    bodies: list[bytes] = field(default_factory=list)

    def start(self) -> None:
        self.started = time.perf_counter()
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches every worker it spawns
            )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> float:
        """Seconds from start until GET `ready_path` answers 200."""
        assert self.proc is not None
        while time.perf_counter() - self.started < timeout:
            if self.proc.poll() is not None:
                raise HarnessError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", self.ready_path)
                if conn.getresponse().status == 200:
                    conn.close()
                    return time.perf_counter() - self.started
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise HarnessError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def answers_from_this_process(self) -> bool:
        """The port is listened on by this server's own process tree (fixed ports collide between clones)."""
        inodes = set()
        for pid in self.family():
            with suppress(OSError):
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    with suppress(OSError):
                        link = str(fd.readlink())
                        if link.startswith("socket:["):
                            inodes.add(link[8:-1])
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with suppress(OSError):
                for line in Path(table).read_text().splitlines()[1:]:
                    cols = line.split()
                    listening = cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == self.port
                    if listening and cols[9] in inodes:
                        return True
        return False

    def family(self) -> dict[int, tuple[int, float]]:
        """pid -> (start time, CPU seconds) of the server and all its descendants. BentoML's workers run
        in their own session (circus calls setsid): neither session id nor process group finds them."""
        if self.proc is None:
            return {}
        table = processes()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        out, todo = {}, [self.proc.pid]
        while todo:
            pid = todo.pop()
            if pid in table:
                out[pid] = table[pid][1:]
                todo.extend(children.get(pid, []))
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU so far of the server and its workers."""
        return sum(cpu for _, cpu in self.family().values())

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the process group (graceful: BentoML flushes its prediction log), then SIGKILL, then
        SIGKILL to any descendant still alive (a worker in its own session whose parent died first)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        family = self.family()
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        time.sleep(0.5)  # let the arbiter's own shutdown of its workers finish
        alive = processes()
        for pid, (started, _) in family.items():
            if pid in alive and alive[pid][1] == started:  # the same process, not a reused pid
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def processes() -> dict[int, tuple[int, int, float]]:
    """pid -> (parent pid, start time in ticks, user + system CPU seconds), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        table[int(stat.parent.name)] = (
            int(fields[1]),
            int(fields[19]),
            (int(fields[11]) + int(fields[12])) / tick,
        )
    return table


@contextmanager
def running(
    servers: dict[str, Server], ready_timeout: float, unavailable: dict[str, str]
) -> Iterator[dict[str, float]]:
    """Start every server, wait until all are ready (seconds each), and always stop them all. A peer that
    does not start is stopped, dropped from `servers` and named in `unavailable`; ours must start."""
    with ExitStack() as stack:
        for server in servers.values():
            stack.callback(server.stop)
            server.start()
        ready = {}
        for name, server in list(servers.items()):
            try:
                ready[name] = round(server.wait_ready(ready_timeout), 2)
                if not server.answers_from_this_process():
                    raise HarnessError(f"{name}: port {server.port} is answered by another process")
            except HarnessError as exc:
                if name == BENTO:
                    raise
                server.stop()
                unavailable[name] = f"did not start: {exc}"
                del servers[name]
        yield ready


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    return cmd if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def base_env(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("BENTOML_HOME", str(ROOT / ".bentoml"))
    env.update(
        BENTOML_DO_NOT_TRACK="true",
        DO_NOT_TRACK="true",
        MLFLOW_DISABLE_TELEMETRY="true",
        MLOPS_MODEL_TAG=args.model_tag,
        MLOPS_PREDICTION_LOG_DIR=str(workdir / "predictions"),
        MLOPS_ACCESS_LOG="false",
    )
    return env


def sklearn_store(store: Path, model_tag: str, dest: Path) -> Path:
    """A copy of the BentoML store whose champion's metadata says `scoring_path: sklearn`: the same bento
    and service code, served the way it was before the compiled path (runtime.load_packaged has no switch)."""
    shutil.copytree(store, dest, symlinks=True)
    name, version = model_tag.split(":", 1)
    meta = dest / "models" / name / version / "model.yaml"
    text = meta.read_text()
    flipped, count = re.subn(r"(?m)^(\s+scoring_path:\s*)\S+\s*$", r"\1sklearn", text)
    if count != 1:
        raise HarnessError(f"{meta}: no scoring_path in the model's metadata to flip")
    meta.write_text(flipped)
    return dest


def build_servers(
    args: argparse.Namespace,
    workdir: Path,
    server_cpu: int | None,
    peers: dict[str, dict[str, Any]],
    unavailable: dict[str, str],
) -> dict[str, Server]:
    env = base_env(args, workdir)

    def bento(name: str, home: str) -> Server:
        port = free_port()
        cmd = [str(BIN / "bentoml"), "serve", args.bento_tag, "--host", "127.0.0.1", "--port", str(port)]
        return Server(
            name, pinned(cmd, server_cpu), port, env | {"BENTOML_HOME": home}, workdir / f"{name}.log"
        )

    servers = {BENTO: bento(BENTO, env["BENTOML_HOME"])}
    if args.today:
        copy = sklearn_store(Path(env["BENTOML_HOME"]), args.model_tag, workdir / "bentoml-sklearn-store")
        servers[TODAY] = bento(TODAY, str(copy))
    if BASE in args.peers:
        port = free_port()
        cmd = [
            sys.executable,
            str(ROOT / "benchmarks" / "fastapi_baseline.py"),
            "--port",
            str(port),
            "--model-tag",
            args.model_tag,
        ]
        servers[BASE] = Server(BASE, pinned(cmd, server_cpu), port, env | THREAD_ENV, workdir / "fastapi.log")
    for name, peer in peers.items():
        try:
            servers[name] = peer["build"](args, workdir, server_cpu, env | THREAD_ENV, peer)
        except UnavailableError as exc:
            unavailable[name] = str(exc)
    return servers


# -- peers -----------------------------------------------------------------------------------------


def locked_versions(lock: Path, names: tuple[str, ...] = MODEL_LIBS) -> dict[str, str]:
    """name -> version of `names` in uv.lock (its [[package]] tables: name = "...", then version = "...")."""
    found = dict(re.findall(r'(?m)^\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', lock.read_text()))
    missing = [n for n in names if n not in found]
    if missing:
        raise UnavailableError(f"{lock}: no locked version of {', '.join(missing)}")
    return {n: found[n] for n in names}


def peer_venv(name: str, pins: tuple[str, ...], log: Path) -> Path:
    """A throwaway venv with exactly `pins` + the model's libraries at uv.lock's versions, built once per
    set of pins under .deploy/bench-peers/<name>-<hash>/ (the project's lock never sees it)."""
    locked = locked_versions(ROOT / "uv.lock")
    requirements = sorted([*pins, *(f"{n}=={v}" for n, v in locked.items())])
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    digest = hashlib.sha256("\n".join([python, *requirements]).encode()).hexdigest()[:12]
    venv = PEER_VENVS / f"{name}-{digest}"
    if (venv / ".complete").exists():
        return venv
    if not UV.exists():
        raise UnavailableError(f"{UV} not found: cannot build the {name} venv")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [str(UV), "venv", "--quiet", "--python", python, str(venv)],
        [str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *requirements],
    ]
    with log.open("ab") as out:
        for cmd in steps:
            try:
                done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=600, check=False)
            except subprocess.TimeoutExpired as exc:
                raise UnavailableError(f"{name}: `{' '.join(cmd[:3])} ...` timed out after 600 s") from exc
            if done.returncode:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
                raise UnavailableError(f"{name}: `{' '.join(cmd[:3])} ...` exited {done.returncode}:\n{tail}")
    (venv / ".complete").write_text("\n".join(requirements) + "\n")
    return venv


def v2_types(records: list[dict[str, Any]]) -> dict[str, str]:
    """Column -> V2 datatype, from the first non-null value of each column (null-only: FP64)."""
    types: dict[str, str] = {}
    for record in records:
        for key, value in record.items():
            if types.get(key) or value is None:
                types.setdefault(key, "")
                continue
            types[key] = (
                "BOOL"
                if isinstance(value, bool)
                else "INT64"
                if isinstance(value, int)
                else "FP64"
                if isinstance(value, float)
                else "BYTES"
            )
    return {k: v or "FP64" for k, v in types.items()}


def v2_request(record: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """One record as a V2 inference request MLServer's PandasCodec turns into a one-row DataFrame with the
    record's column names (one input per column; a null float decodes to NaN)."""
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": k, "shape": [1, 1], "datatype": types[k], "data": [v]} for k, v in record.items()
        ],
    }


def v2_probability(body: bytes) -> float:
    """P(positive) from a V2 response of predict_proba: output shape [1, 2], data row-major."""
    out = json.loads(body)["outputs"][0]
    data = out["data"]
    while data and isinstance(data[0], list):  # some encoders nest the rows
        data = [x for row in data for x in row]
    if out.get("shape", [1, 2])[-1] != 2 or len(data) != 2:
        raise ValueError(f"not one predict_proba row: shape {out.get('shape')}, {len(data)} values")
    return float(data[1])


def mlflow_probability(body: bytes) -> float:
    """P(positive) from `mlflow models serve`: {"predictions": [[p0, p1]]}."""
    row = json.loads(body)["predictions"][0]
    return float(row[1] if isinstance(row, list) else row["1"] if "1" in row else list(row.values())[1])


def build_mlserver(
    args: argparse.Namespace, workdir: Path, cpu: int | None, env: dict[str, str], peer: dict[str, Any]
) -> Server:
    venv = peer_venv(MLSERVER, MLSERVER_PINS, workdir / "mlserver-venv.log")
    repo = workdir / "mlserver"
    (repo / "churn").mkdir(parents=True)
    shutil.copy2(peer["model_file"], repo / "churn" / "model.joblib")
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),  # always started; a free port so it never collides
        "metrics_port": free_port(),
        "metrics_endpoint": None,  # no metrics server
        "parallel_workers": 0,  # inference in the server process itself: one process, one core
        "debug": False,
    }
    model = {
        "name": "churn",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "max_batch_size": args.mlserver_batch_size,  # adaptive batching on
        "max_batch_time": args.mlserver_batch_time,
        "parameters": {"uri": "./model.joblib", "extra": {"predict_fn": "predict_proba"}},
    }
    (repo / "settings.json").write_text(json.dumps(settings))
    (repo / "churn" / "model-settings.json").write_text(json.dumps(model))
    types = peer["types"]
    return Server(
        MLSERVER,
        pinned([str(venv / "bin" / "mlserver"), "start", str(repo)], cpu),
        port,
        env | {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"},
        workdir / "mlserver.log",
        path="/v2/models/churn/infer",
        ready_path="/v2/models/churn/ready",
        encode=lambda record: json.dumps(v2_request(record, types)).encode(),
        decode=v2_probability,
        cwd=repo,
    )


def build_mlflow(
    args: argparse.Namespace, workdir: Path, cpu: int | None, env: dict[str, str], peer: dict[str, Any]
) -> Server:
    model_dir = workdir / "mlflow-model"
    save = (
        "import sys, joblib, mlflow.sklearn\n"
        "mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2], serialization_format='pickle',\n"
        "    pyfunc_predict_fn='predict_proba', pip_requirements=sys.argv[3:])\n"
    )
    locked = locked_versions(ROOT / "uv.lock", (*MODEL_LIBS, "mlflow"))
    reqs = [f"{n}=={v}" for n, v in locked.items()]
    done = subprocess.run(
        [sys.executable, "-c", save, str(peer["model_file"]), str(model_dir), *reqs],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode:
        raise UnavailableError(f"mlflow: save_model exited {done.returncode}: {done.stderr[-1500:]}")
    port = free_port()
    cmd = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    return Server(
        MLFLOW,
        pinned(cmd, cpu),
        port,
        env | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        workdir / "mlflow.log",
        path="/invocations",
        ready_path="/ping",
        encode=lambda record: json.dumps({"dataframe_records": [record]}).encode(),
        decode=mlflow_probability,
    )


PEER_BUILDERS: dict[str, Callable[..., Server]] = {MLSERVER: build_mlserver, MLFLOW: build_mlflow}


# -- payloads --------------------------------------------------------------------------------------


def payloads(rows: int, seed: int) -> list[dict[str, Any]]:
    """Realistic request records from the project's generator (target dropped, dates ISO, NaN -> null)."""
    from mlops.generate import generate

    frame = generate(rows=rows, seed=seed).drop(columns=["churned"])
    frame["event_date"] = frame["event_date"].dt.strftime("%Y-%m-%d")
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))  # NaN -> null, numpy -> JSON
    return records


# -- in-process model call -------------------------------------------------------------------------


def model_call_cpu(model_tag: str, records: list[dict[str, Any]], calls: int) -> dict[str, Any]:
    """CPU ms of one model call on one record, this thread only (thread_time), one native thread: best and
    median of `calls`, through LoadedModel.proba_records (the path packaging chose) and the Pipeline."""
    import pandas as pd
    from threadpoolctl import threadpool_limits

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from fastapi_baseline import load

    loaded = load(model_tag)
    out: dict[str, Any] = {"scoring_path": loaded.scoring}
    with threadpool_limits(1):
        for label, call in (
            ("proba_records", lambda r: loaded.proba_records([r])),
            ("sklearn_pipeline", lambda r: loaded.model.predict_proba(pd.DataFrame.from_records([r]))),
        ):
            for r in records[:20]:  # warm-up: first-call costs (threadpoolctl scan, caches)
                call(r)
            times = []
            for i in range(calls):
                record = records[i % len(records)]
                start = time.thread_time_ns()
                call(record)
                times.append((time.thread_time_ns() - start) / 1e6)
            out[label] = {
                "best_ms": round(min(times), 4),
                "median_ms": round(statistics.median(times), 4),
                "calls": calls,
            }
    return out


# -- single-record latency -------------------------------------------------------------------------


def post(conn: http.client.HTTPConnection, body: bytes, path: str = "/predict") -> tuple[int, bytes]:
    conn.request("POST", path, body=body, headers=HEADERS)
    resp = conn.getresponse()
    return resp.status, resp.read()


def check_same_answers(servers: dict[str, Server], sample: int) -> dict[str, float]:
    """Every server must score the first `sample` records like ours does (abs SAME_ANSWER), each record
    sent in the server's own request format: same model, same answers, before anything is timed."""
    conns = {name: http.client.HTTPConnection("127.0.0.1", s.port, timeout=30) for name, s in servers.items()}
    worst = dict.fromkeys(servers, 0.0)
    try:
        for i in range(sample):
            probs = {}
            for name, conn in conns.items():
                server = servers[name]
                status, data = post(conn, server.bodies[i], server.path)
                if status != 200:
                    raise HarnessError(f"{name} answered {status} to a valid record: {data[:300]!r}")
                try:
                    probs[name] = server.decode(data)
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise HarnessError(f"{name}: unreadable answer {data[:300]!r}: {exc}") from exc
            for name, p in probs.items():
                worst[name] = max(worst[name], abs(p - probs[BENTO]))
    finally:
        for conn in conns.values():
            conn.close()
    if bad := {n: w for n, w in worst.items() if w > SAME_ANSWER}:
        raise HarnessError(f"servers disagree with ours on the same records (max |dp|: {bad})")
    return {n: float(f"{w:.3g}") for n, w in worst.items()}


def order_of(names: list[str], r: int) -> list[str]:
    """Round r's order: rotated by r, reversed every other round, so no server always goes first/last."""
    k = r % len(names)
    rotated = names[k:] + names[:k]
    return rotated if r % 2 == 0 else rotated[::-1]


def sequential(server: Server, chunk: list[int]) -> tuple[list[float], int]:
    """Latencies (ms) of sequential requests (record indices `chunk`) on one keep-alive connection, and
    the error count.

    A fresh connection per round, opened by one untimed request: servers close idle keep-alive
    connections after a few seconds (uvicorn's default is 5 s) while the other servers are measured."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    latencies, errors = [], 0
    try:
        post(conn, server.bodies[chunk[0]], server.path)
        for i in chunk:
            start = time.perf_counter_ns()
            try:
                status, _ = post(conn, server.bodies[i], server.path)
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()  # http.client reconnects on the next request
                continue
            latencies.append((time.perf_counter_ns() - start) / 1e6)
            errors += status != 200
    finally:
        conn.close()
    return latencies, errors


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def measure_latency(servers: dict[str, Server], records: int, requests: int, rounds: int) -> dict[str, Any]:
    lat: dict[str, list[float]] = {name: [] for name in servers}
    errors = dict.fromkeys(servers, 0)
    per_round = max(1, requests // rounds)
    for r in range(rounds):
        chunk = [(r * per_round + i) % records for i in range(per_round)]
        for name in order_of(list(servers), r):
            values, errs = sequential(servers[name], chunk)
            lat[name].extend(values)
            errors[name] += errs
    return {
        name: {
            "requests": len(values),
            "errors": errors[name],
            "p50_ms": round(percentile(values, 50), 3),
            "p90_ms": round(percentile(values, 90), 3),
            "p99_ms": round(percentile(values, 99), 3),
            "mean_ms": round(statistics.fmean(values), 3),
            "round_p50_ms": [
                round(percentile(values[i : i + per_round], 50), 3) for i in range(0, len(values), per_round)
            ],
        }
        for name, values in lat.items()
    }


# -- throughput ------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    ok: int = 0
    errors: int = 0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    def add(self, other: LoadResult) -> None:
        self.ok += other.ok
        self.errors += other.errors
        self.wall_s += other.wall_s
        self.client_cpu_s += other.client_cpu_s
        self.server_cpu_s += other.server_cpu_s
        self.latencies_ms.extend(other.latencies_ms)
        self.error_samples.extend(other.error_samples[: 5 - len(self.error_samples)])

    def record(self, start_ns: int, status: int, text: str) -> None:
        self.latencies_ms.append((time.perf_counter_ns() - start_ns) / 1e6)
        if status == 200:
            self.ok += 1
            return
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{status}: {text[:200]}")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 response (content-length or chunked body)."""
    head = (await reader.readuntil(b"\r\n\r\n")).lower()  # header names are case-insensitive
    status = int(head.split(b" ", 2)[1])
    headers = {
        k.strip(): v.strip() for k, v in (ln.split(b":", 1) for ln in head.split(b"\r\n")[1:] if b":" in ln)
    }
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif b"chunked" in headers.get(b"transfer-encoding", b""):
        parts = []
        while size := int((await reader.readline()).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")  # the empty trailer line
        body = b"".join(parts)
    else:
        raise ValueError("response without content-length on a keep-alive connection")
    return status, body, b"close" not in headers.get(b"connection", b"")


async def _raw_worker(
    port: int, requests: list[bytes], offset: int, step: int, deadline: float, result: LoadResult
) -> None:
    """One keep-alive connection of a minimal HTTP/1.1 client: far cheaper per request than httpx, so one
    client core can drive the server core without becoming the bottleneck."""
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    i = offset
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter_ns()
            try:
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1", port)
                conn[1].write(requests[i % len(requests)])
                status, body, keep = await asyncio.wait_for(read_response(conn[0]), 30.0)
                result.record(start, status, body.decode(errors="replace"))
                if not keep:
                    conn[1].close()
                    conn = None
            except (
                OSError,
                ValueError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                TimeoutError,
            ) as exc:
                result.record(start, -1, repr(exc))
                if conn is not None:
                    conn[1].close()
                conn = None
            i += step
    finally:
        if conn is not None:
            conn[1].close()


async def _httpx_worker(
    client: httpx.AsyncClient,
    path: str,
    data: list[bytes],
    offset: int,
    step: int,
    deadline: float,
    result: LoadResult,
) -> None:
    i = offset
    while time.perf_counter() < deadline:
        start = time.perf_counter_ns()
        try:
            resp = await client.post(path, content=data[i % len(data)])
            result.record(start, resp.status_code, resp.text)
        except httpx.HTTPError as exc:
            result.record(start, -1, repr(exc))
        i += step


async def _load(
    port: int, path: str, data: list[bytes], clients: int, duration: float, kind: str
) -> LoadResult:
    result = LoadResult()
    started, cpu0 = time.perf_counter(), time.process_time()
    deadline = started + duration
    if kind == "raw":
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        requests = [f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body for body in data]
        await asyncio.gather(
            *(_raw_worker(port, requests, k, clients, deadline, result) for k in range(clients))
        )
    else:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30.0, headers=HEADERS
        ) as client:
            await asyncio.gather(
                *(_httpx_worker(client, path, data, k, clients, deadline, result) for k in range(clients))
            )
    result.wall_s = time.perf_counter() - started  # includes the requests in flight at the deadline
    result.client_cpu_s = time.process_time() - cpu0
    return result


def load(server: Server, clients: int, duration: float, kind: str) -> LoadResult:
    cpu0 = server.cpu_seconds()
    result = asyncio.run(_load(server.port, server.path, server.bodies, clients, duration, kind))
    result.server_cpu_s = server.cpu_seconds() - cpu0
    return result


def measure_throughput(
    servers: dict[str, Server], clients: int, duration: float, rounds: int, kind: str
) -> dict[str, Any]:
    totals = {name: LoadResult() for name in servers}
    per_round: dict[str, list[float]] = {name: [] for name in servers}
    for r in range(rounds):
        for name in order_of(list(servers), r):
            res = load(servers[name], clients, duration / rounds, kind)
            totals[name].add(res)
            per_round[name].append(round(res.ok / res.wall_s, 1))
    out: dict[str, Any] = {}
    for name, t in totals.items():
        done = t.ok + t.errors
        out[name] = {
            "clients": clients,
            "ok": t.ok,
            "errors": t.errors,
            "error_samples": t.error_samples,
            "wall_s": round(t.wall_s, 2),
            "rps": round(t.ok / t.wall_s, 1) if t.wall_s else 0.0,
            "round_rps": per_round[name],
            "p50_ms": round(percentile(t.latencies_ms, 50), 2) if t.latencies_ms else None,
            "p99_ms": round(percentile(t.latencies_ms, 99), 2) if t.latencies_ms else None,
            "server_cpu_ms_per_request": round(1000 * t.server_cpu_s / max(done, 1), 3),
            "server_cpu_utilisation": round(t.server_cpu_s / t.wall_s, 2),
            "client_cpu_utilisation": round(t.client_cpu_s / t.wall_s, 2),
        }
    return out


# -- report ----------------------------------------------------------------------------------------


def figures(lat: dict[str, Any], thr: dict[str, Any], clients: int) -> list[tuple[str, str, str]]:
    """(label, section, key) of every per-server figure, in table order."""
    return [
        ("single-record p50 (ms), 1 client", "latency", "p50_ms"),
        ("single-record p99 (ms), 1 client", "latency", "p99_ms"),
        (f"throughput (req/s), {clients} clients", "throughput", "rps"),
        (f"latency p50 (ms), {clients} clients", "throughput", "p50_ms"),
        (f"latency p99 (ms), {clients} clients", "throughput", "p99_ms"),
        (f"server CPU per request (ms), {clients} clients", "throughput", "server_cpu_ms_per_request"),
        ("errors (non-200 or broken), all phases", "errors", "errors"),
    ]


def errors_of(lat: dict[str, Any], thr: dict[str, Any], name: str) -> int:
    return int(lat[name]["errors"] + thr[name]["errors"])


def best_peer(values: dict[str, float | None], higher: bool) -> tuple[str | None, float | None]:
    """The best of the peers that were measured (lowest latency / highest throughput)."""
    measured = {n: v for n, v in values.items() if n in PEERS and v is not None}
    if not measured:
        return None, None
    name = (max if higher else min)(measured, key=lambda n: measured[n])
    return name, measured[name]


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def verdicts(lat: dict[str, Any], thr: dict[str, Any], clients: int) -> list[dict[str, Any]]:
    """The serving issue's budgets, ours vs the FastAPI baseline (these set the exit code)."""

    def row(figure: str, b: float, f: float, budget: str, ok: bool, use_ratio: bool = True) -> dict[str, Any]:
        return {
            "figure": figure,
            BENTO: b,
            BASE: f,
            "ratio": ratio(b, f) if use_ratio else None,
            "budget": budget,
            "passed": ok,
        }

    if BASE not in lat:
        return [row("FastAPI baseline", math.nan, math.nan, "baseline unavailable", False, False)]
    p50 = lat[BENTO]["p50_ms"] / lat[BASE]["p50_ms"]
    rps = thr[BENTO]["rps"] / thr[BASE]["rps"] if thr[BASE]["rps"] else math.inf
    errs = errors_of(lat, thr, BENTO)
    return [
        row(
            "single-record p50 (ms), 1 client",
            lat[BENTO]["p50_ms"],
            lat[BASE]["p50_ms"],
            f"<= {BUDGET_P50_RATIO}x",
            p50 <= BUDGET_P50_RATIO,
        ),
        row(
            f"throughput (req/s), {clients} clients",
            thr[BENTO]["rps"],
            thr[BASE]["rps"],
            f">= {BUDGET_THROUGHPUT_RATIO}x",
            rps >= BUDGET_THROUGHPUT_RATIO,
        ),
        row("errors, BentoML", errs, errors_of(lat, thr, BASE), "BentoML: 0", errs == 0, False),
    ]


def targets(
    lat: dict[str, Any], thr: dict[str, Any], call: dict[str, Any], clients: int
) -> list[dict[str, Any]]:
    """The peers issue's targets: reported PASS/FAIL (None = not measurable here), never an exit code."""
    ours_p50, ours_rps = lat[BENTO]["p50_ms"], thr[BENTO]["rps"]
    peer_p50_name, peer_p50 = best_peer({n: v["p50_ms"] for n, v in lat.items()}, higher=False)
    peer_rps_name, peer_rps = best_peer({n: v["rps"] for n, v in thr.items()}, higher=True)
    today = lat.get(TODAY, {}).get("p50_ms")
    model_ms = call["proba_records"]["best_ms"]

    def row(target: str, value: float | None, bound: float, vs: str | None, lower: bool) -> dict[str, Any]:
        ok = None if value is None else value <= bound if lower else value >= bound
        return {"target": target, "value": value, "bound": bound, "vs": vs, "passed": ok}

    return [
        row(
            "p50 at 1 client / today's service (sklearn path)",
            ratio(ours_p50, today),
            TARGET_P50_VS_TODAY,
            TODAY if today else None,
            True,
        ),
        row(
            "p50 at 1 client / best peer", ratio(ours_p50, peer_p50), TARGET_P50_VS_PEER, peer_p50_name, True
        ),
        row(
            f"throughput at {clients} clients / best peer",
            ratio(ours_rps, peer_rps),
            TARGET_RPS_VS_PEER,
            peer_rps_name,
            False,
        ),
        row("model call, 1 record (ms CPU, best of N)", model_ms, TARGET_MODEL_CALL_MS, None, True),
    ]


def fmt(v: Any) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else "PASS" if passed else "**FAIL**"


def markdown(result: dict[str, Any]) -> str:
    """Rows = figures, columns = servers (unavailable ones marked) + our ratios; then targets, budgets."""
    lat, thr, clients = result["latency"], result["throughput"], result["config"]["clients"]
    names = [n for n in NAMES if n in lat or n in result["unavailable"]]
    head = [NAMES[n] + ("" if n in lat else " (unavailable)") for n in names]
    lines = [
        "| figure | " + " | ".join(head) + " | ours / today | ours / best peer |",
        "|---|" + "---:|" * len(names) + "---:|---:|",
    ]
    for label, section, key in figures(lat, thr, clients):
        if section == "errors":
            values = {n: errors_of(lat, thr, n) for n in lat}
        else:
            values = {n: result[section][n][key] for n in lat}
        higher = key == "rps"
        _, peer = best_peer(values, higher) if key != "errors" else (None, None)
        vs_today = ratio(values[BENTO], values.get(TODAY)) if key != "errors" else None
        vs_peer = ratio(values[BENTO], peer)
        cells = [fmt(values.get(n)) for n in names]
        lines.append(
            f"| {label} | " + " | ".join(cells) + f" | {fmt_ratio(vs_today)} | {fmt_ratio(vs_peer)} |"
        )
    call = result["model_call"]
    compiled, pipeline = call["proba_records"]["best_ms"], call["sklearn_pipeline"]["best_ms"]
    in_process = {BENTO: f"{compiled:g} ({call['scoring_path']})", TODAY: f"{pipeline:g} (Pipeline)"}
    lines.append(
        f"| model call, 1 record, in-process (ms CPU, best of {call['proba_records']['calls']}) | "
        + " | ".join(in_process.get(n, "-") for n in names)
        + f" | {fmt_ratio(ratio(compiled, pipeline))} | - |"
    )
    lines += ["", "| target | value | bound | against | result |", "|---|---:|---|---|---|"]
    for t in result["targets"]:
        sign = "<=" if "throughput" not in t["target"] else ">="
        vs = NAMES.get(t["vs"], "-") if t["vs"] else "-"
        lines.append(
            f"| {t['target']} | {fmt(t['value'])} | {sign} {t['bound']:g} | {vs} | {verdict(t['passed'])} |"
        )
    lines += [
        "",
        "| budget (vs FastAPI baseline, exit code) | BentoML | FastAPI baseline | ratio | budget | result |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in result["budgets"]:
        lines.append(
            f"| {r['figure']} | {fmt(r[BENTO])} | {fmt(r[BASE])} | {fmt_ratio(r['ratio'])} | {r['budget']} | "
            f"{verdict(r['passed'])} |"
        )
    return "\n".join(lines)


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def summary(result: dict[str, Any]) -> str:
    """The one line `make bench-serving` ends with."""
    lat, thr = result["latency"], result["throughput"]
    parts = [f"ours p50 {lat[BENTO]['p50_ms']:g} ms, {thr[BENTO]['rps']:g} req/s"]
    for t in result["targets"]:
        short = t["target"].split(" (")[0].replace(" at 1 client", "").replace("throughput at ", "rps@")
        parts.append(f"{short} {fmt(t['value'])} {verdict(t['passed']).strip('*')}")
    met = sum(t["passed"] is True for t in result["targets"])
    parts.append(f"targets {met}/{len(result['targets'])}")
    parts.append("budgets met" if result["passed"] else "BUDGET FAILED")
    if result["unavailable"]:
        parts.append("unavailable: " + ", ".join(result["unavailable"]))
    return "; ".join(parts)


# -- main ------------------------------------------------------------------------------------------


def default_tags() -> tuple[str | None, str | None]:
    path = ROOT / "dist" / "package.json"
    if not path.exists():
        return None, None
    info = json.loads(path.read_text())
    return info.get("bento_tag"), info.get("model_tag")


def cpus(args: argparse.Namespace) -> tuple[int | None, int | None]:
    """(server core, client core); no pinning when fewer than two cores are available."""
    available = sorted(os.sched_getaffinity(0))
    if args.server_cpu in available and args.client_cpu in available and args.server_cpu != args.client_cpu:
        return args.server_cpu, args.client_cpu
    if len(available) >= 2 and args.server_cpu == args.client_cpu:
        raise SystemExit("--server-cpu and --client-cpu must differ")
    print(f"warning: cores {available}: servers and client are not pinned", file=sys.stderr)
    return None, None


def parse(argv: list[str] | None) -> argparse.Namespace:
    bento_tag, model_tag = default_tags()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests per server (latency)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (throughput)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per server")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved latency rounds")
    parser.add_argument("--load-rounds", type=int, default=2, help="interleaved throughput rounds")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: minimal asyncio HTTP/1.1 client (default) or httpx.AsyncClient (~10x the CPU)",
    )
    parser.add_argument(
        "--peers",
        type=lambda s: [p for p in s.split(",") if p],
        default=list(PEERS),
        help=f"comma-separated subset of {','.join(PEERS)} (default: all)",
    )
    parser.add_argument(
        "--no-today", dest="today", action="store_false", help="skip today's (sklearn-path) service"
    )
    parser.add_argument("--mlserver-batch-size", type=int, default=MLSERVER_MAX_BATCH_SIZE)
    parser.add_argument("--mlserver-batch-time", type=float, default=MLSERVER_MAX_BATCH_TIME_S, help="s")
    parser.add_argument("--calls", type=int, default=2000, help="in-process model calls (best of)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per server")
    parser.add_argument("--records", type=int, default=1000, help="distinct generated records")
    parser.add_argument("--check", type=int, default=50, help="records every server must answer alike")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--bento-tag", default=bento_tag, help="default: dist/package.json bento_tag")
    parser.add_argument("--model-tag", default=model_tag, help="default: dist/package.json model_tag")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "serving.json")
    args = parser.parse_args(argv)
    if not args.bento_tag or not args.model_tag:
        parser.error("no bento: run `mlops package` (dist/package.json) or pass --bento-tag and --model-tag")
    if unknown := set(args.peers) - set(PEERS):
        parser.error(f"unknown peers {sorted(unknown)}: choose from {','.join(PEERS)}")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    server_cpu, client_cpu = cpus(args)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})  # the load generator never competes with the servers' core
    records = payloads(args.records, seed=7)
    call = model_call_cpu(args.model_tag, records, args.calls)
    unavailable: dict[str, str] = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        from mlops.adapters import bento as bento_store

        model_file = (
            bento_store.model(args.model_tag).path / "model.joblib"
        )  # the very bytes the bento serves
        peers = {
            name: {"build": PEER_BUILDERS[name], "model_file": model_file, "types": v2_types(records)}
            for name in args.peers
            if name in PEER_BUILDERS
        }
        servers = build_servers(args, workdir, server_cpu, peers, unavailable)
        for server in servers.values():
            server.bodies = [server.encode(r) for r in records]
        with running(servers, args.ready_timeout, unavailable) as ready:
            scoring = {n: scoring_of(s) for n, s in servers.items() if n in (BENTO, TODAY)}
            if TODAY in scoring and scoring[TODAY] != "sklearn":
                raise HarnessError(f"today's service serves on {scoring[TODAY]!r}, not the sklearn path")
            worst = check_same_answers(servers, min(args.check, len(records)))
            measure_latency(servers, len(records), args.warmup, rounds=2)  # warm-up: imports, caches
            for server in servers.values():
                load(server, args.clients, 2.0, args.client)
            lat = measure_latency(servers, len(records), args.requests, args.rounds)
            thr = measure_throughput(servers, args.clients, args.duration, args.load_rounds, args.client)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = verdicts(lat, thr, args.clients)
    result = {
        "config": {k: v for k, v in vars(args).items() if k not in {"out"}}
        | {
            "server_cpu_pinned": server_cpu,
            "client_cpu_pinned": client_cpu,
            "mlserver_pins": MLSERVER_PINS,
            "model_libs": locked_versions(ROOT / "uv.lock", (*MODEL_LIBS, "mlflow")),
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "node": platform.node()},
        "servers": {n: NAMES[n] for n in lat},
        "unavailable": unavailable,
        "ready_s": ready,
        "scoring": scoring,
        "max_abs_diff_vs_ours": worst,
        "model_call": call,
        "latency": lat,
        "throughput": thr,
        "budgets": rows,
        "passed": all(r["passed"] is not False for r in rows),
    }
    result["targets"] = targets(lat, thr, call, args.clients)
    return result


def scoring_of(server: Server) -> str | None:
    """The champion's scoring path as the running service reports it (mlops_model_info on /metrics)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode(errors="replace")
        conn.close()
    except (OSError, http.client.HTTPException):
        return None
    match = re.search(r'mlops_model_info\{[^}]*role="champion"[^}]*scoring="(\w+)"', text) or re.search(
        r'mlops_model_info\{[^}]*scoring="(\w+)"', text
    )
    return match.group(1) if match else None


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        result = run(args)
    except HarnessError as exc:
        print(f"serving benchmark failed to measure: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print()
    for name in result["servers"]:
        t = result["throughput"][name]
        print(
            f"{NAMES[name]}: ready {result['ready_s'].get(name)} s; latency round p50s "
            f"{result['latency'][name]['round_p50_ms']} ms; throughput rounds {t['round_rps']} req/s; "
            f"server CPU {t['server_cpu_utilisation']:.0%}, client CPU {t['client_cpu_utilisation']:.0%}"
            + (f"; errors e.g. {t['error_samples'][:2]}" if t["error_samples"] else "")
        )
    for name, why in result["unavailable"].items():
        print(f"{NAMES[name]}: UNAVAILABLE: {why}")
    for t in result["targets"]:
        print(f"{verdict(t['passed']).strip('*')}: {t['target']}: {fmt(t['value'])} (bound {t['bound']:g})")
    print(f"bench-serving: {args.out}: {summary(result)}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
