"""What init resets besides the contract: the params.yaml keys (read options, split, floors, the example's
gates), the project name, and the deploy records (the example's champion cannot score the new data).

Pure: the drafted contract and detected read options in, edits (dotted key -> value, comment) out.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from mlops.contract import Contract
from mlops.onboarding.detect import Detected
from mlops.onboarding.edit import set_keys


def project_name(stem: str) -> str:
    """A DNS label from a file name: `Adult Income.v2` -> `adult-income-v2`."""
    name = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    name = name if name[:1].isalpha() else f"p-{name}".rstrip("-")
    return name[:63].rstrip("-") or "project"


def params_edits(
    contract: Contract,
    detected: Detected,
    name: str,
    source: str,
    floors: dict[str, float],
    why: str,
    use_sensitive: bool,
) -> dict[str, tuple[Any, str | None]]:
    """Every params.yaml key init sets (dotted key -> (value, new comment or None to keep the old one))."""
    invariance = [c for c in (contract.id_column, contract.time_column) if c]
    if not use_sensitive:
        invariance += contract.sensitive
    return {
        "project.name": (name, None),
        "ingest.source": (source, None),
        **{f"ingest.read.{k}": (v, None) for k, v in detected.read_params().model_dump().items()},
        "split.strategy": ("time" if contract.time_column else "random", None),
        "train.monotonic": ({}, None),
        "gates.performance.min": (floors, why),
        "gates.behaviour.invariance": (invariance, None),
        "gates.behaviour.directional": ([], None),
        "gates.fairness.attributes": ({}, None),
        # A retrain extract must pass the data gate: its row floor is the contract's (the example's 5,000
        # would refuse every retrain of a dataset a tenth of the example's size).
        "monitoring.retrain_min_rows": (contract.table.min_rows, None),
    }


def reset_deploy_record(text: str) -> str | None:
    """The record with model / challenger / image set to null; None when it records no model."""
    record = yaml.safe_load(text) or {}
    if record.get("model") is None and record.get("challenger") is None:
        return None
    return set_keys(text, {k: (None, None) for k in ("model", "challenger", "image") if k in record})
