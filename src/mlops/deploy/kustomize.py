"""The subset of kustomize that `mlops.deploy.manifests` renders, in pure Python: `kustomize build` of one
overlay over its base, so the final objects are validated (kubernetes-validate --strict, checkov) on a
machine without kubectl.

Only what the rendered overlays use, each with kustomize's own semantics:

- `resources`: the objects of the base (already built) plus the overlay's own files;
- `namespace`: set on every object (all the rendered kinds are namespaced);
- `labels` with `includeSelectors: false` and no `includeTemplates`: added to `metadata.labels` only, never
  to a selector or a pod template (a selector is immutable; the pod template gets its labels by patch);
- `images` (`name`, `newName`, `newTag`, `digest`): every container whose image name (without tag or
  digest) equals `name`;
- `patches` with a `target` (kind + name) and a JSON 6902 patch of `add` / `replace` / `remove` ops.

Anything else in a kustomization is refused rather than ignored, so this can never silently differ from
kustomize; tests/unit/test_manifests.py compares it with the real `kubectl kustomize` when one is there.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

Manifest = dict[str, Any]
KNOWN = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer {path!r} must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _apply_op(doc: Any, op: Manifest) -> None:
    *parents, last = _pointer(op["path"])
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    kind = op["op"]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if kind == "add":
            node.insert(index, copy.deepcopy(op["value"]))
        elif kind == "replace":
            node[index] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del node[index]
        else:
            raise ValueError(f"unsupported JSON 6902 op {kind!r}")
        return
    if kind in ("replace", "remove") and last not in node:
        raise ValueError(f"{kind} of a missing path {op['path']!r}")  # as kustomize fails
    if kind in ("add", "replace"):
        node[last] = copy.deepcopy(op["value"])
    elif kind == "remove":
        del node[last]
    else:
        raise ValueError(f"unsupported JSON 6902 op {kind!r}")


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry port (`host:5000/x`) is not a tag."""
    rest, _, digest = image.partition("@")
    head, slash, last = rest.rpartition("/")
    name, colon, tag = last.partition(":")
    return f"{head}{slash}{name}", (tag if colon else None), (digest or None)


def _set_image(container: Manifest, rule: Manifest) -> None:
    name, tag, digest = split_image(container["image"])
    if name != rule["name"]:
        return
    new = rule.get("newName", name)
    if "digest" in rule:
        container["image"] = f"{new}@{rule['digest']}"
    elif "newTag" in rule:
        container["image"] = f"{new}:{rule['newTag']}"
    else:
        container["image"] = new + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def build(base: list[Manifest], kustomization: Manifest, own: list[Manifest] | None = None) -> list[Manifest]:
    """The objects `kustomize build` makes of an overlay: `base` (its `../../base` resource) and `own` (the
    overlay's own resource files) transformed by the overlay's kustomization. Inputs are not modified."""
    unknown = set(kustomization) - KNOWN
    if unknown:
        raise ValueError(f"kustomization fields this builder does not implement: {sorted(unknown)}")
    objects = [copy.deepcopy(o) for o in [*base, *(own or [])]]
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        matched = [
            o for o in objects if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]
        ]
        if not matched:
            raise ValueError(f"patch target {target} matches no object")
        for obj in matched:
            for op in yaml.safe_load(patch["patch"]):
                _apply_op(obj, op)
    for obj in objects:
        if "namespace" in kustomization:
            obj["metadata"]["namespace"] = kustomization["namespace"]
        for rule in kustomization.get("labels", []):
            if rule.get("includeSelectors") or rule.get("includeTemplates"):
                raise ValueError("labels on selectors or templates are not implemented (nor rendered)")
            obj["metadata"].setdefault("labels", {}).update(rule["pairs"])
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            for rule in kustomization.get("images", []):
                _set_image(container, rule)
    return objects
