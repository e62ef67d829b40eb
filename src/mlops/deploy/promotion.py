"""`mlops promote | production-plan | rollback | aliases`: production changes by a merged record in git.

`promote` writes deploy/production.yaml from deploy/staging.yaml (the promotion pull request carries the
diff); `production-plan` tells the deploy workflow whether a push changed production; `rollback` restores
a record's previous state from git history; `aliases` mirrors a record into the MLflow registry.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from mlops.deploy.records import EnvRecord, deployed_model_bytes, env_file, read_record, write_record
from mlops.io import InputError, read_json


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


ALIASES = {"staging": "staging", "production": "champion"}


def run_aliases(env: str, params: Path, gates: Path, server_only: bool = False) -> int:
    """Mirror deploy/<env>.yaml into the MLflow registry alias (staging / champion).

    `server_only` (make aliases, in CI): without MLFLOW_TRACKING_URI the store is the job's throwaway
    embedded one, so there is nothing to mirror; exit 0. A recorded model this store never registered
    (its pull request ran without the tracking server) is registered here, at promotion, when `gates`
    (the gate report) shows that very model file passing; otherwise nothing is registered (exit 2)."""
    import os

    from mlops.adapters.tracking import register_passed, set_alias, tracking_uri
    from mlops.params import load_params

    if server_only and not os.environ.get("MLFLOW_TRACKING_URI"):
        print("aliases: MLFLOW_TRACKING_URI not set (embedded store): nothing to mirror")
        return 0
    record = read_record(env_file(env))
    if record.model is None:
        raise InputError(f"{env_file(env)} records no model: no alias to set")
    registered = load_params(params).project.name
    md5 = record.model.md5
    try:
        version = set_alias(registered_model=registered, alias=ALIASES[env], model_md5=md5)
    except LookupError as exc:
        report = read_json(gates) if gates.is_file() else {}
        if report.get("model_md5") != md5 or not report.get("passed"):
            raise InputError(
                f"{exc} in {tracking_uri()}, and {gates} does not show model md5 {md5} passing: "
                "nothing registered"
            ) from exc
        with tempfile.TemporaryDirectory() as tmp:
            model_file = Path(tmp) / "model.joblib"
            model_file.write_bytes(deployed_model_bytes(record.model))
            register_passed(
                experiment=registered, registered_model=registered, model_md5=md5, model_file=model_file
            )
        version = set_alias(registered_model=registered, alias=ALIASES[env], model_md5=md5)
        print(f"aliases: registered {registered} version {version} at promotion (its gate report: passed)")
    print(f"aliases: {registered}@{ALIASES[env]} -> version {version} ({record.model.label})")
    return 0
