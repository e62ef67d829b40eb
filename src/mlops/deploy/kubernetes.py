"""Target `kubernetes` of `mlops deploy`: render, validate offline, apply when a cluster is configured.

Rendering and validation always run (kubernetes-validate --strict: misspelt fields fail) on the base's
objects and on the overlay's final objects (what `kustomize build` makes of them, mlops.deploy.kustomize),
so a broken manifest or patch is caught on any machine; `kubectl apply -k overlays/<env>` and
`kubectl rollout status` run only when kubectl is on PATH and KUBECONFIG (or ~/.kube/config) points at a
cluster. Without one, the command says so and leaves the rendered layout under .deploy/<env>/k8s/
(`base/`, `overlays/<env>/`) for review or for a GitOps controller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlops.deploy import manifests
from mlops.deploy.records import EnvRecord
from mlops.io import InputError

KUBERNETES_VERSION = "1.30.0"


def validate(files: list[Path]) -> None:
    """kubernetes-validate --strict on the rendered files: a misspelt field is an error, not ignored."""
    tool = Path(sys.executable).parent / "kubernetes-validate"
    proc = subprocess.run(
        [str(tool), "--strict", "--kubernetes-version", KUBERNETES_VERSION, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise InputError(f"rendered manifests are invalid:\n{proc.stdout}{proc.stderr}")


def validate_render(target: manifests.K8sTarget, written: list[Path]) -> int:
    """Validate the written base objects and the environment's final objects (the overlay applied) in one
    call; return how many final objects there are."""
    objects = [p for p in written if p.name != manifests.KUSTOMIZATION and p.parent.name == manifests.BASE]
    with tempfile.TemporaryDirectory() as tmp:
        final = manifests.write_objects(manifests.render(target), Path(tmp))
        validate([*objects, *final])
    return len(final)


def cluster_configured() -> bool:
    """Whether a kubeconfig is there to apply with; an unusable one is an error, never a silent no-op."""
    config = os.environ.get("KUBECONFIG")
    configs = config.split(os.pathsep) if config else [str(Path.home() / ".kube" / "config")]
    present = all(Path(p).exists() for p in configs)
    if config and not present:
        raise InputError(f"KUBECONFIG names a file that does not exist: {config}")
    if present and shutil.which("kubectl") is None:
        raise InputError("a kubeconfig is configured but kubectl is not on PATH: install it to deploy")
    return present


def deploy_kubernetes(env: str, record: EnvRecord, bento: str) -> tuple[int, bool]:
    """(exit code, applied). Render, validate, and apply when a cluster is configured.

    The smoke test here is Kubernetes' own: the rollout completes only when new pods pass their readiness
    probe (the model is loaded); a rollout that does not complete is undone (`kubectl rollout undo`), so
    the previous version keeps serving. Golden requests against the cluster are left to the team's
    ingress (the local target runs them).
    """
    if not record.image:
        raise InputError(f"deploy/{env}.yaml records no image: the deploy workflow sets it after pushing one")
    if record.challenger is not None:
        raise InputError(
            f"deploy/{env}.yaml has a challenger: the kubernetes target serves one model per Deployment "
            "(run the challenger on the local target, or as a second Deployment of your own)"
        )
    app = bento.split(":", 1)[0]  # the bento's name is the project name (mlops package)
    target = manifests.for_environment(env, record.image, bento, app=app)  # type: ignore[arg-type]
    out = manifests.out_dir(env)
    written = manifests.write_manifests(target, out)
    count = validate_render(target, written)
    overlay = manifests.overlay_dir(out, env)
    print(f"deploy {env}: base + overlay rendered in {out}, {count} objects valid")
    if not cluster_configured():
        print(f"deploy {env}: no kubeconfig here: rendered, NOT applied (kubectl apply -k {overlay})")
        return 0, False
    name = target.name
    rollout = ["kubectl", "-n", target.namespace, "rollout"]
    if subprocess.run(["kubectl", "apply", "-k", str(overlay)], check=False).returncode != 0:
        print(f"deploy {env}: kubectl apply failed", file=sys.stderr)
        return 1, False
    if subprocess.run([*rollout, "status", f"deployment/{name}", "--timeout=300s"], check=False).returncode:
        subprocess.run([*rollout, "undo", f"deployment/{name}"], check=False)
        print(f"deploy {env}: rollout did not complete; undone, the previous version serves", file=sys.stderr)
        return 1, False
    return 0, True
