"""Kubernetes manifests for one environment: a hardened Deployment, its Service, an autoscaler, a
disruption budget, a network policy and a service account, with a kustomization over them.

Rendering is pure (a typed target in, plain dicts out); `write_manifests` is the only I/O. The output is
meant to be committed (GitOps): a cluster agent such as Argo CD or Flux applies what git holds, and a
platform team patches it with its own overlay (`resources: [<this folder>]` in their kustomization).

Secrets are referenced, never rendered: the cluster's operator creates them per namespace, each optional
so a namespace without one still serves (docs/team-scale.md): `<app>-feedback` (key `token`: the
/feedback bearer token), `<app>-log` (key `url`: MLOPS_PREDICTION_LOG_URL, where the service uploads its
rotated log and labels) and `<app>-registry` (a docker-registry Secret for a private image; a missing one
only logs a kubelet warning and the pull goes on anonymously). The ServiceAccount `<app>` is where a
workload identity (IRSA, GKE / Azure workload identity) is annotated for the log bucket.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlops.deploy import Environment
from mlops.deploy.records import deployed_model, env_file
from mlops.io import InputError, write_text

Manifest = dict[str, Any]

PORT = 3000  # `bentoml serve --port`, EXPOSEd by the Dockerfile
UID = 10001  # the Dockerfile's non-root user
PREDICTION_LOG_DIR = "/var/lib/mlops/predictions"  # same path as the Dockerfile's MLOPS_PREDICTION_LOG_DIR
# SIGTERM starts the service's drain: in-flight requests answered, the prediction log flushed, rotated and
# uploaded (with retries) to MLOPS_PREDICTION_LOG_URL. This bounds it; the kubelet kills after.
TERMINATION_GRACE_SECONDS = 60
# Before SIGTERM, wait while the endpoint removal reaches every kube-proxy / ingress, so no new request is
# routed to a pod that is shutting down.
PRE_STOP_SECONDS = 5

KUSTOMIZATION = "kustomization.yaml"  # beside the objects; not a Kubernetes object itself
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")  # RFC 1035 label: valid for every kind
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|k|M|G)?$")
_LABEL_MAX = 63
_HASH_CHARS = 8


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
        if "@sha256:" in value:
            return value
        tag = value.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            raise ValueError(f"image {value!r} needs an explicit tag other than 'latest', or a digest")
        return value

    @field_validator("cpu_request", "cpu_limit", "memory_request", "memory_limit")
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
        return f"{self.app}-{self.environment}"


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


def _labels(target: K8sTarget) -> dict[str, str]:
    """The selector labels: stable for the life of the Deployment (a selector is immutable)."""
    return {"app": target.app, "environment": target.environment}


def _metadata(target: K8sTarget) -> Manifest:
    return {"name": target.name, "namespace": target.namespace, "labels": _labels(target)}


def _probe(path: str, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _container(target: K8sTarget) -> Manifest:
    return {
        "name": target.app,
        "image": target.image,
        "imagePullPolicy": "IfNotPresent",  # the image is pinned: pulling again can only cost time
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            {"name": "MLOPS_PREDICTION_LOG_DIR", "value": PREDICTION_LOG_DIR},
            # The /feedback bearer token of this environment, from a Secret the cluster's operator creates
            # (`kubectl create secret generic <app>-feedback --from-literal=token=...`); optional, so a
            # namespace without it serves an open /feedback, as a local deploy without the variable does.
            {
                "name": "MLOPS_FEEDBACK_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {"name": f"{target.app}-feedback", "key": "token", "optional": True}
                },
            },
            # Where the rotated log and the labels are copied (an fsspec URL, e.g. s3://bucket/prefix): the
            # log outlives the pod there, and the drift job reads it from there. Optional Secret `<app>-log`.
            {
                "name": "MLOPS_PREDICTION_LOG_URL",
                "valueFrom": {"secretKeyRef": {"name": f"{target.app}-log", "key": "url", "optional": True}},
            },
        ],
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_SECONDS)]}}},
        # Startup: up to 60 s to import the stack before liveness may restart the container.
        "startupProbe": _probe("/livez", period=2, failures=30),
        # Readiness: out of the Service until the model is loaded (and whenever it cannot serve).
        "readinessProbe": _probe("/readyz", period=5, failures=3),
        # Liveness: restart only a process that no longer answers at all, never a merely busy one.
        "livenessProbe": _probe("/livez", period=10, failures=3),
        "resources": {
            "requests": {"cpu": target.cpu_request, "memory": target.memory_request},
            "limits": {"cpu": target.cpu_limit, "memory": target.memory_limit},
        },
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


def _pod_template(target: K8sTarget) -> Manifest:
    version = label_value(target.model_version)
    return {
        "metadata": {
            "labels": {**_labels(target), "model-version": version},
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(PORT),
                "prometheus.io/path": "/metrics",
                # The label may be shortened; the annotation keeps the full text.
                "mlops/model-version": target.model_version,
            },
        },
        "spec": {
            "serviceAccountName": target.app,
            "automountServiceAccountToken": False,  # the service never calls the Kubernetes API
            "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
            "imagePullSecrets": [{"name": f"{target.app}-registry"}],
            # Replicas spread over zones and nodes when the cluster has them (never unschedulable).
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": key,
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": _labels(target)},
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
            "containers": [_container(target)],
            # The local log is a buffer: rotated files are uploaded to MLOPS_PREDICTION_LOG_URL (hourly,
            # and at shutdown within the grace period), so what outlives the pod is the bucket's copy.
            "volumes": [
                {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                {"name": "predictions", "emptyDir": {"sizeLimit": "1Gi"}},
            ],
        },
    }


def deployment(target: K8sTarget) -> Manifest:
    """The Deployment. No `replicas`: the autoscaler owns the count, and a GitOps sync of a fixed
    number would fight it on every reconcile."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(target),
        "spec": {
            "selector": {"matchLabels": _labels(target)},
            "revisionHistoryLimit": 5,
            # Surge before removing: capacity never drops during a rollout.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": _pod_template(target),
        },
    }


