"""Every file and folder the project reads or writes, by name: dvc.yaml `vars.paths` is the one source.

dvc.yaml's stage commands interpolate these names (`${paths.model}`); the `mlops` commands that are not
DVC stages (deploy, drift, report, ...) take the same names as their defaults, so a fork that moves a file
changes one line. Paths are relative to the project root (the working directory of `dvc repro` and make).
"""

from __future__ import annotations

from pathlib import Path

import yaml

DVC_YAML = Path("dvc.yaml")  # relative: read from the working directory each time (no cache across chdir)


class PathsError(ValueError):
    """dvc.yaml is missing, or has no `vars.paths` entry of that name: the message names it."""


def _declared(dvc_yaml: Path) -> dict[str, str]:
    try:
        data = yaml.safe_load(dvc_yaml.read_text()) or {}
    except FileNotFoundError as exc:
        raise PathsError(f"{dvc_yaml} not found: run mlops from the project root") from exc
    for entry in data.get("vars", []):
        if isinstance(entry, dict) and isinstance(entry.get("paths"), dict):
            return {str(k): str(v) for k, v in entry["paths"].items()}
    raise PathsError(f"{dvc_yaml}: no `vars: - paths:` mapping")


def declared(dvc_yaml: Path = DVC_YAML) -> dict[str, str]:
    """Every name -> path of dvc.yaml's `vars.paths`."""
    return dict(_declared(dvc_yaml))


def path(name: str, dvc_yaml: Path = DVC_YAML) -> Path:
    """The path dvc.yaml declares under `vars.paths.<name>`."""
    return lookup(_declared(dvc_yaml), name, dvc_yaml)


def lookup(paths: dict[str, str], name: str, dvc_yaml: Path = DVC_YAML) -> Path:
    """`name` in an already read `declared()` mapping; the error names the missing key."""
    if name not in paths:
        raise PathsError(f"{dvc_yaml}: `vars.paths.{name}` is not declared")
    return Path(paths[name])


def run(name: str) -> int:
    """`mlops path --name <key>`: print the declared path (the Makefile's way to read dvc.yaml)."""
    print(path(name))
    return 0
