"""Kubernetes manifests as a kustomize layout: `base/` (the objects every environment shares,
environment-neutral) and `overlays/<env>/` (namespace, image, replica bounds, resources, model version,
log volume), both rendered from one typed target: a hardened Deployment, its Service, an autoscaler, a
disruption budget, a network policy and a service account.

Rendering is pure (a typed target in, plain dicts out); `write_manifests` is the only I/O. The output is
meant to be committed (GitOps): a cluster agent such as Argo CD or Flux applies an overlay
(`kubectl apply -k overlays/<env>`), and a platform team adds its own overlay on top
(`resources: [../<env>]`, docs/team-scale.md). `render` is what `kustomize build overlays/<env>` makes of
them (mlops.deploy.kustomize; the tests compare it with the real kubectl when there is one): the objects
that are validated and that the cluster gets.

Secrets are referenced, never rendered: the cluster's operator creates them per namespace, each optional
so a namespace without one still serves (docs/team-scale.md): `<app>-feedback` (key `token`: the
/feedback bearer token), `<app>-log` (key `url`: MLOPS_PREDICTION_LOG_URL, where the service uploads its
rotated log and labels) and `<app>-registry` (a docker-registry Secret for a private image; a missing one
only logs a kubelet warning and the pull goes on anonymously). The ServiceAccount `<app>` is where a
workload identity (IRSA, GKE / Azure workload identity) is annotated for the log bucket.

No MLFLOW_TRACKING_URI (no `<app>-tracking` Secret): the served service never talks to MLflow. The model
is inside the image (the bento, packaged from the DVC-stored file), mlops.serving imports no mlflow, and
the registry aliases are moved by `mlops aliases` in the deploy workflow, not by the pods. A tracking URI
in the pod would be an unused credential, and egress to the tracking server a hole in the NetworkPolicy.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlops.deploy import Environment, kustomize
from mlops.deploy.kustomize import split_image
from mlops.deploy.records import deployed_model, env_file
from mlops.io import InputError, write_text

Manifest = dict[str, Any]

PORT = 3000  # `bentoml serve --port`, EXPOSEd by the Dockerfile
UID = 10001  # the Dockerfile's non-root user
PREDICTION_LOG_DIR = "/var/lib/mlops/predictions"  # same path as the Dockerfile's MLOPS_PREDICTION_LOG_DIR
# SIGTERM starts the service's drain: in-flight requests answered, the prediction log flushed, rotated and
# uploaded (with retries) to MLOPS_PREDICTION_LOG_URL. This bounds it; the kubelet kills after. The budget:
# 5 s preStop + the HTTP drain (request timeout 30 s) + the log close and its last uploads (< 25 s).
TERMINATION_GRACE_SECONDS = 60
# Before SIGTERM, wait while the endpoint removal reaches every kube-proxy / ingress, so no new request is
# routed to a pod that is shutting down.
PRE_STOP_SECONDS = 5
# Rotate the prediction log by age every 5 minutes (mlops.serving.predlog; 3600 s by default): a pod lost
# without a graceful shutdown (node failure, OOM kill) loses only the file still open, so at most 5 minutes
# of predictions that never reached the bucket, at the cost of 12 small files an hour per pod. Rendered as
# MLOPS_PREDICTION_LOG_ROTATE_SECONDS (read by mlops.serving.predlog.rotate_seconds).
ROTATE_SECONDS = 300

KUSTOMIZATION = "kustomization.yaml"  # beside the objects; not a Kubernetes object itself
BASE = "base"
OVERLAYS = "overlays"
PVC_FILE = "persistentvolumeclaim.yaml"  # an overlay's own resource, with log_volume "pvc"
# The base's image: a reserved, never-resolving registry (RFC 2606 `.invalid`), replaced by every overlay's
# `images:` entry. Applied alone, the base can pull nothing (a bare `<app>` means docker.io/library/<app>).
PLACEHOLDER_REGISTRY = "mlops.invalid"
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")  # RFC 1035 label: valid for every kind
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|k|M|G)?$")
_LABEL_MAX = 63
_HASH_CHARS = 8

# Each finding checkov reports on the rendered objects that is accepted, with the reason, as the
# annotation checkov reads (`checkov.io/skip<n>: <check>=<reason>`) on the object it concerns. Checkov
# runs on every overlay's output in tests/unit/test_manifests.py: a new finding fails it.
SKIP_SECRET_ENV = (
    "CKV_K8S_35=mlops.serving reads the feedback token and the log URL from its environment; both are "
    "secretKeyRef references to optional per-namespace Secrets, never literal values, and no API token "
    "or shell is in the pod"
)
SKIP_TAG_NOT_DIGEST = (
    "CKV_K8S_43=this environment's record names a tag, not a digest; K8sTarget refuses latest and "
    "untagged images, and a digest-pinned record renders without this skip"
)


class K8sTarget(BaseModel):
    """Where and what to deploy: one environment's image, model version, size and scaling bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment
    app: str  # params.yaml project.name: the bento's name and the `app` label of every object
    namespace: str
    image: str
    model_version: str = Field(min_length=1)  # any text; sanitized into a label by `label_value`
    min_replicas: int = Field(ge=1)
    max_replicas: int = Field(ge=1)
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    cpu_target_percent: int = Field(ge=10, le=100)
    # Where the prediction log is buffered. "emptyDir" (the default): a per-pod buffer; what outlives the
    # pod is the bucket copy (MLOPS_PREDICTION_LOG_URL), written at each rotation and at SIGTERM within the
    # grace period. It works on every cluster, with any replica count and a surging rollout. "pvc": one
    # ReadWriteMany claim shared by every replica (files are named per process, so writers never share
    # one), for clusters without object storage, or to keep files that a pod lost hard had not uploaded.
    # Not ReadWriteOnce: autoscaled replicas on several nodes, and the surge pod of a rollout, could not
    # attach it, and the rollout would hang (a StatefulSet would give each replica its own claim, but
    # nothing uploads or reads a scaled-down replica's files, and it gives up the surging rollout).
    log_volume: Literal["emptyDir", "pvc"] = "emptyDir"
    log_storage: str = "10Gi"  # the claim's size (log_volume "pvc")
    log_storage_class: str | None = None  # an RWX class (EFS, Filestore, Azure Files, NFS); None: default

    @field_validator("namespace", "app")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError(f"{value!r} is not a DNS label (lowercase alnum and '-', <= 63 chars)")
        return value

    @field_validator("image")
    @classmethod
    def _immutable_image(cls, value: str) -> str:
        # Git must name exactly what runs: a digest, or at least an explicit tag that is not `latest`.
        _, tag, digest = split_image(value)
        if digest:
            if not digest.startswith("sha256:"):
                raise ValueError(f"image {value!r}: a digest is sha256:<hex>")
            return value
        if not tag or tag == "latest":
            raise ValueError(f"image {value!r} needs an explicit tag other than 'latest', or a digest")
        return value

    @field_validator("cpu_request", "cpu_limit", "memory_request", "memory_limit", "log_storage")
    @classmethod
    def _quantity(cls, value: str) -> str:
        if not _QUANTITY.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 250m, 1, 512Mi)")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas {self.max_replicas} < min_replicas {self.min_replicas}")
        return self

    @property
    def name(self) -> str:
        """Every object's name (the namespace tells the environments apart): the base's, unchanged."""
        return self.app


