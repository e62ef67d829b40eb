"""The team-scale world: real servers on loopback (PostgreSQL, `mlflow server` on it with its artifacts in the
bucket, an S3-compatible store) and one throwaway clone of the project switched to them by the README's own
recipes (`README.md`, "Team scale": each block under a `<!-- recipe: NAME -->` line is run as written).

Session-scoped and in one xdist group: the servers start once (~10-70 s) and the scenario's steps build on
each other (the pipeline tracked on the server, then its data moved to S3, then served with the log in the
bucket), each step a fixture so any test can run alone. `make test-teamscale` runs this folder; `make test`
leaves it out (its own target keeps `make test` inside its time budget).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import GIT, ROOT, commit_all, copy_project, free_port_base, tool_env
from tests.teamscale import servers

BUCKET = "team-bucket"
RECIPE = re.compile(r"<!-- recipe: ([a-z-]+) -->\n```bash\n(.*?)```", re.DOTALL)


def recipes(readme: Path = ROOT / "README.md") -> dict[str, str]:
    """The README's team-scale recipes by name, exactly as a reader copies them."""
    return dict(RECIPE.findall(readme.read_text()))


@dataclass
class Team:
    """The servers and the environment a team-scale job has (what the workflows' one block provides)."""

    s3: servers.Server
    mlflow: servers.Server
    env: dict[str, str]

    def client(self) -> object:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.mlflow.url)


@pytest.fixture(scope="session")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    logs = tmp_path_factory.mktemp("teamscale-servers")
    pg = servers.start_postgres(logs)
    s3 = mlflow = None
    try:
        s3 = servers.start_s3(logs)
        servers.make_bucket(s3.url, BUCKET)
        mlflow = servers.start_mlflow(logs, pg.url, f"s3://{BUCKET}/mlflow", s3.url)
        env = {
            **servers.S3_CREDENTIALS,
            "BUCKET": BUCKET,
            "AWS_ENDPOINT_URL": s3.url,  # botocore and s3fs read it (the prediction log, fetch-log)
            "MLFLOW_TRACKING_URI": mlflow.url,
        }
        yield Team(s3, mlflow, env)
    finally:
        for server in (mlflow, s3):
            if server is not None:
                server.stop()
        servers.stop_postgres(pg)


@dataclass
class Project:
    """A clone of the project switched to the team's servers."""

    root: Path
    team: Team
    port_base: str  # MLOPS_PORT_BASE: free local slots, never another clone's

    def env(self, **extra: str) -> dict[str, str]:
        env = {**tool_env(), **self.team.env, "MAKEFLAGS": "--assume-old=.venv/.synced", **extra}
        env["BENTOML_HOME"] = str(self.root / ".bentoml")
        env["MLOPS_PORT_BASE"] = self.port_base
        return env

    def run(
        self, cmd: list[str], check: bool = True, timeout: int = 900, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            cmd,
            cwd=self.root,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def recipe(self, name: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
        text = recipes()[name]
        return self.run(["bash", "-euo", "pipefail", "-c", text], check=check, **extra)

    def commit(self, message: str) -> None:
        commit_all(self.root, message)


@pytest.fixture(scope="session")
def project(team: Team, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = copy_project(tmp_path_factory.mktemp("teamscale-project"))
    (root / ".venv").symlink_to(ROOT / ".venv")
    subprocess.run([*GIT, "branch", "-M", "main"], cwd=root, check=True, capture_output=True)
    made = Project(root, team, port_base=str(free_port_base()))
    yield made
    for env in ("staging", "production"):
        made.run(["mlops", "stop", "--env", env], check=False)


@pytest.fixture(scope="session")
def tracked(project: Project) -> Project:
    """The tracking recipe (the pipeline against the server, merged), then staging deployed and its alias
    mirrored (the aliases recipe)."""
    project.recipe("tracking")
    project.commit("pipeline tracked on the team's server")
    project.recipe("aliases")
    project.commit("deploy staging")
    return project


@pytest.fixture(scope="session")
def on_s3(tracked: Project) -> Project:
    """The storage recipe, after the embedded remote held a model that staging records (at its commit)."""
    tracked.run(["dvc", "push", "-r", "local"])
    tracked.recipe("storage")
    tracked.commit("DVC remote: S3")
    return tracked


def environ_without_s3_credentials(env: dict[str, str], home: Path) -> dict[str, str]:
    """A job without the credentials block: nothing of the store's credentials, nowhere to find more (empty
    AWS config files in `home`, no instance metadata)."""
    bare = {k: v for k, v in env.items() if not k.startswith("AWS_") or k == "AWS_ENDPOINT_URL"}
    home.mkdir(parents=True, exist_ok=True)
    for name in ("credentials", "config"):
        (home / name).write_text("")
    return {
        **bare,
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
