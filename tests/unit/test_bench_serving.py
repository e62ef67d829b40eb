"""The serving benchmark's pure parts: request and response formats of the peers, uv.lock pins, targets and
the summary line. No server is started (benchmarks/serving.py runs them; `make bench-serving`)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_serving", ROOT / "benchmarks" / "serving.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_serving"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


RECORDS = [
    {"customer_id": "C1", "tenure_months": 3, "total_charges": None, "monthly_charges": 9.5, "flag": True},
    {"customer_id": "C2", "tenure_months": 4, "total_charges": 12.0, "monthly_charges": 1.0, "flag": False},
]


def test_v2_request_one_input_per_column_typed_from_non_null_values(bench: ModuleType) -> None:
    types = bench.v2_types(RECORDS)
    assert types == {
        "customer_id": "BYTES",
        "tenure_months": "INT64",
        "total_charges": "FP64",  # null in the first record, float in the second
        "monthly_charges": "FP64",
        "flag": "BOOL",
    }
    body = bench.v2_request(RECORDS[0], types)
    assert body["parameters"] == {"content_type": "pd"}
    assert [i["name"] for i in body["inputs"]] == list(RECORDS[0])  # the record's column order
    assert body["inputs"][2] == {"name": "total_charges", "shape": [1, 1], "datatype": "FP64", "data": [None]}
    assert bench.v2_types([{"x": None}]) == {"x": "FP64"}


def test_v2_probability_reads_the_positive_column(bench: ModuleType) -> None:
    flat = {"outputs": [{"name": "predict_proba", "shape": [1, 2], "datatype": "FP64", "data": [0.7, 0.3]}]}
    nested = {"outputs": [{"name": "predict_proba", "shape": [1, 2], "data": [[0.6, 0.4]]}]}
    assert bench.v2_probability(json.dumps(flat).encode()) == 0.3
    assert bench.v2_probability(json.dumps(nested).encode()) == 0.4
    predict_only = {"outputs": [{"name": "predict", "shape": [1], "data": [1]}]}
    with pytest.raises(ValueError, match="predict_proba"):
        bench.v2_probability(json.dumps(predict_only).encode())


def test_mlflow_probability(bench: ModuleType) -> None:
    assert bench.mlflow_probability(b'{"predictions": [[0.25, 0.75]]}') == 0.75
    assert bench.mlflow_probability(b'{"predictions": [{"0": 0.1, "1": 0.9}]}') == 0.9


def test_locked_versions_reads_uv_lock(bench: ModuleType, tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\n\n[[package]]\nname = "numpy"\nversion = "2.4.6"\nsource = { registry = "x" }\n\n'
        '[[package]]\nname = "scikit-learn"\nversion = "1.9.1"\n'
    )
    assert bench.locked_versions(lock, ("numpy", "scikit-learn")) == {
        "numpy": "2.4.6",
        "scikit-learn": "1.9.1",
    }
    with pytest.raises(bench.UnavailableError, match="pandas"):
        bench.locked_versions(lock, ("numpy", "pandas"))
    real = bench.locked_versions(ROOT / "uv.lock")  # every model library is locked
    assert set(real) == set(bench.MODEL_LIBS)


def test_order_of_rotates_so_no_server_always_goes_first(bench: ModuleType) -> None:
    names = ["a", "b", "c"]
    orders = [bench.order_of(names, r) for r in range(6)]
    assert all(sorted(o) == names for o in orders)
    assert {o[0] for o in orders} == set(names)


def _result(bench: ModuleType, ours_p50: float, ours_rps: float) -> dict:
    lat = {
        bench.BENTO: {"p50_ms": ours_p50, "errors": 0},
        bench.TODAY: {"p50_ms": 8.0, "errors": 0},
        bench.MLSERVER: {"p50_ms": 9.0, "errors": 0},
        bench.BASE: {"p50_ms": 7.0, "errors": 0},
    }
    thr = {
        bench.BENTO: {"rps": ours_rps, "errors": 0},
        bench.TODAY: {"rps": 900.0, "errors": 0},  # today's service is not a peer
        bench.MLSERVER: {"rps": 400.0, "errors": 0},
        bench.BASE: {"rps": 100.0, "errors": 0},
    }
    call = {"proba_records": {"best_ms": 0.1}, "sklearn_pipeline": {"best_ms": 6.0}}
    return {
        "latency": lat,
        "throughput": thr,
        "targets": bench.targets(lat, thr, call, 32),
        "passed": True,
        "unavailable": {bench.MLFLOW: "did not start: ..."},
    }


def test_targets_against_today_and_the_best_peer(bench: ModuleType) -> None:
    result = _result(bench, ours_p50=2.0, ours_rps=500.0)
    by_name = {t["target"].split(" /")[0].split(" (")[0]: t for t in result["targets"]}
    today, peer_p50 = result["targets"][0], result["targets"][1]
    assert (today["value"], today["vs"], today["passed"]) == (0.25, bench.TODAY, True)
    assert (peer_p50["value"], peer_p50["vs"], peer_p50["passed"]) == (round(2 / 7, 3), bench.BASE, True)
    rps = result["targets"][2]
    assert (rps["value"], rps["vs"], rps["passed"]) == (1.25, bench.MLSERVER, False)  # 500 / 400 < 1.5
    assert by_name["model call, 1 record"]["passed"] is True


def test_summary_line_names_targets_and_unavailable_peers(bench: ModuleType) -> None:
    line = bench.summary(_result(bench, ours_p50=2.0, ours_rps=700.0))
    assert line.startswith("ours p50 2 ms, 700 req/s; ")
    assert "targets 4/4" in line and "budgets met" in line
    assert "unavailable: mlflow" in line
    assert "\n" not in line
