"""`mlops deploy --target kubernetes` with no cluster: render, validate strictly, say it did not apply."""

from __future__ import annotations

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
    assert "manifests rendered and valid" in out and "NOT applied" in out
    rendered = sorted((tmp_path / ".deploy/production/k8s").glob("*.yaml"))
    docs = [yaml.safe_load(p.read_text()) for p in rendered]
    kinds = {d["kind"] for d in docs}
    objects = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"}
    assert kinds == {*objects, "ServiceAccount", "Kustomization"}
    assert "kubectl apply -k" in out  # the folder is applied as the kustomize base it is
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/acme/churn:1.2.3"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


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
