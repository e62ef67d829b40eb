"""deploy/monitoring/prometheus.yml is static config (Prometheus reads it as is): its local scrape targets
must be exactly the port slots `mlops deploy --target local` uses at the default base (mlops.deploy.local:
DEFAULT_PORT_BASE, PORT_OFFSET; each environment alternates between base and base + 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops.deploy import ENVIRONMENTS
from mlops.deploy.local import port_base

ROOT = Path(__file__).resolve().parents[2]


def test_the_local_scrape_targets_are_the_local_port_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLOPS_PORT_BASE", raising=False)  # the default base
    prometheus = yaml.safe_load((ROOT / "deploy" / "monitoring" / "prometheus.yml").read_text())
    (local,) = [job for job in prometheus["scrape_configs"] if "static_configs" in job]
    scraped = {
        config["labels"]["environment"]: sorted(config["targets"]) for config in local["static_configs"]
    }
    slots = {env: sorted(f"127.0.0.1:{port_base(env) + slot}" for slot in (0, 1)) for env in ENVIRONMENTS}
    assert scraped == slots
