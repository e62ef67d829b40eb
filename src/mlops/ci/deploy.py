"""The deploy workflow's steps: push the image (recorded by digest), deploy from CI, open the promotion PR,
and revert a production change whose smoke test failed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlops import paths
from mlops.ci.github import open_or_update_pr, say_token
from mlops.ci.shell import BOT, ToolError, output, run, step, succeeds, tool


def state() -> Path:
    """dvc.yaml vars.paths.deploy_state (.deploy): the job's deploy state, never committed."""
    return paths.path("deploy_state")


def env_file(env: str) -> Path:
    """deploy/<env>.yaml (mlops.deploy.records.env_file; imported here only: it brings pandas)."""
    from mlops.deploy import records

    return records.env_file(env)


def image_ref() -> Path:
    """The pushed image by digest (name@sha256:...): a tag can be moved, a digest cannot, so staging records
    (and a promotion carries to production) exactly the image that was built and tested."""
    return state() / "image.ref"


EXIT_SMOKE_FAILED = "4"  # mlops.deploy.local.EXIT_SMOKE_FAILED, as deploy.exit holds it
DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


# --- image-push ---------------------------------------------------------------------------------------------
def digest_from_push_log(text: str) -> str:
    """The last `digest: sha256:<64 hex>` docker push printed; ValueError when it printed none."""
    found = DIGEST.findall(text)
    if not found:
        raise ValueError("docker push printed no digest")
    return str(found[-1])


def registry_host(image: str) -> str:
    """What `docker login` logs in to: the image name's first path component (ghcr.io)."""
    return image.split("/", 1)[0]


def image_by_digest(image: str, digest: str) -> str:
    """name@digest: the tag (a `:` in the last path component, not a registry port) dropped."""
    head, _, last = image.rpartition("/")
    name = last.rsplit(":", 1)[0] if ":" in last else last
    return f"{head}/{name}@{digest}" if head else f"{name}@{digest}"


@step("image-push")
def run_image_push(image: str) -> int:
    """Push IMAGE (REGISTRY_USER / REGISTRY_TOKEN from the environment); name@digest -> .deploy/image.ref."""
    login = ["docker", "login", registry_host(image), "-u", os.environ.get("REGISTRY_USER", "")]
    token = os.environ.get("REGISTRY_TOKEN", "")
    code = subprocess.run([*login, "--password-stdin"], input=token, text=True, check=False).returncode
    if code != 0:
        raise ToolError(login, code)
    state().mkdir(parents=True, exist_ok=True)
    log = state() / "image-push.log"
    with subprocess.Popen(["docker", "push", image], stdout=subprocess.PIPE, text=True) as push:
        assert push.stdout is not None
        with log.open("w") as saved:
            for line in push.stdout:  # as `| tee`: the job log shows the push as it goes
                sys.stdout.write(line)
                saved.write(line)
    if push.returncode != 0:
        raise ToolError(["docker", "push", image], push.returncode)
    try:
        digest = digest_from_push_log(log.read_text())
    except ValueError as exc:
        print(f"image-push: {exc}", file=sys.stderr)
        return 1
    image_ref().write_text(image_by_digest(image, digest) + "\n")
    print(f"image-push: {image_by_digest(image, digest)}")
    return 0


# --- deploy-ci ----------------------------------------------------------------------------------------------
def deploy_target(kubeconfig_data: str) -> str:
    """kubernetes when the environment's KUBECONFIG secret holds a kubeconfig, else an ephemeral local one."""
    return "kubernetes" if kubeconfig_data else "local"


def deploy_image(env: str, given: str, recorded: str) -> str:
    """The image to deploy: DEPLOY_IMAGE, else (staging only) the digest image-push recorded, else none."""
    return given or (recorded.strip() if env == "staging" else "")


@step("deploy-ci")
def run_deploy_ci(env: str, image: str) -> int:
    """`mlops deploy` from CI; its exit code is kept in .deploy/<env>/deploy.exit for revert-production.

    A revert answers a failed smoke test (exit 4) only, never a deploy that could not start (exit 1 or 2).
    """
    (state() / env).mkdir(parents=True, exist_ok=True)
    kubeconfig_data = os.environ.get("KUBECONFIG_DATA", "")
    target = deploy_target(kubeconfig_data)
    if kubeconfig_data:
        kubeconfig = state() / "kubeconfig"
        kubeconfig.touch(mode=0o600)
        kubeconfig.chmod(0o600)
        kubeconfig.write_text(kubeconfig_data)
        os.environ["KUBECONFIG"] = str(kubeconfig.resolve())
    recorded = image_ref().read_text() if image_ref().is_file() else ""
    chosen = deploy_image(env, image, recorded)
    command = [
        tool("mlops"),
        "deploy",
        "--env",
        env,
        "--target",
        target,
        *(["--image", chosen] if chosen else []),
    ]
    code = subprocess.run(command, check=False).returncode
    (state() / env / "deploy.exit").write_text(f"{code}\n")
    return code


