"""Kubernetes manifests: schema-valid (strict, offline), hardened, probed, scraped, and bounded."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from tests.world import WORLD_PARAMS, world_params

from mlops.cli import main
from mlops.deploy.kubernetes import KUBERNETES_VERSION
from mlops.deploy.manifests import K8sTarget, for_environment, label_value, render, write_manifests

VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
# Pinned: the tool's default moves with every release (1.37 today), and a test must not change verdict
# when the dev dependency is bumped. 1.30 is the oldest Kubernetes still widely supported by providers.
K8S_VERSION = KUBERNETES_VERSION  # the version `mlops deploy --target kubernetes` validates against
APP = world_params().project.name  # project.name: the app label and object names
IMAGE = "ghcr.io/example/customer-churn:0.1.0"
SHA = "0123456789abcdef0123456789abcdef01234567"  # a 40-char git commit
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VALIDATE), "--strict", "--kubernetes-version", K8S_VERSION, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _by_kind(target: K8sTarget) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in render(target)}


@pytest.fixture(params=["staging", "production"])
def target(request: pytest.FixtureRequest) -> K8sTarget:
    return for_environment(request.param, IMAGE, f"{SHA}-{MD5}", app=APP)


def test_written_manifests_pass_strict_schema_validation(target: K8sTarget, tmp_path: Path) -> None:
    paths = write_manifests(target, tmp_path)
    names = [p.name for p in paths]
    assert sorted(names) == [
        "deployment.yaml",
        "horizontalpodautoscaler.yaml",
        "networkpolicy.yaml",
        "poddisruptionbudget.yaml",
        "service.yaml",
        "serviceaccount.yaml",
    ]
    proc = _validate(*paths)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" passed for resource ") == 6
    # What was written is exactly what was rendered (the header is a YAML comment).
    assert [yaml.safe_load(p.read_text()) for p in paths] == render(target)
    # The folder is a kustomize base over exactly these objects, in apply order.
    kustomization = yaml.safe_load((tmp_path / "kustomization.yaml").read_text())
    assert kustomization == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": names,
    }
    # Atomic writes leave no temp file behind.
    assert sorted(tmp_path.iterdir()) == sorted([*paths, tmp_path / "kustomization.yaml"])


def test_a_misspelt_field_fails_strict_validation_naming_it(tmp_path: Path) -> None:
    # Without --strict, unknown fields pass silently: a typo would deploy a pod with no readiness probe.
    deployment = _by_kind(for_environment("staging", IMAGE, "v1", app=APP))["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(deployment))
    proc = _validate(bad)
    assert proc.returncode != 0
    assert "'readinessProbes' was unexpected" in proc.stdout + proc.stderr


def test_probes_ports_and_scrape_annotations(target: K8sTarget) -> None:
    pod = _by_kind(target)["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    scrape = {"prometheus.io/scrape": "true", "prometheus.io/port": "3000", "prometheus.io/path": "/metrics"}
    assert pod["metadata"]["annotations"].items() >= scrape.items()
    service = _by_kind(target)["Service"]["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_pod_runs_non_root_on_a_read_only_filesystem(target: K8sTarget) -> None:
    spec = _by_kind(target)["Deployment"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    security = container["securityContext"]
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == 10001
    assert security["runAsNonRoot"] and security["runAsUser"] == 10001
    assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # Read-only root: the only writable paths are volumes, and the prediction log dir is one of them.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    env = {e["name"]: e for e in container["env"]}
    log_dir = env["MLOPS_PREDICTION_LOG_DIR"]["value"]
    # The /feedback token comes from the environment's own optional Secret, never a literal value.
    token = env["MLOPS_FEEDBACK_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert (
        token["optional"] is True
        and token["name"].endswith("-feedback")
        and "value" not in env["MLOPS_FEEDBACK_TOKEN"]
    )
    assert set(mounts) == {"/tmp", log_dir}
    assert {v["name"] for v in spec["volumes"] if "emptyDir" in v} == set(mounts.values())


def test_labels_selectors_and_names(target: K8sTarget) -> None:
    objects = _by_kind(target)
    deployment = objects["Deployment"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    # The selector is immutable: it must not contain the model version, or a new model could not roll out.
    assert selector == {"app": "customer-churn", "environment": target.environment}
    assert objects["Service"]["spec"]["selector"] == selector
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels == {**selector, "model-version": label_value(target.model_version)}
    for manifest in objects.values():
        expected = (
            "customer-churn"
            if manifest["kind"] == "ServiceAccount"
            else f"customer-churn-{target.environment}"
        )
        assert manifest["metadata"]["name"] == expected
        assert manifest["metadata"]["namespace"] == f"mlops-{target.environment}"
    # The autoscaler owns the replica count: a fixed one would be reset on every GitOps sync.
    assert "replicas" not in deployment["spec"]


def test_autoscaler_bounds_per_environment() -> None:
    staging = _by_kind(for_environment("staging", IMAGE, "v1", app=APP))["HorizontalPodAutoscaler"]["spec"]
    production = _by_kind(for_environment("production", IMAGE, "v1", app=APP))["HorizontalPodAutoscaler"][
        "spec"
    ]
    assert (staging["minReplicas"], staging["maxReplicas"]) == (1, 2)
    assert production["minReplicas"] >= 2 and production["maxReplicas"] > production["minReplicas"]
    assert production["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "customer-churn-production",
    }
    (metric,) = production["metrics"]
    assert metric["resource"] == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}


def test_model_version_labels_are_valid_and_stay_distinct() -> None:
    long_a, long_b = f"{SHA}-{MD5}", f"{SHA}-{MD5[:-1]}f"  # 73 chars, differ only in the last character
    for text in [long_a, "v1.2.3+build 7/rc", "--weird--", "---", SHA]:
        value = label_value(text)
        assert len(value) <= 63 and LABEL_VALUE.match(value) and value, (text, value)
    assert label_value(long_a) != label_value(long_b)  # cutting at 63 chars alone would merge them
    assert label_value(long_a).startswith(SHA) and label_value(long_a) == label_value(long_a)
    assert label_value(SHA) == SHA and label_value("v1.2.3+build 7/rc") == "v1.2.3-build-7-rc"
    assert label_value("---") == "unknown"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image": "ghcr.io/example/customer-churn"}, "explicit tag"),
        ({"image": "ghcr.io/example/customer-churn:latest"}, "explicit tag"),
        ({"namespace": "Prod_NS"}, "not a DNS label"),
        ({"min_replicas": 3, "max_replicas": 2}, "max_replicas 2 < min_replicas 3"),
        ({"memory_limit": "1.5GB"}, "not a Kubernetes quantity"),
        ({"replica": 2}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_targets_are_refused(overrides: dict[str, Any], message: str) -> None:
    fields = {"image": IMAGE, **overrides}
    image = fields.pop("image")
    with pytest.raises(ValidationError, match=message):
        for_environment("staging", image, "v1", app=APP, **fields)


def test_a_digest_pinned_image_is_accepted() -> None:
    image = "ghcr.io/example/customer-churn@sha256:" + "0" * 64
    assert for_environment("production", image, "v1", app=APP).image == image


def test_k8s_render_reads_the_model_version_from_the_environment_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (tmp_path / "dvc.yaml").write_text("vars:\n  - paths:\n      production: deploy/production.yaml\n")
    monkeypatch.chdir(tmp_path)
    (deploy / "production.yaml").write_text("environment: production\nmodel: null\n")
    argv = ["k8s-render", "--env", "production", "--image", IMAGE, "--params", str(WORLD_PARAMS)]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "records no model yet" in capsys.readouterr().err
    model = {"path": "models/model.joblib", "md5": MD5, "commit": SHA}
    (deploy / "production.yaml").write_text(yaml.safe_dump({"environment": "production", "model": model}))
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    pod = yaml.safe_load((tmp_path / "out" / "deployment.yaml").read_text())["spec"]["template"]
    assert pod["metadata"]["annotations"]["mlops/model-version"] == f"{SHA}-{MD5}"
    assert main([*argv, "--image", "customer-churn:latest", "--out", str(tmp_path / "x")]) == 2


def test_what_a_platform_team_needs_is_there(target: K8sTarget) -> None:
    objects = _by_kind(target)
    spec = objects["Deployment"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    selector = objects["Deployment"]["spec"]["selector"]["matchLabels"]
    # Identity and pulls: a named ServiceAccount without an API token, a registry Secret reference.
    assert spec["serviceAccountName"] == objects["ServiceAccount"]["metadata"]["name"] == "customer-churn"
    assert objects["ServiceAccount"]["automountServiceAccountToken"] is False
    assert spec["imagePullSecrets"] == [{"name": "customer-churn-registry"}]
    # The log leaves the pod: its URL comes from an optional Secret, the drain fits the grace period.
    env = {e["name"]: e for e in container["env"]}
    url = env["MLOPS_PREDICTION_LOG_URL"]["valueFrom"]["secretKeyRef"]
    assert url == {"name": "customer-churn-log", "key": "url", "optional": True}
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert spec["terminationGracePeriodSeconds"] > 5
    # Spread over zones and nodes, never unschedulable for it.
    spread = spec["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert all(c["whenUnsatisfiable"] == "ScheduleAnyway" and c["labelSelector"]["matchLabels"] == selector
               for c in spread)  # fmt: skip
    # A drain keeps all but one replica (production); a single replica may be drained (staging).
    budget = objects["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"] == selector
    if target.min_replicas > 1:
        assert budget == {"minAvailable": target.min_replicas - 1, "selector": budget["selector"]}
    else:
        assert budget["maxUnavailable"] == 1
    # Only the http port in; DNS and HTTPS (the log upload) out.
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"] == selector and policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"port": 3000, "protocol": "TCP"}]}]
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53, 443}
