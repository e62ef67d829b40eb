"""Target `local` of `mlops deploy`: `bentoml serve` on two loopback slots per environment.

Each environment has two slots (ports `base` and `base + 1`) under `.deploy/<env>/` (pid, log, prediction
log, and `active.json` naming the slot that serves). A deploy starts the new version in the idle slot and
smoke-tests it there; only a passing smoke switches `active.json` and stops the old slot. A failing smoke
stops the candidate and leaves the previous version serving; in production it also writes the serving
record back to deploy/production.yaml (automatic rollback), so git can be brought back in line with a
revert commit (the deploy workflow pushes it).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.deploy import package, smoke
from mlops.deploy.records import EnvRecord, env_file, write_record
from mlops.io import InputError, write_text
from mlops.params import DeployParams, load_params
from mlops.serving import NONCE_ENV

# Each environment alternates between two ports (base, base + 1) so the new version starts beside the old.
# MLOPS_PORT_BASE moves them (staging at the base, production 100 above): two clones, or a test world, on
# one machine must not answer each other's smoke tests.
PORT_OFFSET = {"staging": 0, "production": 100}
DEFAULT_PORT_BASE = 3100
# `mlops deploy` exit code when the new version failed its smoke test (the previous one keeps serving):
# the only failure a production revert answers; a deploy that could not even start exits 1 or 2.
EXIT_SMOKE_FAILED = 4


def port_base(env: str) -> int:
    raw = os.environ.get("MLOPS_PORT_BASE", "")
    if raw and not (raw.isdigit() and 1024 <= int(raw) <= 65000):
        raise InputError(f"MLOPS_PORT_BASE must be a port number between 1024 and 65000, got {raw!r}")
    return (int(raw) if raw else DEFAULT_PORT_BASE) + PORT_OFFSET[env]


def state_root() -> Path:
    """.deploy/ (dvc.yaml `vars.paths.deploy_state`): pids, logs and prediction logs of local servers."""
    return paths.path("deploy_state")


def _state(env: str) -> Path:
    return state_root() / env


def active(env: str) -> dict[str, Any] | None:
    """The local slot that serves `env` (port, pid, bento, record), or None when nothing was deployed."""
    path = _state(env) / "active.json"
    return json.loads(path.read_text()) if path.exists() else None


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # servers this process started (reaped, not zombies)


def _alive(pid: int) -> bool:
    if pid in _CHILDREN:  # our own child: a dead one stays a zombie that os.kill(pid, 0) still finds
        return _CHILDREN[pid].poll() is None
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (by parent id, from /proc): BentoML starts its worker in a session of its
    own, which the server's process group does not reach."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def stop(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM the server's process group (graceful: the prediction log is flushed), then SIGKILL it and
    every process it started, read before signalling (an orphaned worker would keep serving the port)."""
    family = _descendants(pid)
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    # The worker drains the prediction log after the server process may have gone: wait for all of them.
    while time.monotonic() < deadline and any(_alive(p) for p in (pid, *family)):
        time.sleep(0.2)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
    for child in family:
        if _alive(child):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


TCP_LISTEN = "0A"  # the `st` column of /proc/net/tcp for a listening socket


def listen_inodes(lines: list[str], port: int) -> list[int]:
    """The inodes of the sockets listening on `port`, from the lines of /proc/net/tcp or tcp6 (header
    included): `sl local_address rem_address st ... uid timeout inode`, addresses as hex `ip:port`."""
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or ":" not in fields[1] or fields[3] != TCP_LISTEN:
            continue
        try:
            local_port, inode = int(fields[1].rsplit(":", 1)[1], 16), int(fields[9])
        except ValueError:  # the header line
            continue
        if local_port == port and inode:
            found.append(inode)
    return found


