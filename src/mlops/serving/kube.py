"""Target `kubernetes` of `mlops deploy`: render, validate offline, apply when a cluster is configured.

Rendering and validation always run (kubernetes-validate --strict: misspelt fields fail), so a broken
manifest is caught on any machine; `kubectl apply` and `kubectl rollout status` run only when kubectl is
on PATH and KUBECONFIG (or ~/.kube/config) points at a cluster. Without one, the command says so and
leaves the rendered manifests under .deploy/<env>/k8s/ for review or for a GitOps controller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mlops import k8s
from mlops.deploy_state import EnvRecord
from mlops.io import InputError

KUBERNETES_VERSION = "1.30.0"


def validate(paths: list[Path]) -> None:
    tool = Path(sys.executable).parent / "kubernetes-validate"
    proc = subprocess.run(
        [str(tool), "--strict", "--kubernetes-version", KUBERNETES_VERSION, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise InputError(f"rendered manifests are invalid:\n{proc.stdout}{proc.stderr}")


def cluster_configured() -> bool:
    config = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    return shutil.which("kubectl") is not None and all(Path(p).exists() for p in config.split(os.pathsep))


def deploy_kubernetes(env: str, record: EnvRecord, bento: str) -> int:
    if not record.image:
        raise InputError(f"deploy/{env}.yaml records no image: the deploy workflow sets it after pushing one")
    target = k8s.for_environment(env, record.image, bento)  # type: ignore[arg-type]
    out = Path(".deploy") / env / "k8s"
    paths = k8s.write_manifests(target, out)
    validate(paths)
    print(f"deploy {env}: {len(paths)} manifests rendered and valid in {out}")
    if not cluster_configured():
        print(f"deploy {env}: no kubectl / kubeconfig here: not applied (kubectl apply -f {out})")
        return 0
    name = k8s.deployment(target)["metadata"]["name"]
    for cmd in (
        ["kubectl", "apply", "-f", str(out)],
        ["kubectl", "-n", target.namespace, "rollout", "status", f"deployment/{name}", "--timeout=300s"],
    ):
        if subprocess.run(cmd, check=False).returncode != 0:
            print(f"deploy {env}: `{' '.join(cmd)}` failed", file=sys.stderr)
            return 1
    return 0
