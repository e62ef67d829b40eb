"""`mlops deploy | smoke | promote | rollback`: environments recorded in git, served by `bentoml serve`.

Target `local`: each environment has two slots (ports `base` and `base + 1`) under `.deploy/<env>/`
(pid, log, prediction log, and `active.json` naming the slot that serves). A deploy starts the new
version in the idle slot and smoke-tests it there; only a passing smoke switches `active.json` and stops
the old slot. A failing smoke stops the candidate and leaves the previous version serving; in
production it also writes the serving record back to deploy/production.yaml (automatic rollback), so
git can be brought back in line with a revert commit (the deploy workflow pushes it).

Target `kubernetes`: renders the environment's manifests (mlops.k8s), validates them offline with
`kubernetes-validate --strict`, and applies them with kubectl when a kubeconfig is configured.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mlops.deploy_state import DeployedModel, EnvRecord, deployed_model_bytes, read_record, write_record
from mlops.io import InputError, write_text
from mlops.lineage import file_md5, git_state
from mlops.serving import package, smoke

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


STATE = Path(".deploy")


def env_file(env: str) -> Path:
    """deploy/<env>.yaml: the git record of what runs in that environment."""
    return Path("deploy") / f"{env}.yaml"


def _state(env: str) -> Path:
    return STATE / env


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


def ensure_packaged(model: DeployedModel, holdout: Path, contract: Path, params: Path) -> str:
    """The bento of a recorded model, packaging it (from the DVC cache or remote) when not built here yet."""
    import bentoml

    from mlops.params import EvaluateParams, TrainParams, load_section

    tag = package.model_tag(model.md5)
    try:
        bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        threshold = load_section(params, "evaluate", EvaluateParams).threshold
        experiment = load_section(params, "train", TrainParams).mlflow.experiment
        with tempfile.TemporaryDirectory() as tmp:
            # The recorded bytes themselves (md5-checked): the packaged file is the one git names.
            path = Path(tmp) / "model.joblib"
            path.write_bytes(deployed_model_bytes(model))
            lineage = package.lineage(Path(), model.md5, threshold, experiment)
            metadata = {**lineage, "git_commit": model.commit}
            golden = package.golden_set(path, contract, holdout, threshold)
            package.ensure_model(path, contract, metadata, golden)
    try:
        return str(bentoml.get(f"{package.NAME}:{package.bento_version(model.md5, Path())}").tag)
    except bentoml.exceptions.NotFound:
        return package.build_bento(tag, Path(), {"model_md5": model.md5, "git_commit": model.commit[:63]})


def _start(env: str, port: int, bento: str, record: EnvRecord) -> int:
    """Start `bentoml serve` for the record on `port`, in its own process group; returns its pid."""
    state = _state(env)
    state.mkdir(parents=True, exist_ok=True)
    assert record.model is not None
    server_env = {
        **os.environ,
        "MLOPS_MODEL_TAG": package.model_tag(record.model.md5),
        "MLOPS_PREDICTION_LOG_DIR": str((state / "predictions").resolve()),
        "MLOPS_ACCESS_LOG": os.environ.get("MLOPS_ACCESS_LOG", "false"),
    }
    for key in ("MLOPS_CHALLENGER_TAG", "MLOPS_CHALLENGER_MODE", "MLOPS_CHALLENGER_SHARE"):
        server_env.pop(key, None)
    if record.challenger is not None:
        server_env["MLOPS_CHALLENGER_TAG"] = package.model_tag(record.challenger.model.md5)
        server_env["MLOPS_CHALLENGER_MODE"] = record.challenger.mode
        server_env["MLOPS_CHALLENGER_SHARE"] = str(record.challenger.share)
    bentoml_cli = str(Path(sys.executable).parent / "bentoml")
    with (state / f"server-{port}.log").open("ab") as log:
        proc = subprocess.Popen(
            [bentoml_cli, "serve", bento, "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals the server and its workers
        )
    _CHILDREN[proc.pid] = proc
    write_text(str(proc.pid), state / f"server-{port}.pid")
    return proc.pid


def golden_for(md5: str) -> list[dict[str, Any]]:
    """The golden requests packaged with the model of this md5 (rows of its holdout, their answers)."""
    import bentoml

    model = bentoml.models.get(package.model_tag(md5))
    golden: list[dict[str, Any]] = json.loads((Path(model.path) / "golden.json").read_text())
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


def _alt(record: EnvRecord) -> tuple[str, list[dict[str, Any]]] | None:
    """The challenger's version and golden set, when it answers part of the traffic (split mode)."""
    if record.challenger is None or record.challenger.mode != "split":
        return None
    md5 = record.challenger.model.md5
    return package.model_tag(md5), golden_for(md5)