def service(target: K8sTarget) -> Manifest:
    """A ClusterIP Service on port 80 in front of the pods' named port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(target),
        "spec": {
            "type": "ClusterIP",
            "selector": _labels(target),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(target: K8sTarget) -> Manifest:
    """An autoscaling/v2 HPA on CPU utilization (a share of the CPU request) between the replica bounds."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(target),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target.name},
            "minReplicas": target.min_replicas,
            "maxReplicas": target.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target.cpu_target_percent},
                    },
                }
            ],
        },
    }


def service_account(target: K8sTarget) -> Manifest:
    """The pods' identity: no API token mounted; annotate it for a workload identity to the log bucket."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {**_metadata(target), "name": target.app},
        "automountServiceAccountToken": False,
    }


def disruption_budget(target: K8sTarget) -> Manifest:
    """Voluntary disruptions (node drains, upgrades) keep all but one replica serving; a single-replica
    environment may lose it (a budget of 1 of 1 would block every drain forever)."""
    budget = {"minAvailable": target.min_replicas - 1} if target.min_replicas > 1 else {"maxUnavailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(target),
        "spec": {**budget, "selector": {"matchLabels": _labels(target)}},
    }


def network_policy(target: K8sTarget) -> Manifest:
    """In: the http port only (clients, the Service, Prometheus). Out: DNS, and HTTPS for the log upload
    to object storage. Everything else is denied."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(target),
        "spec": {
            "podSelector": {"matchLabels": _labels(target)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"port": PORT, "protocol": "TCP"}]}],
            "egress": [
                {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                {"ports": [{"port": 443, "protocol": "TCP"}]},
            ],
        },
    }


def render(target: K8sTarget) -> list[Manifest]:
    """All manifests of one environment, in apply order."""
    return [
        service_account(target),
        deployment(target),
        service(target),
        autoscaler(target),
        disruption_budget(target),
        network_policy(target),
    ]


def kustomization(files: list[str]) -> Manifest:
    """The folder as a kustomize base: `kubectl apply -k`, or a platform team's overlay on top."""
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": files}


def to_yaml(manifest: Manifest) -> str:
    """Block-style YAML in the order the manifest was built (readers expect apiVersion, kind first)."""
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)


def write_manifests(target: K8sTarget, out_dir: Path) -> list[Path]:
    """Write one file per object (`deployment.yaml`, ...) and the kustomization over them, atomically;
    return the objects' paths (the ones to validate)."""
    header = (
        f"# Rendered by mlops.deploy.manifests for {target.environment}: edit the target, not this file.\n"
    )
    paths = []
    for manifest in render(target):
        path = out_dir / f"{manifest['kind'].lower()}.yaml"
        write_text(header + to_yaml(manifest), path)
        paths.append(path)
    write_text(header + to_yaml(kustomization([p.name for p in paths])), out_dir / KUSTOMIZATION)
    return paths


def recorded_model_version(env_file: Path) -> str:
    """`<commit>-<md5>` of the model an environment file (deploy/<env>.yaml) records."""
    model = deployed_model(env_file)
    if model is None:
        raise InputError(f"{env_file} records no model yet: pass --model-version")
    return f"{model.commit}-{model.md5}"


def out_dir(env: str) -> Path:
    """<deploy_state>/<env>/k8s: where `mlops k8s-render` and `mlops deploy --target kubernetes` render."""
    from mlops import paths

    return paths.path("deploy_state") / env / "k8s"


def run(env: Environment, image: str, model_version: str | None, out: Path | None, params: Path) -> int:
    """`mlops k8s-render`: write an environment's manifests to `out` (GitOps: commit them, or let a
    controller apply them) and validate them strictly. The model version defaults to what
    deploy/<env>.yaml records; `out` to <deploy_state>/<env>/k8s, where `mlops deploy --target kubernetes`
    renders them too."""
    from mlops.deploy.kubernetes import validate
    from mlops.params import load_params

    app = load_params(params).project.name
    version = model_version or recorded_model_version(env_file(env))
    try:
        target = for_environment(env, image, version, app=app)
    except ValueError as exc:  # pydantic's ValidationError: the message names the field
        raise InputError(f"k8s-render {env}: {exc}") from exc
    out = out_dir(env) if out is None else out
    written = write_manifests(target, out)
    validate(written)
    for path in written:
        print(path)
    return 0