# Staging is one small replica that can grow a little; production keeps two replicas so a node drain or
# a rollout never leaves it without capacity. Memory request == limit: memory is not compressible, and a
# pod using more than it asked for is the first one the kubelet evicts under pressure. `bentoml serve`
# starts one worker per CPU of the container's limit (read from the cgroup): memory scales with cpu_limit.
# Starting points, to be tuned with the load test (benchmarks/).
DEFAULTS: dict[str, dict[str, Any]] = {
    "staging": {
        "min_replicas": 1,
        "max_replicas": 2,
        "cpu_request": "250m",
        "cpu_limit": "1",
        "memory_request": "768Mi",
        "memory_limit": "768Mi",
        "cpu_target_percent": 80,
    },
    "production": {
        "min_replicas": 2,
        "max_replicas": 6,
        "cpu_request": "500m",
        "cpu_limit": "2",
        "memory_request": "1536Mi",
        "memory_limit": "1536Mi",
        "cpu_target_percent": 70,
    },
}
# The base's own size and bounds: placeholders every overlay replaces by patch (the smallest environment's).
BASE_SIZE = DEFAULTS["staging"]


def for_environment(
    environment: Environment, image: str, model_version: str, *, app: str, **overrides: Any
) -> K8sTarget:
    """The target of an environment with its defaults; `overrides` replace any field (validated)."""
    fields = {
        **DEFAULTS[environment],
        "app": app,
        "namespace": f"mlops-{environment}",
        "environment": environment,
        "image": image,
        "model_version": model_version,
        **overrides,
    }
    return K8sTarget.model_validate(fields)