def deploy_local(env: str, record: EnvRecord, bento: str, p95_budget_ms: float) -> int:
    """Blue/green on two local ports: start, smoke-test, then switch; a failed smoke keeps the old one."""
    assert record.model is not None
    current = active(env)
    base = port_base(env)
    port = base + 1 if current and current["port"] == base else base
    if current and _alive(current["pid"]) and current["port"] == port:
        raise InputError(f"{env}: slot {port} is busy (pid {current['pid']})")
    pid = _start(env, port, bento, record)
    md5 = record.model.md5
    url, version = f"http://127.0.0.1:{port}", package.model_tag(md5)
    try:
        result = smoke.probe(url, golden_for(md5), version, p95_budget_ms, challenger=_alt(record))
        save_smoke(env, result, package.model_tag(md5), p95_budget_ms)
    except BaseException:  # never leave an unrecorded candidate holding the slot (Ctrl-C included)
        stop(pid)
        raise
    if not result.passed:
        stop(pid)
        print(f"deploy {env}: smoke FAILED on port {port}; the previous version serves on:", file=sys.stderr)
        for failure in result.failures:
            print(f"  - {failure}", file=sys.stderr)
        if env == "production" and current is not None:
            write_record(EnvRecord.model_validate(current["record"]), env_file(env))
            print(f"deploy {env}: rolled back {env_file(env)} to the serving model", file=sys.stderr)
        return EXIT_SMOKE_FAILED
    write_text(
        json.dumps({"port": port, "pid": pid, "bento": bento, "record": record.model_dump(mode="json")}),
        _state(env) / "active.json",
    )
    if current and _alive(current["pid"]):
        stop(current["pid"])
    url = f"http://127.0.0.1:{port}"
    print(f"deploy {env}: {bento} serving on {url} (smoke passed, p95 {result.p95_ms:.1f} ms)")
    return 0


def current_model(model_path: Path) -> DeployedModel:
    """The pipeline's current model as an environment records it (its md5 and the commit holding it)."""
    if not model_path.exists():
        raise InputError(f"{model_path} not found: run make pipeline first")
    git = git_state()
    if git["git_commit"] == "unknown":
        raise InputError("not a git repository: a deployment must name the commit that built the model")
    return DeployedModel(path=str(model_path), md5=file_md5(model_path), commit=git["git_commit"])


def run_deploy(
    env: str,
    target: str,
    params: Path,
    contract: Path,
    model_path: Path,
    holdout: Path,
    p95_budget_ms: float,
    image: str | None = None,
) -> int:
    if env == "staging":
        # Staging follows the pipeline: it runs the model of the checked-out commit, once gated.
        model = current_model(model_path)
        package.check_gates(Path("reports/gates.json"), model.md5)
        previous = read_record(env_file(env)) if env_file(env).exists() else None
        image = image or (previous.image if previous else None)
        record = EnvRecord(environment="staging", model=model, image=image)
    else:
        record = read_record(env_file(env))
        if record.model is None:
            raise InputError(f"{env_file(env)} records no model: promote one first (mlops promote)")
        if image is not None and image != record.image:
            raise InputError(f"production runs its recorded image ({record.image}), not {image}")
    assert record.model is not None
    bento = ensure_packaged(record.model, holdout, contract, params)
    if record.challenger is not None:
        ensure_packaged(record.challenger.model, holdout, contract, params)
    if target == "kubernetes":
        from mlops.serving.kube import deploy_kubernetes

        code, applied = deploy_kubernetes(env, record, bento)
    else:
        code, applied = deploy_local(env, record, bento, p95_budget_ms), True
    if code == 0 and applied and env == "staging":
        write_record(record, env_file(env))  # recorded only once it serves and passed its smoke test
    return code


def production_plan(event: str, changed: bool, record: EnvRecord) -> tuple[bool, str]:
    """Whether this run deploys production, and why: a push that changed deploy/production.yaml, or a
    redeploy by hand (workflow_dispatch); never a record with no model (nothing to deploy)."""
    if event != "workflow_dispatch" and not changed:
        return False, "this push did not change deploy/production.yaml: production stays as it is"
    if record.model is None:
        return False, "deploy/production.yaml records no model: nothing to deploy"
    if event == "workflow_dispatch":
        return True, f"redeploy by hand: production's record ({record.model.label})"
    return True, f"deploy/production.yaml changed: deploying {record.model.label}"


