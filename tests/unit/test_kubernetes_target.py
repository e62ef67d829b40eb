"""`mlops deploy --target kubernetes` with no cluster: render, validate strictly, say it did not apply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from mlops.deploy.kubernetes import deploy_kubernetes
from mlops.deploy.records import DeployedModel, EnvRecord
from mlops.io import InputError

MODEL = DeployedModel(md5="fdb50ece07e0416d4e1feaea827040af", commit="a" * 40)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with the repository's dvc.yaml (where every path is declared), as cwd."""
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_manifests_are_rendered_validated_and_not_applied_without_a_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    record = EnvRecord(environment="production", model=MODEL, image="ghcr.io/acme/churn:1.2.3")
    assert deploy_kubernetes("production", record, "customer-churn:fdb50ece07e0416d") == (0, False)
    out = capsys.readouterr().out
    assert "base + overlay rendered" in out and "6 objects valid" in out and "NOT applied" in out
    root = tmp_path / ".deploy/production/k8s"
    docs = [yaml.safe_load(p.read_text()) for p in sorted((root / "base").glob("*.yaml"))]
    kinds = {d["kind"] for d in docs}
    objects = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"}
    assert kinds == {*objects, "ServiceAccount", "Kustomization"}
    # What is applied is the environment's overlay (over the base), not the base.
    assert "kubectl apply -k .deploy/production/k8s/overlays/production" in out
    overlay = yaml.safe_load((root / "overlays/production/kustomization.yaml").read_text())
    assert overlay["resources"] == ["../../base"] and overlay["namespace"] == "mlops-production"
    assert overlay["images"] == [
        {"name": "mlops.invalid/customer-churn", "newName": "ghcr.io/acme/churn", "newTag": "1.2.3"}
    ]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_a_configured_cluster_gets_the_overlay_applied_and_the_rollout_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {calls}\n")
    kubectl.chmod(0o755)
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    record = EnvRecord(environment="staging", model=MODEL, image="ghcr.io/acme/churn:1.2.3")
    assert deploy_kubernetes("staging", record, "customer-churn:fdb50ece07e0416d") == (0, True)
    overlay = Path(".deploy/staging/k8s/overlays/staging")  # relative to the project
    assert calls.read_text().splitlines() == [
        f"apply -k {overlay}",
        "-n mlops-staging rollout status deployment/customer-churn --timeout=300s",
    ]


def test_a_record_without_an_image_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="records no image"):
        deploy_kubernetes("staging", EnvRecord(environment="staging", model=MODEL), "customer-churn:x")


def test_a_configured_cluster_without_kubectl_or_a_challenger_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.deploy.records import ChallengerRecord

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    record = EnvRecord(environment="production", model=MODEL, image="ghcr.io/acme/churn:1.2.3")
    with pytest.raises(InputError, match="KUBECONFIG names a file that does not exist"):
        deploy_kubernetes("production", record, "customer-churn:x")
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no kubectl
    with pytest.raises(InputError, match="kubectl is not on PATH"):
        deploy_kubernetes("production", record, "customer-churn:x")
    split = record.model_copy(update={"challenger": ChallengerRecord(model=MODEL, mode="split", share=0.1)})
    with pytest.raises(InputError, match="has a challenger"):
        deploy_kubernetes("production", split, "customer-churn:x")
