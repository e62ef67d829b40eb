"""Serving budgets: the packaged bento beside a minimal FastAPI app serving the same model, in one run.

Both servers run on 127.0.0.1, each pinned to the same single core (`taskset -c`, default core 0); the
load generator is pinned to another core (default 1). The machine is shared and noisy, so the two are
measured in interleaved rounds (A B, then B A, ...) and noise hits both alike. Figures:

- single-record latency, one client: p50 and p99 over `--requests` sequential POST /predict calls on a
  keep-alive connection (http.client);
- throughput at `--clients` concurrent clients for `--duration` seconds per server: one asyncio task and
  one keep-alive connection per client, counting non-200 answers (and broken connections) as errors.
  The default client is a minimal HTTP/1.1 client on asyncio streams: httpx.AsyncClient (`--client
  httpx`) spends ~3 ms of CPU per request here and saturates the client core near 300 req/s, which
  would cap the figure being measured. Client and server CPU use are reported beside the figures.

Budgets (the serving issue): BentoML's single-record p50 <= 1.2x the baseline's, BentoML's throughput at
32 clients >= the baseline's, and no BentoML errors. Before measuring, both servers must give the same
probability for the same records (same model, same scoring path).

Run: `.venv/bin/python benchmarks/serving.py [--requests 2000 --clients 32 --duration 15 --out PATH]`.
Needs the packaged bento (`mlops package`; tags from dist/package.json). Prints a markdown table, writes
JSON to `--out`, exits 1 when a budget fails, 2 when the harness itself fails (a server did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BUDGET_P50_RATIO = 1.2  # BentoML single-record p50 <= 1.2x the baseline's
BUDGET_THROUGHPUT_RATIO = 1.0  # BentoML throughput at --clients >= the baseline's
HEADERS = {"content-type": "application/json"}
BENTO, BASE = "bentoml", "fastapi"
NAMES = {BENTO: "BentoML", BASE: "FastAPI baseline"}


class HarnessError(RuntimeError):
    """The benchmark could not measure (a server did not start, answers disagree): exit 2."""


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
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches every worker it spawns
            )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> float:
        """Seconds from start until GET /readyz answers 200."""
        assert self.proc is not None
        while time.perf_counter() - self.started < timeout:
            if self.proc.poll() is not None:
                raise HarnessError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return time.perf_counter() - self.started
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise HarnessError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

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
def running(servers: list[Server], ready_timeout: float) -> Iterator[dict[str, float]]:
    """Start every server, wait until all are ready (seconds each), and always stop them all."""
    with ExitStack() as stack:
        for server in servers:
            stack.callback(server.stop)
            server.start()
        yield {s.name: round(s.wait_ready(ready_timeout), 2) for s in servers}


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    return cmd if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def build_servers(args: argparse.Namespace, workdir: Path, server_cpu: int | None) -> dict[str, Server]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("BENTOML_HOME", str(ROOT / ".bentoml"))
    env.update(
        BENTOML_DO_NOT_TRACK="true",
        DO_NOT_TRACK="true",
        MLOPS_MODEL_TAG=args.model_tag,
        MLOPS_PREDICTION_LOG_DIR=str(workdir / "predictions"),
        MLOPS_ACCESS_LOG="false",
    )
    bento_port, base_port = free_port(), free_port()
    bento_cmd = [
        str(BIN / "bentoml"),
        "serve",
        args.bento_tag,
        "--host",
        "127.0.0.1",
        "--port",
        str(bento_port),
    ]
    base_cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "fastapi_baseline.py"),
        "--port",
        str(base_port),
        "--model-tag",
        args.model_tag,
    ]
    return {
        BENTO: Server(BENTO, pinned(bento_cmd, server_cpu), bento_port, env, workdir / "bentoml.log"),
        BASE: Server(BASE, pinned(base_cmd, server_cpu), base_port, env, workdir / "fastapi.log"),
    }


# -- payloads --------------------------------------------------------------------------------------


def payloads(rows: int, seed: int) -> list[dict[str, Any]]:
    """Realistic request records from the project's generator (target dropped, dates ISO, NaN -> null)."""
    from mlops.generate import generate

    frame = generate(rows=rows, seed=seed).drop(columns=["churned"])
    frame["event_date"] = frame["event_date"].dt.strftime("%Y-%m-%d")
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))  # NaN -> null, numpy -> JSON
    return records


def bodies(records: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps({"record": r}).encode() for r in records]


# -- single-record latency -------------------------------------------------------------------------


def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", "/predict", body=body, headers=HEADERS)
    resp = conn.getresponse()
    return resp.status, resp.read()