def label_value(text: str) -> str:
    """A valid label value for any text: <= 63 chars of alnum, '-', '_', '.', alnum at both ends.

    Invalid characters become '-'. Text too long is cut and ends with a hash of the whole text, so two
    versions that differ only past the cut (a git SHA + an md5 is 73 chars) still get different labels.
    """
    clean = re.sub(r"[^A-Za-z0-9_.-]", "-", text).strip("-_.")
    if len(clean) > _LABEL_MAX:
        digest = hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]
        clean = f"{clean[: _LABEL_MAX - _HASH_CHARS - 1].rstrip('-_.')}-{digest}"
    return clean or "unknown"


# -- base: environment-neutral, a function of the app name only ---------------------------------------


def _labels(app: str) -> dict[str, str]:
    """The selector labels: stable for the life of the Deployment (a selector is immutable), the same in
    every environment (the namespace separates them; the overlay adds `environment` outside selectors)."""
    return {"app": app}


def _metadata(app: str) -> Manifest:
    return {"name": app, "labels": _labels(app)}


def placeholder_image(app: str) -> str:
    return f"{PLACEHOLDER_REGISTRY}/{app}"


def _resources(size: dict[str, Any]) -> Manifest:
    return {
        "requests": {"cpu": size["cpu_request"], "memory": size["memory_request"]},
        "limits": {"cpu": size["cpu_limit"], "memory": size["memory_limit"]},
    }


def _probe(path: str, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _container(app: str) -> Manifest:
    return {
        "name": app,
        "image": placeholder_image(app),
        # Always: the kubelet checks this pod's pull credentials even when the node has the image cached
        # (IfNotPresent lets any pod on the node run a cached private image); the image is pinned by the
        # overlay, so no layer is downloaded twice.
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            {"name": "MLOPS_PREDICTION_LOG_DIR", "value": PREDICTION_LOG_DIR},
            {"name": "MLOPS_PREDICTION_LOG_ROTATE_SECONDS", "value": str(ROTATE_SECONDS)},
            # The /feedback bearer token of this environment, from a Secret the cluster's operator creates
            # (`kubectl create secret generic <app>-feedback --from-literal=token=...`); optional, so a
            # namespace without it serves an open /feedback, as a local deploy without the variable does.
            {
                "name": "MLOPS_FEEDBACK_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": f"{app}-feedback", "key": "token", "optional": True}},
            },
            # Where the rotated log and the labels are copied (an fsspec URL, e.g. s3://bucket/prefix): the
            # log outlives the pod there, and the drift job reads it from there. Optional Secret `<app>-log`.
            {
                "name": "MLOPS_PREDICTION_LOG_URL",
                "valueFrom": {"secretKeyRef": {"name": f"{app}-log", "key": "url", "optional": True}},
            },
        ],
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_SECONDS)]}}},
        # Startup: up to 60 s to import the stack before liveness may restart the container.
        "startupProbe": _probe("/livez", period=2, failures=30),
        # Readiness: out of the Service until the model is loaded (and whenever it cannot serve).
        "readinessProbe": _probe("/readyz", period=5, failures=3),
        # Liveness: restart only a process that no longer answers at all, never a merely busy one.
        "livenessProbe": _probe("/livez", period=10, failures=3),
        "resources": _resources(BASE_SIZE),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The only writable paths: temp files (BentoML's sockets and metrics files) and the prediction log.
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "predictions", "mountPath": PREDICTION_LOG_DIR},
        ],
    }


