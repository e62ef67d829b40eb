"""The team-scale servers, started and stopped by the suite on 127.0.0.1: PostgreSQL (Debian's packages), an
`mlflow server` on it with proxied artifacts in the bucket, and an S3-compatible server (moto's server mode).

Each server runs in its own session (process group) and is stopped by group, so nothing it spawned outlives
the suite. Ports are free ports asked of the kernel, and readiness is checked against the process started
here (a server that died on a taken port is an error, not another program's answer). Nothing here mocks a
semantics: these are the real servers a team runs, only on loopback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port

BIN = Path(sys.executable).parent
# moto accepts any key pair; these are the suite's, never real credentials.
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "teamscale-test",
    "AWS_SECRET_ACCESS_KEY": "teamscale-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str
    extra: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout)


def _start(
    name: str, cmd: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # its own process group: stopped with everything it spawned
        )


def _wait(server: Server, ready: Callable[[], bool], timeout: float) -> Server:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(
                f"{server.name} exited {server.proc.returncode} while starting:\n{server.tail()}"
            )
        with contextlib.suppress(Exception):
            if ready():
                return server
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s:\n{server.tail()}")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return 200 <= resp.status < 300


# -- PostgreSQL ------------------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """Debian and Ubuntu install each major version under /usr/lib/postgresql/<major>/bin (newest wins)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[4]))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: run `make sysdeps-teamscale` (Debian package postgresql)"
        )
    return found[-1].parent


def start_postgres(log_dir: Path) -> Server:
    """A private cluster in a temporary folder, trust auth on 127.0.0.1 only, database `mlflow`.

    PostgreSQL refuses to run as root: as root (these machines) the cluster belongs to the `postgres` user the
    Debian package creates; as any other user (GitHub's runner) it is that user's own."""
    bindir = postgres_bindir()
    data = Path(tempfile.mkdtemp(prefix="mlops-teamscale-pg-"))  # not under a 0700 pytest folder
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data / "db"),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    log = log_dir / "postgres.log"
    log.touch()
    proc = _start(
        "postgres",
        [
            *as_user,
            str(bindir / "postgres"),
            "-D",
            str(data / "db"),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={data}",
            "-c",
            "fsync=off",  # a throwaway cluster: durability is not under test, speed is welcome
        ],
        log,
    )
    server = Server("postgres", proc, log, f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow")
    server.extra["data"] = str(data)
    createdb = [
        *as_user,
        str(bindir / "createdb"),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "postgres",
        "mlflow",
    ]
    return _wait(
        server, lambda: subprocess.run(createdb, capture_output=True, check=False).returncode == 0, 60
    )


def stop_postgres(server: Server) -> None:
    server.stop()
    shutil.rmtree(server.extra["data"], ignore_errors=True)


# -- S3 (moto server mode) --------------------------------------------------------------------------------


def start_s3(log_dir: Path) -> Server:
    port = free_port()
    log = log_dir / "moto.log"
    proc = _start("moto", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], log)
    url = f"http://127.0.0.1:{port}"
    return _wait(Server("moto", proc, log, url), lambda: _http_ok(f"{url}/moto-api/"), 60)


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, **_boto_credentials()).create_bucket(Bucket=name)


def list_keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    }


# -- MLflow tracking server --------------------------------------------------------------------------------


def start_mlflow(log_dir: Path, backend: str, artifacts: str, s3_endpoint: str) -> Server:
    """`mlflow server` on PostgreSQL, proxying artifacts to `artifacts` (the bucket): clients never hold the
    bucket's credentials, only the server does (mlflow-artifacts: URIs)."""
    port = free_port()
    log = log_dir / "mlflow.log"
    env = {
        **S3_CREDENTIALS,
        "MLFLOW_S3_ENDPOINT_URL": s3_endpoint,  # the server's S3 artifact store is the loopback bucket
        # Otherwise the server spawns job workers that outlive a stopped parent (ENVIRONMENT.md).
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    cmd = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        artifacts,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    proc = _start("mlflow", cmd, log, env)
    url = f"http://127.0.0.1:{port}"
    # The first start creates the schema on PostgreSQL (~50-66 s on a loaded machine: ENVIRONMENT.md).
    return _wait(Server("mlflow", proc, log, url), lambda: _http_ok(f"{url}/health"), 240)