def changed_since(before: str, path: Path) -> bool:
    """Did `path` change between `before` (the push's previous head) and HEAD? Every commit of the push
    counts, not only the last one; an unknown `before` (a new branch, a force push) compares with HEAD^."""
    known = (
        bool(before.strip("0"))
        and subprocess.run(
            ["git", "cat-file", "-e", f"{before}^{{commit}}"], capture_output=True, check=False
        ).returncode
        == 0
    )
    base = before if known else "HEAD^"
    diff = subprocess.run(["git", "diff", "--quiet", base, "HEAD", "--", str(path)], check=False)
    if diff.returncode > 1:
        raise InputError(f"cannot diff {path} between {base} and HEAD (fetch-depth 0 needed)")
    return diff.returncode == 1


def run_production_plan(event: str, before: str) -> int:
    """`mlops production-plan`: print deploy=true|false (for $GITHUB_OUTPUT) and the reason as a notice."""
    path = env_file("production")
    changed = event != "workflow_dispatch" and changed_since(before, path)
    deploy, reason = production_plan(event, changed, read_record(path))
    print(f"::notice title=production::{reason}", file=sys.stderr)
    print(f"deploy={'true' if deploy else 'false'}")
    return 0


def run_smoke(env: str, p95_budget_ms: float) -> int:
    """`mlops smoke`: re-run the smoke test against what serves `env` now."""
    current = active(env)
    if current is None:
        raise InputError(f"{env} is not deployed on the local target (.deploy/{env}/active.json missing)")
    md5 = current["record"]["model"]["md5"]
    record = EnvRecord.model_validate(current["record"])
    result = smoke.probe(
        f"http://127.0.0.1:{current['port']}",
        golden_for(md5),
        package.model_tag(md5),
        p95_budget_ms,
        challenger=_alt(record),
    )
    save_smoke(env, result, package.model_tag(md5), p95_budget_ms)
    for failure in result.failures:
        print(f"smoke {env}: {failure}", file=sys.stderr)
    print(f"smoke {env}: {'passed' if result.passed else 'FAILED'} (p95 {result.p95_ms:.1f} ms)")
    return 0 if result.passed else 1


def run_promote() -> int:
    """Write the production change from the staging state (the promotion PR carries this diff)."""
    staging = read_record(env_file("staging"))
    if staging.model is None:
        raise InputError("deploy/staging.yaml records no model: deploy staging first")
    production = read_record(env_file("production"))
    # The model's bytes decide, not the commit that last deployed them: after a promotion is merged, staging
    # redeploys the same md5 from the merge commit, which is no new model to promote.
    if production.model is not None and production.model.md5 == staging.model.md5:
        print("promote: production already runs the staging model; nothing to change")
        return 0
    promoted = EnvRecord(environment="production", model=staging.model, image=staging.image)
    write_record(promoted, env_file("production"))
    was = production.model.label if production.model else "none"
    print(f"promote: production -> {staging.model.label} (was {was})")
    return 0


def previous_record(env: str) -> EnvRecord:
    """The state before the last change of deploy/<env>.yaml in git history (what a revert restores)."""
    path = env_file(env)
    log = subprocess.run(
        ["git", "log", "--format=%H", "-n", "2", "--", str(path)], capture_output=True, text=True, check=False
    )
    commits = log.stdout.split()
    if log.returncode != 0 or len(commits) < 2:
        raise InputError(f"{path} has no earlier recorded state in git history to roll back to")
    shown = subprocess.run(
        ["git", "show", f"{commits[1]}:{path}"], capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        raise InputError(f"cannot read {path} at {commits[1][:8]}: {shown.stderr.strip()}")
    import yaml

    return EnvRecord.model_validate(yaml.safe_load(shown.stdout))


def run_rollback(env: str) -> int:
    """`mlops rollback`: write back the previous state of deploy/<env>.yaml (then deploy and commit it)."""
    record = previous_record(env)
    write_record(record, env_file(env))
    label = record.model.label if record.model else "no model"
    print(f"rollback: {env_file(env)} restored to its previous state ({label}); deploy and commit it")
    return 0


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


ALIASES = {"staging": "staging", "production": "champion"}


def run_aliases(env: str, params: Path) -> int:
    """Mirror deploy/<env>.yaml into the MLflow registry alias (staging / champion)."""
    from mlops.adapters.tracking import set_alias, tracking_uri
    from mlops.params import TrainParams, load_section

    record = read_record(env_file(env))
    if record.model is None:
        raise InputError(f"{env_file(env)} records no model: no alias to set")
    registered = load_section(params, "train", TrainParams).mlflow.registered_model
    try:
        version = set_alias(registered_model=registered, alias=ALIASES[env], model_md5=record.model.md5)
    except LookupError as exc:
        raise InputError(f"{exc} in {tracking_uri()}") from exc
    print(f"aliases: {registered}@{ALIASES[env]} -> version {version} ({record.model.label})")
    return 0