def port_holders(port: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes holding a socket that listens on `port`, as far as /proc
    shows them (another user's processes stay hidden)."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            inodes.update(listen_inodes(Path(table).read_text().splitlines(), port))
    links = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if any(str(fd.readlink()) in links for fd in (proc / "fd").iterdir()):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                holders.append((int(proc.name), cmdline.strip()))
        except OSError:  # not ours to read, or it ended while we looked
            continue
    return sorted(holders)


def check_port_free(port: int) -> None:
    """InputError unless `port` can be bound on 127.0.0.1: a server that cannot bind dies, and the smoke
    test would then verify whatever else answers there (an orphaned worker of an earlier server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT does not count
        try:
            probe.bind(("127.0.0.1", port))
            return
        except OSError as exc:
            reason = exc.strerror or str(exc)
    holders = "; ".join(f"pid {pid} ({cmd or '?'})" for pid, cmd in port_holders(port))
    held = f", held by {holders}" if holders else " (its holder is not visible in /proc)"
    raise InputError(
        f"port {port} on 127.0.0.1 is not free ({reason}){held}: stop it, or set MLOPS_PORT_BASE"
    )


def _start(env: str, port: int, bento: str, record: EnvRecord, name: str) -> tuple[int, str]:
    """Start `bentoml serve` for the record on `port`, in its own process group; returns its pid and the
    nonce it stamps on every answer (SERVER_HEADER: the smoke test knows who answered)."""
    state = _state(env)
    state.mkdir(parents=True, exist_ok=True)
    assert record.model is not None
    server_env = {
        **os.environ,
        "MLOPS_MODEL_TAG": package.model_tag(name, record.model.md5),
        "MLOPS_PREDICTION_LOG_DIR": str((state / "predictions").resolve()),
        "MLOPS_ACCESS_LOG": os.environ.get("MLOPS_ACCESS_LOG", "false"),
        NONCE_ENV: secrets.token_hex(8),
    }
    for key in ("MLOPS_CHALLENGER_TAG", "MLOPS_CHALLENGER_MODE", "MLOPS_CHALLENGER_SHARE"):
        server_env.pop(key, None)
    # The /feedback token is per environment: MLOPS_FEEDBACK_TOKEN_STAGING / _PRODUCTION in the deploying
    # environment (a CI secret) becomes the server's MLOPS_FEEDBACK_TOKEN (serving/guard.py).
    if token := os.environ.get(f"MLOPS_FEEDBACK_TOKEN_{env.upper()}"):
        server_env["MLOPS_FEEDBACK_TOKEN"] = token
    if record.challenger is not None:
        server_env["MLOPS_CHALLENGER_TAG"] = package.model_tag(name, record.challenger.model.md5)
        server_env["MLOPS_CHALLENGER_MODE"] = record.challenger.mode
        server_env["MLOPS_CHALLENGER_SHARE"] = str(record.challenger.share)
    bentoml_cli = str(Path(sys.executable).parent / "bentoml")
    log_path = state / f"server-{port}.log"
    if log_path.exists():  # one generation kept per slot: the log of the server this one replaces
        log_path.replace(log_path.with_name(f"{log_path.name}.1"))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [bentoml_cli, "serve", bento, "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals the server and its workers
        )
    _CHILDREN[proc.pid] = proc
    write_text(str(proc.pid), state / f"server-{port}.pid")
    return proc.pid, server_env[NONCE_ENV]


def _returncode(pid: int) -> int | None:
    """The exit code of a server this process started, once it ended (None while it runs, or not ours)."""
    return _CHILDREN[pid].poll() if pid in _CHILDREN else None


def startup_report(log: Path, returncode: int | None, lines: int = 20) -> list[str]:
    """What a candidate that never became ready left behind: its exit code, if it ended, and the last
    `lines` lines of its server log (`Address already in use`, an import error, a missing model...)."""
    report = [] if returncode is None else [f"the server exited with code {returncode}"]
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        tail = []
    if tail:
        report += [f"last {len(tail)} lines of {log}:", *(f"  | {line}" for line in tail)]
    return report


def golden_for(name: str, md5: str) -> list[dict[str, Any]]:
    """The golden requests packaged with the model of this md5 (rows of its holdout, their answers)."""
    from mlops.adapters import bento

    model = bento.model(package.model_tag(name, md5))
    golden: list[dict[str, Any]] = json.loads((model.path / "golden.json").read_text())
    return golden


def save_smoke(env: str, result: smoke.SmokeResult, model_version: str, p95_budget_ms: float) -> None:
    """The last smoke test of an environment (.deploy/<env>/smoke.json), for the promotion report."""
    data = {
        "environment": env,
        "model_version": model_version,
        "passed": result.passed,
        "ready": result.ready,
        "p95_ms": round(result.p95_ms, 2),
        "p95_budget_ms": p95_budget_ms,
        "failures": result.failures,
    }
    write_text(json.dumps(data, indent=2) + "\n", _state(env) / "smoke.json")


def _alt(record: EnvRecord, name: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The challenger's version and golden set, when it answers part of the traffic (split mode)."""
    if record.challenger is None or record.challenger.mode != "split":
        return None
    md5 = record.challenger.model.md5
    return package.model_tag(name, md5), golden_for(name, md5)


def deploy_local(env: str, record: EnvRecord, bento: str, p95_budget_ms: float, name: str) -> int:
    """Blue/green on two local ports: start, smoke-test, then switch; a failed smoke keeps the old one."""
    assert record.model is not None
    current = active(env)
    base = port_base(env)
    port = base + 1 if current and current["port"] == base else base
    if current and _alive(current["pid"]) and current["port"] == port:
        raise InputError(f"{env}: slot {port} is busy (pid {current['pid']})")
    check_port_free(port)
    pid, nonce = _start(env, port, bento, record, name)
    md5 = record.model.md5
    url, version = f"http://127.0.0.1:{port}", package.model_tag(name, md5)
    try:
        result = smoke.probe(
            url,
            golden_for(name, md5),
            version,
            p95_budget_ms,
            challenger=_alt(record, name),
            nonce=nonce,
            alive=lambda: _alive(pid),  # a candidate that died at start-up fails at once, not after 60 s
        )
        save_smoke(env, result, package.model_tag(name, md5), p95_budget_ms)
    except BaseException:  # never leave an unrecorded candidate holding the slot (Ctrl-C included)
        stop(pid)
        raise
    if result.passed and not _alive(pid):  # what passed was not this server, or it died right after
        code = _returncode(pid)
        ended = "" if code is None else f" (exit code {code})"
        result.failures.append(
            f"the started server (pid {pid}) is gone{ended} although its smoke test passed"
        )
        save_smoke(env, result, package.model_tag(name, md5), p95_budget_ms)
    if not result.passed:
        code = _returncode(pid)  # before stop(): the candidate's own exit, not our signal
        stop(pid)
        print(f"deploy {env}: smoke FAILED on port {port}; the previous version serves on:", file=sys.stderr)
        for failure in result.failures:
            print(f"  - {failure}", file=sys.stderr)
        if not result.ready:
            for line in startup_report(_state(env) / f"server-{port}.log", code):
                print(f"  {line}", file=sys.stderr)
        if env == "production" and current is not None:
            write_record(EnvRecord.model_validate(current["record"]), env_file(env))
            print(f"deploy {env}: rolled back {env_file(env)} to the serving model", file=sys.stderr)
        return EXIT_SMOKE_FAILED
    write_text(
        json.dumps(
            {
                "port": port,
                "pid": pid,
                "nonce": nonce,
                "bento": bento,
                "record": record.model_dump(mode="json"),
            }
        ),
        _state(env) / "active.json",
    )
    if current and _alive(current["pid"]):
        stop(current["pid"])
    url = f"http://127.0.0.1:{port}"
    print(f"deploy {env}: {bento} serving on {url} (smoke passed, p95 {result.p95_ms:.1f} ms)")
    return 0


def smoke_budget(deploy: DeployParams, p95_ms: float | None) -> float:
    """--p95-ms, else params.yaml's deploy.smoke_p95_ms."""
    return float(p95_ms) if p95_ms is not None else deploy.smoke_p95_ms


def run_smoke(env: str, p95_ms: float | None, params: Path) -> int:
    """`mlops smoke`: re-run the smoke test against what serves `env` now."""
    config = load_params(params)
    name, p95_budget_ms = config.project.name, smoke_budget(config.deploy, p95_ms)
    current = active(env)
    if current is None:
        raise InputError(f"{env} is not deployed on the local target (.deploy/{env}/active.json missing)")
    md5 = current["record"]["model"]["md5"]
    record = EnvRecord.model_validate(current["record"])
    result = smoke.probe(
        f"http://127.0.0.1:{current['port']}",
        golden_for(name, md5),
        package.model_tag(name, md5),
        p95_budget_ms,
        challenger=_alt(record, name),
        nonce=current.get("nonce"),  # absent in an active.json written before the nonce existed
    )
    save_smoke(env, result, package.model_tag(name, md5), p95_budget_ms)
    for failure in result.failures:
        print(f"smoke {env}: {failure}", file=sys.stderr)
    print(f"smoke {env}: {'passed' if result.passed else 'FAILED'} (p95 {result.p95_ms:.1f} ms)")
    return 0 if result.passed else 1


def run_stop(env: str) -> int:
    """Stop the environment's local server (graceful: its prediction log is flushed)."""
    current = active(env)
    if current is None or not _alive(current["pid"]):
        print(f"stop {env}: nothing running")
        return 0
    stop(current["pid"])
    (_state(env) / "active.json").unlink(missing_ok=True)
    print(f"stop {env}: stopped pid {current['pid']} (port {current['port']})")
    return 0
