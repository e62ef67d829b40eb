"""deploy/<env>.yaml parsing: nothing deployed, a recorded model, and malformed records named."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import pytest
from tests.conftest import unrecorded

from mlops.deploy.records import DeployedModel, deployed_model, load_deployed_model, read_record
from mlops.io import InputError
from mlops.lineage import file_md5

ROOT = Path(__file__).resolve().parents[2]


def test_the_records_of_a_project_copy_name_no_model(tmp_path: Path) -> None:
    """copy_project's overlay: whatever the fork promoted, the tests' copies start with nothing deployed."""
    for env in ("staging", "production"):
        record = tmp_path / f"{env}.yaml"
        record.write_text(unrecorded((ROOT / "deploy" / f"{env}.yaml").read_text()))
        assert deployed_model(record) is None
        assert read_record(record).environment == env


def test_unrecording_keeps_the_comments_and_drops_a_recorded_model() -> None:
    promoted = (
        "# What production runs.\nenvironment: production\n# The deployed model.\nmodel:\n"
        "  path: models/model.joblib\n  md5: " + "a" * 32 + "\n  commit: abc1234\n"
        "challenger: {model: {md5: x}, mode: shadow, share: 0.1}\n# The image.\nimage: ghcr.io/a/b@sha256:c\n"
    )
    assert unrecorded(promoted) == (
        "# What production runs.\nenvironment: production\n# The deployed model.\nmodel: null\n"
        "challenger: null\n# The image.\nimage: null\n"
    )


def test_a_missing_file_means_nothing_deployed(tmp_path: Path) -> None:
    assert deployed_model(tmp_path / "staging.yaml") is None


def test_a_recorded_model_is_read(tmp_path: Path) -> None:
    env = tmp_path / "production.yaml"
    env.write_text(
        "model:\n  path: models/model.joblib\n  md5: " + "a" * 32 + "\n  commit: 0123456789abcdef\n"
    )
    model = deployed_model(env)
    assert model == DeployedModel(path="models/model.joblib", md5="a" * 32, commit="0123456789abcdef")
    assert model is not None and model.label == "md5 aaaaaaaa from 01234567"


def test_a_malformed_record_names_the_field(tmp_path: Path) -> None:
    env = tmp_path / "production.yaml"
    env.write_text("model:\n  md5: not-a-hash\n  commit: abc1234\n")
    with pytest.raises(InputError, match=r"model\.md5"):
        deployed_model(env)


def test_a_cached_model_is_loaded_and_a_wrong_hash_is_refused(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    joblib.dump({"weights": [1, 2, 3]}, blob)
    md5 = file_md5(blob)
    cache = tmp_path / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cache.parent.mkdir(parents=True)
    blob.rename(cache)
    assert load_deployed_model(DeployedModel(md5=md5, commit="abc1234"), repo=tmp_path) == {
        "weights": [1, 2, 3]
    }
    # Not in the cache and no DVC repository to fetch from: a clear error, never a wrong model.
    with pytest.raises(InputError, match="cannot fetch the deployed model md5 bbbbbbbb"):
        load_deployed_model(DeployedModel(md5="b" * 32, commit="abc1234"), repo=tmp_path)


def test_writing_a_record_keeps_the_files_own_comments_above_each_key(tmp_path: Path) -> None:
    from mlops.deploy.records import DeployedModel, read_record, render_record

    shipped = unrecorded((ROOT / "deploy" / "production.yaml").read_text())  # the template's, unpromoted
    path = tmp_path / "production.yaml"
    path.write_text(shipped)
    record = read_record(path)
    assert render_record(record, shipped) == shipped  # unchanged values: the very same file
    promoted = record.model_copy(
        update={"model": DeployedModel(path="m.joblib", md5="a" * 32, commit="b" * 40)}
    )
    text = render_record(promoted, shipped)
    assert [line for line in text.splitlines() if line.startswith("#")] == [
        line for line in shipped.splitlines() if line.startswith("#")
    ]
    assert "md5: aaaaaaaa" in text


def test_a_champion_recorded_before_the_remote_moved_is_fetched_from_the_current_remote(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    def run(*args: str) -> str:
        done = subprocess.run(args, cwd=repo, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def dvc(*args: str) -> str:
        return run(sys.executable, "-m", "dvc", *args)

    repo = tmp_path / "repo"
    repo.mkdir()
    run("git", "init", "-q")
    run("git", "config", "user.email", "t@example.invalid")
    run("git", "config", "user.name", "t")
    dvc("init", "-q")
    dvc("remote", "add", "-d", "old", str(tmp_path / "old-store"))
    (repo / "models").mkdir()
    joblib.dump({"champion": True}, repo / "models" / "model.joblib")
    md5 = file_md5(repo / "models" / "model.joblib")
    dvc("add", "-q", "models/model.joblib")
    dvc("push", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "champion")
    recorded = DeployedModel(path="models/model.joblib", md5=md5, commit=run("git", "rev-parse", "HEAD"))
    # The team moves its data: the old store is gone, the new one is the default remote.
    (tmp_path / "old-store").rename(tmp_path / "new-store")
    dvc("remote", "add", "-d", "-f", "new", str(tmp_path / "new-store"))
    dvc("remote", "remove", "old")
    run("git", "commit", "-qam", "move the DVC remote")
    shutil.rmtree(repo / ".dvc" / "cache")
    assert load_deployed_model(recorded, repo=repo) == {"champion": True}
    # Neither remote holds it: one error naming both attempts.
    shutil.rmtree(tmp_path / "new-store")
    with pytest.raises(InputError, match="at the current remote 'new'"):
        load_deployed_model(recorded, repo=repo)
