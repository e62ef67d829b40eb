"""A GitHub world on loopback for running the real workflow files with nektos/act (host mode, offline).

- "github.com" is a `git http-backend` on 127.0.0.1 (a free port), reached through git's
  `url.<loopback>.insteadOf https://github.com/` in the world's own git config; pull requests get GitHub's
  `refs/pull/N/head` and `refs/pull/N/merge`, a fork's PR only its refs (its branch is not in the repository).
- GitHub's API is a JSON file that the stand-in `gh` and `cml` (bin/, cml-bin/) read and write.
- Third-party actions run as the project's stand-ins (actions/), mapped by `--local-repository` at the exact
  SHAs recorded in .github/pins.yaml: a `uses:` at any other SHA is fetched from the network and fails.
- Each job links one prepared environment (the venv, node_modules, checkov's venv) instead of installing
  ~1 GB.

act does not emulate GITHUB_TOKEN permissions, environment protection rules or concurrency groups; the
tests that need those facts assert them on the workflow files instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import project_files

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
ACT = Path(sys.executable).parent / "act"
GITHUB_TOKEN = "ghs_world_github_token"  # what the world's gh recognises as the workflow's own token
BOT_TOKEN = "github_pat_world_bot"
APP_TOKEN = "ghs_world_app_installation"  # what the create-github-app-token stand-in mints
GIT = ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.invalid"]
# What a GitHub runner's shell also has (the locale, the temp folder, the user); PYENV_ROOT so that the
# machine's python3 shim works; the OpenBLAS settings this machine needs (see the env skill).
RUNNER_ENV = {
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "PYENV_ROOT",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
}


class _GitHandler(BaseHTTPRequestHandler):
    """Smart HTTP for the world's bare repositories, through git's own CGI program."""

    root: Path

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "x-access-token",
            "REMOTE_ADDR": "127.0.0.1",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class ActRun:
    """One `act` invocation: exit code, job results, each top-level step's result, notices and the log."""

    returncode: int
    records: list[dict[str, Any]]
    workspaces: (
        Path  # each job's workspace as the job left it: <run id>-<job id>/ (the checkout stand-in's post)
    )
    run_id: int
    declared: dict[str, list[str]]  # each job's step names as act labels them (name, else uses / run)

    @property
    def log(self) -> str:
        return "".join(r.get("msg", "") + ("" if r.get("raw_output") else "\n") for r in self.records)

    @property
    def jobs(self) -> dict[str, str]:
        return {r["jobID"]: r["jobResult"] for r in self.records if "jobResult" in r}

    def steps(self, job: str | None = None) -> dict[str, str]:
        """Top-level steps by name (their `name:`, else the `run:` text or `uses:`), as act reports them."""
        return {
            r["step"]: r["stepResult"]
            for r in self.records
            if "stepResult" in r
            and r.get("stage") == "Main"
            and len(r.get("stepID", [])) == 1
            and (job is None or r["jobID"] == job)
        }

    def step(self, fragment: str, job: str | None = None) -> str:
        """The result of the one declared step whose label contains `fragment`; "skipped" if it never ran
        (act reports nothing for a step whose `if:` is false, or that follows a failure)."""
        jobs = [job] if job else list(self.declared)
        names = [name for j in jobs for name in self.declared[j] if fragment in name]
        assert len(names) == 1, f"{len(names)} declared steps match {fragment!r}: {self.declared}"
        return self.steps(job).get(names[0], "skipped")

    def workspace(self, job: str | None = None) -> Path:
        (name,) = [job] if job else list(self.declared)
        return self.workspaces / f"{self.run_id}-{name}"

    @property
    def notices(self) -> list[str]:
        return [r["arg"] for r in self.records if r.get("command") == "notice"]


