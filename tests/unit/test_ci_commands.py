"""The CI steps' decisions (mlops.ci), as pure functions: each test fails if the behaviour it names breaks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.ci.deploy import (
    EXIT_SMOKE_FAILED,
    deploy_image,
    deploy_target,
    digest_from_push_log,
    image_by_digest,
    registry_host,
    revert_body,
    revert_plan,
)
from mlops.ci.github import entries, first_number, pick_open_pr, pr_for_head, token_notice
from mlops.ci.monitor import drift_output
from mlops.ci.pr import is_commit_sha
from mlops.ci.remote import remote_state, remote_url
from mlops.io import InputError

ROOT = Path(__file__).resolve().parents[2]

SHA = "0123456789abcdef" * 4  # 64 hex
COMMIT = "c0ffee" + "0" * 34


# --- image-push ---------------------------------------------------------------------------------------------
def test_the_last_digest_docker_push_printed_is_the_one() -> None:
    log = (
        "The push refers to repository [ghcr.io/acme/churn]\n"
        f"5f70bf18a086: Pushed\nold: digest: sha256:{'1' * 64} size: 1\n"
        f"abc123: digest: sha256:{SHA} size: 1234\n"
    )
    assert digest_from_push_log(log) == f"sha256:{SHA}"


@pytest.mark.parametrize(
    "log", ["", "abc: Pushed\n", f"digest: sha256:{SHA[:63]} size: 1\n", f"digest: md5:{SHA}\n"]
)
def test_a_push_log_with_no_digest_is_an_error(log: str) -> None:
    with pytest.raises(ValueError, match="no digest"):
        digest_from_push_log(log)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/acme/churn:abc", "ghcr.io/acme/churn@sha256:x"),
        ("ghcr.io/acme/churn", "ghcr.io/acme/churn@sha256:x"),
        ("localhost:5000/churn", "localhost:5000/churn@sha256:x"),  # a registry port is not a tag
        ("localhost:5000/churn:dev", "localhost:5000/churn@sha256:x"),
        ("churn:dev", "churn@sha256:x"),
    ],
)
def test_the_image_is_recorded_by_digest_without_its_tag(image: str, expected: str) -> None:
    assert image_by_digest(image, "sha256:x") == expected


def test_docker_logs_in_to_the_images_registry() -> None:
    assert registry_host("ghcr.io/acme/churn:abc") == "ghcr.io"
    assert registry_host("localhost:5000/churn") == "localhost:5000"


# --- deploy-ci ----------------------------------------------------------------------------------------------
def test_a_kubeconfig_secret_picks_kubernetes_else_local() -> None:
    assert deploy_target("apiVersion: v1\n") == "kubernetes"
    assert deploy_target("") == "local"


def test_only_staging_falls_back_to_the_pushed_image() -> None:
    assert deploy_image("staging", "", "ghcr.io/a/b@sha256:x\n") == "ghcr.io/a/b@sha256:x"
    assert deploy_image("staging", "given:1", "ghcr.io/a/b@sha256:x") == "given:1"
    assert deploy_image("production", "", "ghcr.io/a/b@sha256:x") == ""  # production: its record's image
    assert deploy_image("staging", "", "") == ""


# --- revert-production --------------------------------------------------------------------------------------
def test_a_revert_of_a_revert_is_refused() -> None:
    plan = revert_plan(COMMIT, 'Revert "Merge pull request #3 from promote/production"', 1)
    assert plan.refused and "never reverted" in plan.refused and plan.args == ()
    assert revert_plan(COMMIT, "Revert: promote B", 2).refused


def test_a_merge_is_reverted_against_its_first_parent_a_commit_plainly() -> None:
    assert revert_plan(COMMIT, "Merge pull request #3 from promote/production", 2).args == ("-m", "1", COMMIT)
    assert revert_plan(COMMIT, "promote B", 1).args == (COMMIT,)
    assert not revert_plan(COMMIT, "promote B (Revert later?)", 1).refused  # only a leading "Revert"


def test_no_change_of_the_record_means_nothing_to_revert() -> None:
    plan = revert_plan("", "", 0)
    assert plan.refused and plan.args == ()


def test_the_revert_body_names_the_change() -> None:
    body = revert_body(COMMIT, "promote B")
    assert body.startswith(f"The production smoke test failed after {COMMIT[:8]} (promote B)")
    assert "branch protection" in body


def test_the_kept_smoke_failure_code_is_the_deploys() -> None:
    from mlops.deploy.local import EXIT_SMOKE_FAILED as SMOKE

    assert str(SMOKE) == EXIT_SMOKE_FAILED


# --- GitHub -------------------------------------------------------------------------------------------------
def test_a_forks_same_named_pr_is_not_picked() -> None:
    listed = json.dumps([{"isCrossRepository": True, "number": 9}, {"isCrossRepository": False, "number": 4}])
    assert pick_open_pr(listed) == 4
    assert pick_open_pr(json.dumps([{"isCrossRepository": True, "number": 9}])) is None
    assert pick_open_pr("") is None and pick_open_pr("[]\n") is None


def test_the_pr_of_the_head_commit_only() -> None:
    listed = json.dumps([{"headRefOid": "a" * 40, "number": 1}, {"headRefOid": "b" * 40, "number": 2}])
    assert pr_for_head(listed, "b" * 40) == 2
    assert pr_for_head(listed, "c" * 40) is None  # the PR moved on: stale


def test_gh_output_that_is_no_list_is_an_input_error() -> None:
    with pytest.raises(InputError):
        entries('{"number": 1}')
    with pytest.raises(InputError):
        entries("7")
    assert first_number('[{"number": 7}]') == 7 and first_number("") is None


def test_the_token_notice_names_the_token_and_warns_for_github_token() -> None:
    assert (token_notice("app") or "").startswith("::notice title=token::as the GitHub App")
    assert (token_notice("pat") or "").startswith("::notice title=token::as BOT_TOKEN")
    warning = token_notice("github") or ""
    assert warning.startswith("::warning title=token::as GITHUB_TOKEN") and "BOT_APP_ID" in warning
    assert token_notice("") is None and token_notice("other") is None


def test_head_sha_must_be_a_full_commit_sha() -> None:
    assert is_commit_sha("a" * 40)
    assert not is_commit_sha("$(id)") and not is_commit_sha("a" * 39) and not is_commit_sha("A" * 40)
    assert not is_commit_sha("a" * 40 + "\n")


# --- DVC remote, drift --------------------------------------------------------------------------------------
def test_the_default_remotes_url() -> None:
    listed = "backup\t/mnt/backup\nstore\ts3://bucket/cache\n"
    assert remote_url(listed, "store") == "s3://bucket/cache"
    assert remote_url(listed, "") == "" and remote_url(listed, "gone") == ""


def test_remote_state() -> None:
    assert remote_state("", False) == "none"
    assert remote_state("/mnt/absent", False) == "absent"  # a fresh runner: not an error
    assert remote_state("/mnt/cache", True) == "reachable"
    assert remote_state("s3://bucket/cache", False) == "reachable"  # credentials decide, not a folder


def test_drift_exit_codes_become_outputs_and_errors_stay_errors() -> None:
    assert drift_output(0) == "drift=false"
    assert drift_output(3) == "drift=true"
    assert drift_output(1) is None and drift_output(2) is None


# --- the steps end to end, where they need no tools -----------------------------------------------------
def mlops(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "mlops"), *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_drift_log_without_a_url_prints_log_false_and_a_notice(tmp_path: Path) -> None:
    proc = mlops("drift-log", "--log-dir", str(tmp_path / "log"), cwd=tmp_path, env={})
    assert (proc.returncode, proc.stdout) == (0, "log=false\n")
    assert proc.stderr.startswith("::notice title=drift::no prediction log configured")


def test_revert_production_refuses_without_a_failed_smoke_test(tmp_path: Path) -> None:
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")  # where .deploy and deploy/production.yaml are
    for kept in (None, "2\n", "0\n"):
        if kept is not None:
            (tmp_path / ".deploy" / "production").mkdir(parents=True, exist_ok=True)
            (tmp_path / ".deploy" / "production" / "deploy.exit").write_text(kept)
        proc = mlops("revert-production", "--push-url", "nowhere", cwd=tmp_path, env={"TOKEN_KIND": "app"})
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.startswith("::error title=production::the deploy did not reach its smoke test")
        assert "as the GitHub App" not in proc.stderr  # refused before anything else


def test_a_failed_push_says_dvcs_reason_and_where_credentials_go() -> None:
    from mlops.ci.remote import push_failure

    error = "ERROR: failed to push data to the cloud - Unable to locate credentials"
    output = f"Collecting\n{error}\nHaving any troubles?\n"
    reason = push_failure(output, "s3://bucket/dvc")
    assert reason.startswith("failed to push data to the cloud - Unable to locate credentials")
    assert "s3://bucket/dvc" in reason and "credentials in the job" in reason
    assert push_failure("something else broke\n", "s3://b") == "something else broke"