LOG_VOLUME_INDEX = 1  # /spec/template/spec/volumes/<this>: the one log_volume "pvc" replaces


def _pod_template(app: str) -> Manifest:
    return {
        "metadata": {
            "labels": _labels(app),  # the overlay adds `environment` and `model-version`
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(PORT),
                "prometheus.io/path": "/metrics",
            },
        },
        "spec": {
            "serviceAccountName": app,
            "automountServiceAccountToken": False,  # the service never calls the Kubernetes API
            "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
            "imagePullSecrets": [{"name": f"{app}-registry"}],
            # Replicas spread over zones and nodes when the cluster has them (never unschedulable).
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": key,
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": _labels(app)},
                }
                for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
            ],
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": UID,
                "runAsGroup": UID,
                "fsGroup": UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [_container(app)],
            # The local log is a buffer: rotated files are uploaded to MLOPS_PREDICTION_LOG_URL (every
            # ROTATE_SECONDS, and at shutdown within the grace period), so what outlives the pod is the
            # bucket's copy; an overlay with log_volume "pvc" replaces this volume by a shared claim.
            "volumes": [
                {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                {"name": "predictions", "emptyDir": {"sizeLimit": "1Gi"}},
            ],
        },
    }


def deployment(app: str) -> Manifest:
    """The Deployment. No `replicas`: the autoscaler owns the count, and a GitOps sync of a fixed
    number would fight it on every reconcile."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**_metadata(app), "annotations": {"checkov.io/skip1": SKIP_SECRET_ENV}},
        "spec": {
            "selector": {"matchLabels": _labels(app)},
            "revisionHistoryLimit": 5,
            # Surge before removing: capacity never drops during a rollout.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": _pod_template(app),
        },
    }


def service(app: str) -> Manifest:
    """A ClusterIP Service on port 80 in front of the pods' named port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(app),
        "spec": {
            "type": "ClusterIP",
            "selector": _labels(app),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(app: str) -> Manifest:
    """An autoscaling/v2 HPA on CPU utilization (a share of the CPU request) between the replica bounds."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(app),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
            "minReplicas": BASE_SIZE["min_replicas"],
            "maxReplicas": BASE_SIZE["max_replicas"],
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": BASE_SIZE["cpu_target_percent"],
                        },
                    },
                }
            ],
        },
    }


def service_account(app: str) -> Manifest:
    """The pods' identity: no API token mounted; annotate it for a workload identity to the log bucket."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(app),
        "automountServiceAccountToken": False,
    }


def disruption_budget(app: str) -> Manifest:
    """Voluntary disruptions (node drains, upgrades) take one replica at a time, whatever the autoscaler's
    count: all but one keep serving. A single replica may be drained (a budget of 1 of 1 would block every
    drain forever); `maxUnavailable: 1` says both, so it is the same in every environment."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(app),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _labels(app)}},
    }


def network_policy(app: str) -> Manifest:
    """In: the http port only (clients, the Service, Prometheus). Out: DNS, and HTTPS for the log upload
    to object storage. Everything else is denied."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(app),
        "spec": {
            "podSelector": {"matchLabels": _labels(app)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"port": PORT, "protocol": "TCP"}]}],
            "egress": [
                {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                {"ports": [{"port": 443, "protocol": "TCP"}]},
            ],
        },
    }