@dataclass
class World:
    """A repository on a loopback "github.com", its API state, and the act runner that executes workflows."""

    root: Path
    repository: str = "acme/model"
    private: bool = False
    runs: int = 0
    server: ThreadingHTTPServer | None = field(default=None, repr=False)

    # --- set-up -------------------------------------------------------------------------------------------
    def start(self, seed: Path, cache_seed: Path | None = None) -> World:
        """Create the bare repository with `seed`'s files as `main` (one commit) and start the git server.

        cache_seed: a DVC cache to store as an earlier run's `actions/cache` entry (key dvc-cache-seed).
        """
        self.bare.mkdir(parents=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.bare)], check=True)
        subprocess.run(["git", f"--git-dir={self.bare}", "config", "http.receivepack", "true"], check=True)
        handler = type("Handler", (_GitHandler,), {"root": self.root / "git"})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        home = self.root / "home"
        home.mkdir()
        base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        (home / ".gitconfig").write_text(
            "[safe]\n\tdirectory = *\n[init]\n\tdefaultBranch = main\n"
            f'[url "{base}"]\n\tinsteadOf = https://github.com/\n'
            f"\tinsteadOf = https://x-access-token:{GITHUB_TOKEN}@github.com/\n"
            f"\tinsteadOf = https://x-access-token:{BOT_TOKEN}@github.com/\n"
            f"\tinsteadOf = https://x-access-token:{APP_TOKEN}@github.com/\n"
        )
        self.write_state(
            {
                "next": 0,
                "pulls": [],
                "issues": [],
                "labels": {},
                "dispatches": [],
                "comments": [],
                "settings": {"github_token": GITHUB_TOKEN, "actions_can_create_prs": False},
            }
        )
        for name in ("cache", "artifacts"):
            (self.root / name).mkdir()
        if cache_seed is not None:
            shutil.copytree(cache_seed, self.root / "cache" / "dvc-cache-seed" / "0", symlinks=True)
        work = self.root / "dev"
        subprocess.run(["git", "clone", "-q", str(self.bare), str(work)], check=True, env=self.git_env)
        for rel in project_files(seed):
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(seed / rel, work / rel)
        self.commit("main", "Initial commit", lambda _: None)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def bare(self) -> Path:
        return self.root / "git" / f"{self.repository}.git"

    @property
    def dev(self) -> Path:
        """The developer's clone: edit files here through `commit`."""
        return self.root / "dev"

    @property
    def git_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHUB_"))}
        env["GIT_CONFIG_GLOBAL"] = str(self.root / "home" / ".gitconfig")
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        return env

    def git(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(
            [*GIT, *args], cwd=cwd or self.dev, env=self.git_env, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()

    def sha(self, ref: str) -> str:
        return self.git("--git-dir", str(self.bare), "rev-parse", ref, cwd=self.root)

    # --- the API state ------------------------------------------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        return json.loads((self.root / "github.json").read_text())

    def write_state(self, data: dict[str, Any]) -> None:
        (self.root / "github.json").write_text(json.dumps(data, indent=1))

    def setting(self, **values: Any) -> None:
        data = self.state
        data["settings"].update(values)
        self.write_state(data)

    def pulls(self, state: str | None = None) -> list[dict[str, Any]]:
        return [p for p in self.state["pulls"] if state is None or p["state"] == state]

    # --- commits and pull requests ------------------------------------------------------------------------
    def commit(self, branch: str, message: str, edit: Any, base: str = "main") -> str:
        """Commit `edit(dev_clone)` on `branch` (created from `base` when new) and push it; its sha."""
        self.git("fetch", "-q", "origin")
        remote = self.git("ls-remote", "origin", f"refs/heads/{branch}")
        start = (
            f"origin/{branch}"
            if remote
            else (f"origin/{base}" if self.git("ls-remote", "origin", base) else "")
        )
        if start:
            self.git("checkout", "-q", "-B", branch, start)
        else:
            self.git("checkout", "-q", "--orphan", branch)
        edit(self.dev)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        self.git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return self.git("rev-parse", "HEAD")

    def open_pr(self, branch: str, title: str = "A change", fork: bool = False) -> int:
        """Open a PR from `branch` with its merge ref (a fork's commits exist only under refs/pull/N/head)."""
        data = self.state
        data["next"] += 1
        number = int(data["next"])
        head = self.sha(f"refs/heads/{branch}")
        data["pulls"].append(
            {
                "number": number,
                "state": "open",
                "headRefName": branch,
                "headRefOid": head,
                "baseRefName": "main",
                "title": title,
                "body": "",
                "fork": fork,
                "comments": [],
            }
        )
        self.write_state(data)
        self.git("--git-dir", str(self.bare), "update-ref", f"refs/pull/{number}/head", head, cwd=self.root)
        if fork:
            self.git("--git-dir", str(self.bare), "update-ref", "-d", f"refs/heads/{branch}", cwd=self.root)
        self.update_merge_ref(number)
        return number

    def update_merge_ref(self, number: int) -> str:
        """GitHub's test merge of the PR head into its base, as refs/pull/N/merge."""
        self.git(
            "fetch", "-q", "origin", "+refs/pull/*:refs/remotes/pull/*", "+refs/heads/*:refs/remotes/origin/*"
        )
        self.git("checkout", "-q", "--detach", "origin/main")
        self.git("merge", "-q", "--no-ff", "-m", f"Merge {number} into main", f"pull/{number}/head")
        merge = self.git("rev-parse", "HEAD")
        self.git("push", "-q", "-f", "origin", f"{merge}:refs/pull/{number}/merge")
        return merge

    def merge_pr(self, number: int) -> str:
        """Merge as GitHub's merge button does: a merge commit on main; the PR becomes MERGED."""
        pr = next(p for p in self.pulls() if p["number"] == number)
        if not pr.get("fork"):  # GitHub's refs/pull/N/head follows the branch's latest push
            tip = self.sha(f"refs/heads/{pr['headRefName']}")
            self.git(
                "--git-dir", str(self.bare), "update-ref", f"refs/pull/{number}/head", tip, cwd=self.root
            )
        self.git("fetch", "-q", "origin", f"+refs/pull/{number}/head:refs/remotes/pull/{number}/head")
        self.git("checkout", "-q", "-B", "main", "origin/main")
        self.git(
            "merge",
            "-q",
            "--no-ff",
            "-m",
            f"Merge pull request #{number} from {pr['headRefName']}",
            f"pull/{number}/head",
        )
        self.git("push", "-q", "origin", "main")
        data = self.state
        for p in data["pulls"]:
            if p["number"] == number:
                p["state"], p["headRefOid"] = "merged", self.sha(f"refs/pull/{number}/head")
        self.write_state(data)
        return self.git("rev-parse", "HEAD")

    # --- events -------------------------------------------------------------------------------------------
    def repo_payload(self) -> dict[str, Any]:
        owner, name = self.repository.split("/")
        return {
            "full_name": self.repository,
            "name": name,
            "owner": {"login": owner},
            "private": self.private,
            "default_branch": "main",
        }

    def pull_request_event(self, number: int, fork_repo: str | None = None) -> dict[str, Any]:
        pr = next(p for p in self.pulls() if p["number"] == number)
        head_repo = {**self.repo_payload(), "full_name": fork_repo or self.repository}
        return {
            "action": "synchronize",
            "number": number,
            "pull_request": {
                "number": number,
                "head": {
                    "sha": self.sha(f"refs/pull/{number}/head"),
                    "ref": pr["headRefName"],
                    "repo": head_repo,
                },
                "base": {"sha": self.sha("refs/heads/main"), "ref": "main", "repo": self.repo_payload()},
            },
            "repository": self.repo_payload(),
        }

    def workflow_run_event(
        self,
        run_id: int,
        head_sha: str,
        branch: str,
        conclusion: str = "success",
        fork_repo: str | None = None,
    ) -> dict[str, Any]:
        prs = (
            []
            if fork_repo
            else [  # GitHub lists no pull requests for a fork's run
                {"number": p["number"], "head": {"sha": head_sha, "ref": branch}, "base": {"ref": "main"}}
                for p in self.pulls("open")
                if p["headRefName"] == branch
            ]
        )
        return {
            "action": "completed",
            "workflow_run": {
                "id": run_id,
                "name": "model-pr",
                "event": "pull_request",
                "conclusion": conclusion,
                "head_sha": head_sha,
                "head_branch": branch,
                "pull_requests": prs,
                "head_repository": {"full_name": fork_repo or self.repository},
            },
            "repository": self.repo_payload(),
        }

    def push_event(self, before: str, after: str) -> dict[str, Any]:
        return {"ref": "refs/heads/main", "before": before, "after": after, "repository": self.repo_payload()}

    def plain_event(self, **extra: Any) -> dict[str, Any]:
        return {"repository": self.repo_payload(), **extra}

    # --- running a workflow -------------------------------------------------------------------------------
    def act(
        self,
        workflow: str,
        event: str,
        payload: dict[str, Any],
        secrets: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        ref: str = "main",
        timeout: int = 900,
    ) -> ActRun:
        """Run `.github/workflows/<workflow>` of the repository at `ref` (a branch or refs/pull/N/merge)."""
        self.runs += 1
        run_id = 1000 + self.runs
        run_dir = self.root / "runs" / str(run_id)
        checkout = run_dir / "repo"
        self.git("clone", "-q", str(self.bare), str(checkout), cwd=self.root)
        self.git("remote", "set-url", "origin", f"https://github.com/{self.repository}.git", cwd=checkout)
        if ref.startswith("refs/pull/"):
            self.git("fetch", "-q", "origin", f"+{ref}:refs/remotes/{ref[5:]}", cwd=checkout)
            self.git("checkout", "-q", "--detach", f"refs/remotes/{ref[5:]}", cwd=checkout)
        else:
            self.git("checkout", "-q", "-B", ref, f"origin/{ref}", cwd=checkout)
        (run_dir / "event.json").write_text(json.dumps(payload))
        cmd = [
            str(ACT),
            event,
            "-C",
            str(checkout),
            "-W",
            str(checkout / ".github" / "workflows" / workflow),
            "-e",
            str(run_dir / "event.json"),
            "-P",
            "ubuntu-latest=-self-hosted",
            "--action-offline-mode",
            "--no-skip-checkout",
            "--no-cache-server",
            "--defaultbranch",
            "main",
            "--action-cache-path",
            str(run_dir / "act"),
            "--json",
            "--env",
            f"GITHUB_RUN_ID={run_id}",
            "-s",
            f"GITHUB_TOKEN={GITHUB_TOKEN}",
        ]
        for pin in yaml.safe_load((ROOT / ".github" / "pins.yaml").read_text())["pins"]:
            stand_in = HERE / "actions" / pin["action"]
            if stand_in.is_dir():
                cmd += ["--local-repository", f"{pin['action']}@{pin['sha']}={stand_in}"]
        for name, value in (secrets or {}).items():
            cmd += ["-s", f"{name}={value}"]
        for name, value in (variables or {}).items():
            cmd += ["--var", f"{name}={value}"]
        proc = subprocess.run(
            cmd,
            cwd=run_dir,
            env={**self.runner_env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        (run_dir / "act.log").write_text(proc.stdout + proc.stderr)
        jobs = yaml.safe_load((checkout / ".github" / "workflows" / workflow).read_text())["jobs"]
        declared = {
            name: [s.get("name") or s.get("uses") or s["run"] for s in job.get("steps", [])]
            for name, job in jobs.items()
        }
        return ActRun(proc.returncode, records, self.root / "workspaces", run_id, declared)

    def runner_env(self) -> dict[str, str]:
        """A fresh runner's environment, from an allowlist: act copies its own environment into every job,
        and this process's (OMP_NUM_THREADS from `make test`, pytest's and xdist's variables, an outer
        runner's GITHUB_*) must not reach a job GitHub would start without them. No venv on PATH."""
        venv_bins = {str(ROOT / ".venv" / "bin"), str(Path(sys.executable).parent)}
        path = [p for p in os.environ["PATH"].split(os.pathsep) if p not in venv_bins]
        keep = {k: v for k, v in os.environ.items() if k in RUNNER_ENV}
        return {
            **keep,
            "PATH": os.pathsep.join([str(HERE / "bin"), *path]),
            "HOME": str(self.root / "home"),
            "GIT_CONFIG_GLOBAL": str(self.root / "home" / ".gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "CI": "true",
            "ACT_WORLD": str(self.root),
            "ACT_REPOSITORY": self.repository,
            "ACT_FAKES": str(HERE),
            "ACT_CACHE_STORE": str(self.root / "cache"),
            "ACT_ARTIFACT_STORE": str(self.root / "artifacts"),
            "ACT_APP_TOKEN": APP_TOKEN,
            "ACT_PREPARED_VENV": str(ROOT / ".venv"),
            "ACT_PREPARED_NODE_MODULES": str(ROOT / "node_modules"),
            "ACT_PREPARED_CHECKOV": str(ROOT / ".tools" / "checkov"),  # make test installs it first
        }

    def published(self) -> list[dict[str, Any]]:
        """What the stand-in CML uploaded (its real path), as a real CML would have made it public."""
        path = self.root / "published.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def docker_calls(self) -> list[list[str]]:
        path = self.root / "docker.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def artifact(self, run: ActRun, name: str) -> Path:
        return self.root / "artifacts" / str(run.run_id) / name
