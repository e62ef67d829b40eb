"""Monitoring against a real served model: simulated shifted traffic over HTTP is caught by `mlops drift`,
the service publishes the drift verdict, and every metric the Grafana dashboard queries is exported."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.generate import generate
from mlops.io import write_parquet
from tests.conftest import ROOT, tool_env
from tests.serving.conftest import start_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]
WORLD = ROOT / "tests" / "world"
DASHBOARD = ROOT / "deploy" / "monitoring" / "grafana-dashboard.json"


def metrics_text(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        return str(resp.read().decode())


def test_shifted_traffic_is_detected_published_and_every_dashboard_metric_is_exported(
    bento: dict[str, Any], tmp_path: Path
) -> None:
    log_dir = tmp_path / "env" / "predictions"
    srv = start_server(bento, log_dir, MLOPS_DRIFT_REFRESH_SECONDS="1")
    try:
        env = tool_env()
        sim = ["mlops", "simulate", "--url", srv.url, "--rows", "1500", "--shift", "covariate", "--seed", "3"]
        sim += ["--source", "synthetic"]  # the example's generator: the bento's model was trained on it
        subprocess.run(sim, env=env, check=True, capture_output=True, timeout=300)
        # A refused request, so the rejection counter exists (labelled counters appear on first use).
        req = urllib.request.Request(f"{srv.url}/predict", data=b"x", headers={"content-type": "text/plain"})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(req, timeout=10)

        reference = tmp_path / "reference.parquet"
        write_parquet(generate(4000, seed=3), reference)  # the small model's training distribution
        name, version = bento["model_tag"].split(":")
        model = Path(bento["home"], "models", name, version, "model.joblib")
        holdout = tmp_path / "holdout.parquet"
        write_parquet(generate(2000, seed=4), holdout)  # labelled rows of the same world: the baseline
        args = {
            "--log-dir": log_dir,
            "--reference": reference,
            "--model": model,
            "--holdout": holdout,
            "--production": tmp_path / "none.yaml",
            "--params": WORLD / "params.yaml",  # the template's own world, whatever a fork did to its files
            "--contract": WORLD / "contract.yaml",
            "--out": log_dir.parent / "drift",  # where the service looks for the latest report
        }
        cmd = ["mlops", "drift", *(part for kv in args.items() for part in (kv[0], str(kv[1])))]
        drift = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert drift.returncode == 3, drift.stdout + drift.stderr
        summary = json.loads((log_dir.parent / "drift" / "drift.json").read_text())
        assert {"monthly_charges", "support_calls"} <= set(summary["drifted_columns"])

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "mlops_drift_detected 1.0" not in metrics_text(srv.url):
            time.sleep(0.5)
        text = metrics_text(srv.url)
    finally:
        srv.stop()
    assert "mlops_drift_detected 1.0" in text
    assert f"mlops_drift_share {summary['drifted_share']}" in text

    exported = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", text, flags=re.MULTILINE))
    queries = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]
    queried = {m for q in queries for m in re.findall(r"\b((?:bentoml|mlops)_[a-z0-9_]+)", q)}
    assert len(queried) >= 7
    assert queried <= exported, f"dashboard queries metrics the service does not export: {queried - exported}"
    scrape = yaml.safe_load((ROOT / "deploy" / "monitoring" / "prometheus.yml").read_text())
    assert {job["job_name"] for job in scrape["scrape_configs"]} >= {"mlops-local"}
    # The alert rules Prometheus loads query only what the service exports (the log-loss series from 0).
    assert scrape["rule_files"] == ["alerts.yml"]
    rules = yaml.safe_load((ROOT / "deploy" / "monitoring" / "alerts.yml").read_text())
    alerted = {
        m for g in rules["groups"] for r in g["rules"] for m in re.findall(r"\b(mlops_[a-z0-9_]+)", r["expr"])
    }
    assert "mlops_prediction_log_records_total" in alerted and alerted <= exported, alerted - exported
    assert 'mlops_prediction_log_records_total{log="predictions",outcome="dropped"} 0.0' in text
    # The dashboard's $service variable lists BentoML's service_name label: the service must carry it.
    (variable,) = json.loads(DASHBOARD.read_text())["templating"]["list"]
    assert variable["definition"] == "label_values(bentoml_service_request_total, service_name)"
    assert re.search(r'^bentoml_service_request_total\{[^}]*service_name="[a-z0-9-]+"', text, flags=re.M)