def base(app: str) -> list[Manifest]:
    """The base's objects, in apply order: the same for every environment."""
    return [
        service_account(app),
        deployment(app),
        service(app),
        autoscaler(app),
        disruption_budget(app),
        network_policy(app),
    ]


def kustomization(files: list[str]) -> Manifest:
    """The base's kustomization: its objects, nothing transformed."""
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": files}


# -- overlay: what differs per environment --------------------------------------------------------------


def log_claim(target: K8sTarget) -> Manifest:
    """The prediction log's shared claim (log_volume "pvc"): ReadWriteMany, so every replica and the
    surge pod of a rollout mount it, on any node."""
    spec: Manifest = {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": target.log_storage}},
    }
    if target.log_storage_class is not None:
        spec["storageClassName"] = target.log_storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"{target.app}-predictions", "labels": _labels(target.app)},
        "spec": spec,
    }


def overlay_resources(target: K8sTarget) -> list[Manifest]:
    """The overlay's own objects (beside its kustomization)."""
    return [log_claim(target)] if target.log_volume == "pvc" else []


def _image_rule(target: K8sTarget) -> Manifest:
    name, tag, digest = split_image(target.image)
    rule: Manifest = {"name": placeholder_image(target.app), "newName": name}
    if digest:
        rule["digest"] = digest  # kustomize drops a tag given beside a digest: the digest is what runs
    else:
        rule["newTag"] = tag
    return rule


def _patch(kind: str, name: str, ops: list[Manifest]) -> Manifest:
    text = yaml.safe_dump(ops, sort_keys=False, default_flow_style=False, width=1000)
    return {"target": {"kind": kind, "name": name}, "patch": text}


def _deployment_ops(target: K8sTarget) -> list[Manifest]:
    pod = "/spec/template"
    ops: list[Manifest] = [
        {"op": "add", "path": f"{pod}/metadata/labels/environment", "value": target.environment},
        {
            "op": "add",
            "path": f"{pod}/metadata/labels/model-version",
            "value": label_value(target.model_version),
        },
        # The label may be shortened; the annotation keeps the full text.
        {
            "op": "add",
            "path": f"{pod}/metadata/annotations/mlops~1model-version",
            "value": target.model_version,
        },
        {
            "op": "replace",
            "path": f"{pod}/spec/containers/0/resources",
            "value": _resources(target.model_dump()),
        },
    ]
    if split_image(target.image)[2] is None:
        ops.append(
            {"op": "add", "path": "/metadata/annotations/checkov.io~1skip2", "value": SKIP_TAG_NOT_DIGEST}
        )
    if target.log_volume == "pvc":
        volume = {"name": "predictions", "persistentVolumeClaim": {"claimName": f"{target.app}-predictions"}}
        ops.append({"op": "replace", "path": f"{pod}/spec/volumes/{LOG_VOLUME_INDEX}", "value": volume})
    return ops


def overlay(target: K8sTarget) -> Manifest:
    """The environment's kustomization over `../../base`: namespace, image, bounds, size, model version."""
    hpa = [
        {"op": "replace", "path": "/spec/minReplicas", "value": target.min_replicas},
        {"op": "replace", "path": "/spec/maxReplicas", "value": target.max_replicas},
        {
            "op": "replace",
            "path": "/spec/metrics/0/resource/target/averageUtilization",
            "value": target.cpu_target_percent,
        },
    ]
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [f"../../{BASE}", *([PVC_FILE] if target.log_volume == "pvc" else [])],
        "namespace": target.namespace,
        # Metadata only: never a selector (immutable) nor the pod template (patched below, on purpose).
        "labels": [{"pairs": {"environment": target.environment}, "includeSelectors": False}],
        "images": [_image_rule(target)],
        "patches": [
            _patch("Deployment", target.app, _deployment_ops(target)),
            _patch("HorizontalPodAutoscaler", target.app, hpa),
        ],
    }