# --- promotion-pr -------------------------------------------------------------------------------------------
PROMOTION_TITLE = "Promote the staging model to production"


@step("promotion-pr")
def run_promotion_pr(push_url: str, gh: str, branch: str) -> int:
    """Write production from staging and open or update the promotion PR (with its report).

    The gate reads its champion from deploy/production.yaml: the promotion re-runs it (champion = the
    promoted model) so the PR carries a dvc.lock that main's CI reproduces.
    """
    from mlops.cli import main

    say_token(os.environ.get("TOKEN_KIND", ""))
    code = main(["promote"])
    if code != 0:
        return code
    production, staging = env_file("production"), env_file("staging")
    if succeeds("git", "diff", "--quiet", "--", str(production)):
        print("promotion-pr: production already runs the staging model; no pull request")
        return 0
    run(tool("dvc"), "repro")
    code = main(["promotion-report"])
    if code != 0:
        return code
    run("git", "switch", "-q", "-C", branch)
    run("git", "add", str(production), str(staging), "dvc.lock", "reports/")
    run("git", *BOT, "commit", "-qm", PROMOTION_TITLE)
    run("git", "push", "-q", "--force", push_url, branch)
    open_or_update_pr(gh, branch, PROMOTION_TITLE, paths.path("promotion_report"))
    return 0


# --- revert-production --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RevertPlan:
    """`git revert` arguments for the change, or why nothing is reverted (`refused`)."""

    args: tuple[str, ...] = ()
    refused: str = ""


def revert_plan(change: str, subject: str, parents: int) -> RevertPlan:
    """How to revert the last commit that changed deploy/production.yaml (a merge: against its first parent).

    A revert is never reverted: the restored record failing its smoke test too needs a person, not a loop.
    """
    if not change:
        return RevertPlan(refused="no commit on main changed deploy/production.yaml: nothing to revert")
    if subject.startswith("Revert"):
        return RevertPlan(
            refused=f"the restored record failed its smoke test too ({subject}): a revert is never reverted; "
            "fix forward"
        )
    return RevertPlan(args=("-m", "1", change) if parents > 1 else (change,))


def revert_body(change: str, subject: str) -> str:
    return (
        f"The production smoke test failed after {change[:8]} ({subject}), and main does not accept pushes "
        "from this job (branch protection).\n\nMerge this revert to restore the previous record; its merge "
        "redeploys it.\n"
    )


def deploy_exit(env: str) -> str:
    """The code deploy-ci kept for env, or `none` when it never ran."""
    kept = state() / env / "deploy.exit"
    return kept.read_text().strip() if kept.is_file() else "none"


@step("revert-production")
def run_revert_production(push_url: str, gh: str) -> int:
    """A failed production smoke test: revert the change of deploy/production.yaml and push it to main; when
    main refuses the push (branch protection), a revert PR and an issue instead (exit 1 either way then)."""
    code = deploy_exit("production")
    if code != EXIT_SMOKE_FAILED:
        print(
            f"::error title=production::the deploy did not reach its smoke test (exit {code}): nothing "
            "reverted; the previous version serves",
            file=sys.stderr,
        )
        return 1
    say_token(os.environ.get("TOKEN_KIND", ""))
    # The job's own edits (a put-back record, outputs the pipeline rewrote) are not part of the revert.
    run("git", "reset", "-q", "--hard", "HEAD")
    production = str(env_file("production"))
    change = output("git", "log", "-1", "--first-parent", "--format=%H", "--", production).strip()
    subject = output("git", "log", "-1", "--format=%s", change).strip() if change else ""
    parents = len(output("git", "rev-list", "--parents", "-n", "1", change).split()) - 1 if change else 0
    plan = revert_plan(change, subject, parents)
    if plan.refused:
        print(f"::error title=production::{plan.refused}", file=sys.stderr)
        return 1
    run("git", *BOT, "revert", "--no-edit", *plan.args)
    if succeeds("git", "push", "-q", push_url, "HEAD:main"):
        print(f"revert-production: reverted {change[:8]} ({subject}) and pushed it")
        return 0
    branch = f"revert/production-{change[:8]}"
    run("git", "push", "-q", "--force", push_url, f"HEAD:refs/heads/{branch}")
    body = state() / "revert.md"
    body.parent.mkdir(parents=True, exist_ok=True)
    body.write_text(revert_body(change, subject))
    run(gh, "pr", "create", "--base", "main", "--head", branch, "--title", f"Revert: {subject}",
        "--body-file", str(body))  # fmt: skip
    run(
        gh, "issue", "create", "--title", f"Production smoke test failed: {subject}", "--body-file", str(body)
    )
    print(
        "::error title=production::smoke test failed; main refused the revert push, so a revert PR and an "
        "issue are open",
        file=sys.stderr,
    )
    return 1