def check_same_answers(servers: dict[str, Server], sample: list[bytes]) -> float:
    """Both servers must score the sample identically (the same model through the same scoring path)."""
    conns = {name: http.client.HTTPConnection("127.0.0.1", s.port, timeout=30) for name, s in servers.items()}
    worst = 0.0
    try:
        for body in sample:
            probs = {}
            for name, conn in conns.items():
                status, data = post(conn, body)
                if status != 200:
                    raise HarnessError(f"{name} answered {status} to a valid record: {data[:300]!r}")
                probs[name] = float(json.loads(data)["probability"])
            worst = max(worst, abs(probs[BENTO] - probs[BASE]))
    finally:
        for conn in conns.values():
            conn.close()
    if worst > 1e-9:
        raise HarnessError(f"the servers disagree on the same records (max |dp| = {worst:.3g})")
    return worst


def sequential(port: int, chunk: list[bytes]) -> tuple[list[float], int]:
    """Latencies (ms) of sequential requests on one keep-alive connection, and the error count.

    A fresh connection per round, opened by one untimed request: servers close idle keep-alive
    connections after a few seconds (uvicorn's default is 5 s) while the other server is measured."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors = [], 0
    try:
        post(conn, chunk[0])
        for body in chunk:
            start = time.perf_counter_ns()
            try:
                status, _ = post(conn, body)
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


def measure_latency(
    servers: dict[str, Server], data: list[bytes], requests: int, rounds: int
) -> dict[str, Any]:
    lat: dict[str, list[float]] = {name: [] for name in servers}
    errors = dict.fromkeys(servers, 0)
    per_round = max(1, requests // rounds)
    for r in range(rounds):
        chunk = [data[(r * per_round + i) % len(data)] for i in range(per_round)]
        order = list(servers) if r % 2 == 0 else list(reversed(servers))
        for name in order:
            values, errs = sequential(servers[name].port, chunk)
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
    client: httpx.AsyncClient, data: list[bytes], offset: int, step: int, deadline: float, result: LoadResult
) -> None:
    i = offset
    while time.perf_counter() < deadline:
        start = time.perf_counter_ns()
        try:
            resp = await client.post("/predict", content=data[i % len(data)])
            result.record(start, resp.status_code, resp.text)
        except httpx.HTTPError as exc:
            result.record(start, -1, repr(exc))
        i += step


async def _load(port: int, data: list[bytes], clients: int, duration: float, kind: str) -> LoadResult:
    result = LoadResult()
    started, cpu0 = time.perf_counter(), time.process_time()
    deadline = started + duration
    if kind == "raw":
        head = f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
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
                *(_httpx_worker(client, data, k, clients, deadline, result) for k in range(clients))
            )
    result.wall_s = time.perf_counter() - started  # includes the requests in flight at the deadline
    result.client_cpu_s = time.process_time() - cpu0
    return result


def load(server: Server, data: list[bytes], clients: int, duration: float, kind: str) -> LoadResult:
    cpu0 = server.cpu_seconds()
    result = asyncio.run(_load(server.port, data, clients, duration, kind))
    result.server_cpu_s = server.cpu_seconds() - cpu0
    return result


def measure_throughput(
    servers: dict[str, Server], data: list[bytes], clients: int, duration: float, rounds: int, kind: str
) -> dict[str, Any]:
    totals = {name: LoadResult() for name in servers}
    per_round: dict[str, list[float]] = {name: [] for name in servers}
    for r in range(rounds):
        order = list(servers) if r % 2 == 0 else list(reversed(servers))
        for name in order:
            res = load(servers[name], data, clients, duration / rounds, kind)
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
            "rps": round(t.ok / t.wall_s, 1),
            "round_rps": per_round[name],
            "p50_ms": round(percentile(t.latencies_ms, 50), 2),
            "p99_ms": round(percentile(t.latencies_ms, 99), 2),
            "server_cpu_ms_per_request": round(1000 * t.server_cpu_s / max(done, 1), 3),
            "server_cpu_utilisation": round(t.server_cpu_s / t.wall_s, 2),
            "client_cpu_utilisation": round(t.client_cpu_s / t.wall_s, 2),
        }
    return out


# -- report ----------------------------------------------------------------------------------------


def verdicts(lat: dict[str, Any], thr: dict[str, Any], clients: int) -> list[dict[str, Any]]:
    """One row per figure: values, ratio BentoML / baseline, budget and verdict (None = informational)."""

    def row(
        figure: str, b: float, f: float, budget: str, ok: bool | None, ratio: bool = True
    ) -> dict[str, Any]:
        r = round(b / f, 3) if ratio and f else None
        return {"figure": figure, BENTO: b, BASE: f, "ratio": r, "budget": budget, "passed": ok}

    p50 = lat[BENTO]["p50_ms"] / lat[BASE]["p50_ms"]
    rps = thr[BENTO]["rps"] / thr[BASE]["rps"] if thr[BASE]["rps"] else math.inf
    return [
        row("single-record p50 (ms), 1 client", lat[BENTO]["p50_ms"], lat[BASE]["p50_ms"],
            f"<= {BUDGET_P50_RATIO}x", p50 <= BUDGET_P50_RATIO),
        row("single-record p99 (ms), 1 client", lat[BENTO]["p99_ms"], lat[BASE]["p99_ms"], "-", None),
        row(f"throughput (req/s), {clients} clients", thr[BENTO]["rps"], thr[BASE]["rps"],
            f">= {BUDGET_THROUGHPUT_RATIO}x", rps >= BUDGET_THROUGHPUT_RATIO),
        row(f"latency p50 (ms), {clients} clients", thr[BENTO]["p50_ms"], thr[BASE]["p50_ms"], "-", None),
        row(f"latency p99 (ms), {clients} clients", thr[BENTO]["p99_ms"], thr[BASE]["p99_ms"], "-", None),
        row(f"errors (non-200), {clients} clients", thr[BENTO]["errors"] + lat[BENTO]["errors"],
            thr[BASE]["errors"] + lat[BASE]["errors"], "BentoML: 0",
            thr[BENTO]["errors"] + lat[BENTO]["errors"] == 0, ratio=False),
        row(f"server CPU per request (ms), {clients} clients", thr[BENTO]["server_cpu_ms_per_request"],
            thr[BASE]["server_cpu_ms_per_request"], "-", None),
    ]  # fmt: skip


def markdown(rows: list[dict[str, Any]]) -> str:
    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)

    lines = [
        "| figure | BentoML | FastAPI baseline | ratio | budget | result |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        verdict = "info" if r["passed"] is None else "PASS" if r["passed"] else "**FAIL**"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        lines.append(
            f"| {r['figure']} | {fmt(r[BENTO])} | {fmt(r[BASE])} | {ratio} | {r['budget']} | {verdict} |"
        )
    return "\n".join(lines)


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
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests per server (latency)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (throughput)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per server")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved latency rounds")
    parser.add_argument("--load-rounds", type=int, default=3, help="interleaved throughput rounds")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: minimal asyncio HTTP/1.1 client (default) or httpx.AsyncClient (~10x the CPU)",
    )
    parser.add_argument("--warmup", type=int, default=300, help="warm-up requests per server")
    parser.add_argument("--records", type=int, default=1000, help="distinct generated records")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--ready-timeout", type=float, default=90.0)
    parser.add_argument("--bento-tag", default=bento_tag, help="default: dist/package.json bento_tag")
    parser.add_argument("--model-tag", default=model_tag, help="default: dist/package.json model_tag")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "serving.json")
    args = parser.parse_args(argv)
    if not args.bento_tag or not args.model_tag:
        parser.error("no bento: run `mlops package` (dist/package.json) or pass --bento-tag and --model-tag")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    server_cpu, client_cpu = cpus(args)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})  # the load generator never competes with the servers' core
    data = bodies(payloads(args.records, seed=7))
    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        servers = build_servers(args, workdir, server_cpu)
        with running(list(servers.values()), args.ready_timeout) as ready:
            check_same_answers(servers, data[:50])
            measure_latency(servers, data, args.warmup, rounds=2)  # warm-up: imports, caches, code paths
            for server in servers.values():
                load(server, data, args.clients, 2.0, args.client)
            lat = measure_latency(servers, data, args.requests, args.rounds)
            thr = measure_throughput(
                servers, data, args.clients, args.duration, args.load_rounds, args.client
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = verdicts(lat, thr, args.clients)
    return {
        "config": {k: v for k, v in vars(args).items() if k not in {"out"}}
        | {"server_cpu_pinned": server_cpu, "client_cpu_pinned": client_cpu},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "node": platform.node()},
        "ready_s": ready,
        "latency": lat,
        "throughput": thr,
        "budgets": rows,
        "passed": all(r["passed"] is not False for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        result = run(args)
    except HarnessError as exc:
        print(f"serving benchmark failed to measure: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result["budgets"]))
    for name in (BENTO, BASE):
        t = result["throughput"][name]
        print(
            f"{NAMES[name]}: latency round p50s {result['latency'][name]['round_p50_ms']} ms; "
            f"throughput rounds {t['round_rps']} req/s; server CPU {t['server_cpu_utilisation']:.0%}, "
            f"client CPU {t['client_cpu_utilisation']:.0%}"
            + (f"; errors e.g. {t['error_samples'][:2]}" if t["error_samples"] else "")
        )
    print(f"results: {args.out}  ({'all budgets met' if result['passed'] else 'BUDGET FAILED'})")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