def render(target: K8sTarget) -> list[Manifest]:
    """The environment's final objects, in apply order: what `kustomize build overlays/<env>` makes of
    the base and the overlay (validated, and what the cluster gets)."""
    return kustomize.build(base(target.app), overlay(target), overlay_resources(target))


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the overlay's patches) as literal blocks, readable in a review."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(manifest: Manifest) -> str:
    """Block-style YAML in the order the manifest was built (readers expect apiVersion, kind first): the
    same target always gives the same bytes, so a committed render changes only when the target does."""
    return yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def _file_name(manifest: Manifest) -> str:
    return f"{manifest['kind'].lower()}.yaml"


def write_manifests(target: K8sTarget, out_dir: Path) -> list[Path]:
    """Write the layout under `out_dir`, atomically file by file: `base/` (one file per object and its
    kustomization) and `overlays/<env>/` (its kustomization and own objects). Returns every path written,
    base first; the overlay's kustomization is the last one (`kubectl apply -k` its folder)."""
    header = (
        "# Rendered by mlops.deploy.manifests: edit the target (mlops.deploy.manifests), not this file.\n"
    )
    paths = []
    for manifest in base(target.app):
        path = out_dir / BASE / _file_name(manifest)
        write_text(header + to_yaml(manifest), path)
        paths.append(path)
    base_kustomization = out_dir / BASE / KUSTOMIZATION
    write_text(header + to_yaml(kustomization([p.name for p in paths])), base_kustomization)
    paths.append(base_kustomization)
    env_header = header.replace(
        "mlops.deploy.manifests:", f"mlops.deploy.manifests for {target.environment}:"
    )
    env_dir = overlay_dir(out_dir, target.environment)
    for manifest in overlay_resources(target):
        path = env_dir / _file_name(manifest)
        write_text(env_header + to_yaml(manifest), path)
        paths.append(path)
    write_text(env_header + to_yaml(overlay(target)), env_dir / KUSTOMIZATION)
    paths.append(env_dir / KUSTOMIZATION)
    return paths


def overlay_dir(out_dir: Path, env: str) -> Path:
    """Where an environment's overlay is, in a layout rendered into `out_dir`."""
    return out_dir / OVERLAYS / env


def write_objects(objects: list[Manifest], folder: Path) -> list[Path]:
    """The final objects one file each (for kubernetes-validate, which reads files)."""
    paths = []
    for manifest in objects:
        path = folder / f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
        write_text(to_yaml(manifest), path)
        paths.append(path)
    return paths


def recorded_model_version(env_file: Path) -> str:
    """`<commit>-<md5>` of the model an environment file (deploy/<env>.yaml) records."""
    model = deployed_model(env_file)
    if model is None:
        raise InputError(f"{env_file} records no model yet: pass --model-version")
    return f"{model.commit}-{model.md5}"


def out_dir(env: str) -> Path:
    """<deploy_state>/<env>/k8s: where `mlops k8s-render` and `mlops deploy --target kubernetes` render the
    layout (`base/`, `overlays/<env>/`); each environment's folder holds the same base."""
    from mlops import paths

    return paths.path("deploy_state") / env / "k8s"


def run(env: Environment, image: str, model_version: str | None, out: Path | None, params: Path) -> int:
    """`mlops k8s-render`: write an environment's base and overlay to `out` (GitOps: commit them, or let a
    controller apply them) and validate the base's objects and the overlay's final objects strictly. The
    model version defaults to what deploy/<env>.yaml records; `out` to <deploy_state>/<env>/k8s, where
    `mlops deploy --target kubernetes` renders them too."""
    from mlops.deploy.kubernetes import validate_render
    from mlops.params import load_params

    app = load_params(params).project.name
    version = model_version or recorded_model_version(env_file(env))
    try:
        target = for_environment(env, image, version, app=app)
    except ValueError as exc:  # pydantic's ValidationError: the message names the field
        raise InputError(f"k8s-render {env}: {exc}") from exc
    out = out_dir(env) if out is None else out
    written = write_manifests(target, out)
    validate_render(target, written)
    for path in written:
        print(path)
    return 0
