"""Each gate fails on a deliberately bad model, naming the gate and the numbers; the good model passes all.

The bad models wrap a real trained pipeline, so everything else about them stays realistic. Everything
runs through `run_gates`, the suite the `gate` stage runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from mlops.contract import Contract
from mlops.gates.result import GateResult
from mlops.generate import generate
from mlops.io import InputError
from mlops.metrics import headline
from mlops.modeling import build_pipeline, input_columns
from mlops.params import GatesParams, TrainParams, load_section
from mlops.gates.suite import run_gates

ROOT = Path(__file__).resolve().parents[2]


class Wrapper:
    """A model that changes a real pipeline's scores in one deliberate way."""

    def __init__(self, inner: Pipeline) -> None:
        self.inner = inner

    def adjust(self, x: pd.DataFrame, p: np.ndarray) -> np.ndarray:
        return p

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        p = np.clip(self.adjust(x, self.inner.predict_proba(x)[:, 1]), 0.0, 1.0)
        return np.column_stack([1.0 - p, p])


class LeansOnGender(Wrapper):
    def adjust(self, x: pd.DataFrame, p: np.ndarray) -> np.ndarray:
        return p + 0.35 * (x["gender"] == "male").to_numpy()


class Fragile(Wrapper):
    """Trusts exact cents: a memorised artefact that noise destroys."""

    def adjust(self, x: pd.DataFrame, p: np.ndarray) -> np.ndarray:
        cents = np.round(x["monthly_charges"].to_numpy() * 100) % 100
        return np.where(cents == 77, 1.0, np.where(np.isnan(cents), p, p * 0.2))


class BreaksRules(Wrapper):
    """More support calls lower its score, and the customer id moves it."""

    def adjust(self, x: pd.DataFrame, p: np.ndarray) -> np.ndarray:
        id_noise = np.array([hash(c) % 7 for c in x["customer_id"]]) / 100.0
        return p - 0.03 * x["support_calls"].to_numpy() + id_noise


class Slow(Wrapper):
    """Burns 80 ms of CPU per call (an oversized ensemble would), against a 50 ms p99 budget."""

    def adjust(self, x: pd.DataFrame, p: np.ndarray) -> np.ndarray:
        until = time.process_time() + 0.08
        while time.process_time() < until:
            pass
        return p


class Oversized(Wrapper):
    def __init__(self, inner: Pipeline) -> None:
        super().__init__(inner)
        self.ballast = np.random.default_rng(0).random(4_000_000)  # ~30 MB serialized, budget 25 MB


@pytest.fixture(scope="module")
def setup(contract: Contract) -> dict[str, Any]:
    train, holdout = generate(8000, seed=21), generate(3000, seed=22)
    params = load_section(ROOT / "params.yaml", "train", TrainParams)
    model = build_pipeline(contract, params).fit(train[input_columns(contract)], train["churned"])
    return {
        "model": model,
        "holdout": holdout,
        "gates": load_section(ROOT / "params.yaml", "gates", GatesParams),
    }


def gate(
    contract: Contract,
    setup: dict[str, Any],
    model: Any,
    *,
    champion: Any = None,
    model_bytes: int = 200_000,
    gates: GatesParams | None = None,
) -> dict[str, GateResult]:
    holdout = setup["holdout"]
    x = holdout[input_columns(contract)]
    proba = model.predict_proba(x)[:, 1]
    label = "the test champion"
    results, _ = run_gates(
        gates=gates or setup["gates"],
        contract=contract,
        features=contract.features(),
        threshold=0.3,
        model=model,
        holdout=holdout,
        metrics=headline(holdout["churned"].to_numpy(), proba, 0.3),
        model_bytes=model_bytes,
        champion_proba=lambda frame: (
            None if champion is None else champion.predict_proba(frame)[:, 1],
            label,
        ),
    )
    return {r.name: r for r in results}


def failed(results: dict[str, GateResult]) -> dict[str, GateResult]:
    return {name: r for name, r in results.items() if not r.passed}


def test_the_good_model_passes_every_gate(contract: Contract, setup: dict[str, Any]) -> None:
    results = gate(contract, setup, setup["model"], champion=setup["model"])
    assert not failed(results), {n: r.reason for n, r in failed(results).items()}
    assert {r.gate for r in results.values()} == {
        "performance",
        "champion",
        "robustness",
        "fairness",
        "behaviour",
        "operational",
    }


def test_a_regressed_model_fails_the_champion_gate(contract: Contract, setup: dict[str, Any]) -> None:
    class Regressed(Wrapper):
        def adjust(self, x: pd.DataFrame, p: np.ndarray) -> np.ndarray:
            return p + np.random.default_rng(5).normal(0, 0.25, len(p))

    bad = failed(gate(contract, setup, Regressed(setup["model"]), champion=setup["model"]))
    result = bad["champion/roc_auc"]
    assert result.value is not None and result.value < -0.005
    assert "candidate - champion (the test champion)" in result.reason and "CI [" in result.reason


def test_a_model_leaning_on_a_sensitive_attribute_fails_fairness(
    contract: Contract, setup: dict[str, Any]
) -> None:
    bad = failed(gate(contract, setup, LeansOnGender(setup["model"])))
    result = bad["fairness/gender.demographic_parity_difference"]
    assert result.value is not None and result.value > 0.1
    assert "gender=male" in result.reason and "<= 0.1" in result.reason
    assert "behaviour/invariance.gender" in bad  # the invariance rule catches it too


def test_a_model_that_collapses_under_noise_fails_robustness(
    contract: Contract, setup: dict[str, Any]
) -> None:
    holdout = setup["holdout"].copy()
    churned = holdout["churned"] == 1
    # Plant the artefact: churners' charges end in .77 in this holdout, so the fragile model looks perfect.
    holdout.loc[churned, "monthly_charges"] = np.floor(holdout.loc[churned, "monthly_charges"]) + 0.77
    results = failed(gate(contract, {**setup, "holdout": holdout}, Fragile(setup["model"])))
    result = results["robustness/gaussian_noise"]
    assert result.value is not None and result.value > 0.03
    assert "roc_auc drop under gaussian noise" in result.reason


def test_a_model_breaking_behaviour_rules_fails_behaviour(contract: Contract, setup: dict[str, Any]) -> None:
    bad = failed(gate(contract, setup, BreaksRules(setup["model"])))
    direction = bad["behaviour/directional.support_calls"]
    assert "support_calls +2 must increase the score" in direction.reason
    assert direction.value is not None and direction.value < -0.01
    assert "rows moved the other way" in direction.reason
    assert "behaviour/invariance.customer_id" in bad
    assert "behaviour/directional.tenure_months" not in bad  # only the broken rule fails
    # Blanked support calls make this model emit NaN: the robustness gate reports it instead of crashing.
    assert "non-finite" in bad["robustness/missing_values"].reason


def test_a_slow_model_fails_the_latency_budget(contract: Contract, setup: dict[str, Any]) -> None:
    params = setup["gates"].model_copy(
        update={
            "operational": setup["gates"].operational.model_copy(
                update={"latency_samples": 25, "batch_rows": 500}
            )
        }
    )
    only_ops = params.model_copy(
        update={
            g: getattr(params, g).model_copy(update={"enabled": False})
            for g in ("performance", "champion", "robustness", "fairness", "behaviour")
        }
    )
    bad = failed(gate(contract, setup, Slow(setup["model"]), gates=only_ops))
    result = bad["operational/p99_latency_ms"]
    assert (
        result.value is not None
        and result.value >= 80.0
        and "p99 CPU ms of 25 single-record" in result.reason
    )


def test_an_oversized_model_fails_the_size_budget(
    contract: Contract, setup: dict[str, Any], tmp_path: Path
) -> None:
    model = Oversized(setup["model"])
    joblib.dump(model, tmp_path / "big.joblib")
    size = (tmp_path / "big.joblib").stat().st_size
    bad = failed(gate(contract, setup, model, model_bytes=size))
    result = bad["operational/model_size_mb"]
    assert result.value is not None and result.value > 25 and "serialized model file" in result.reason


def test_a_champion_that_cannot_be_compared_fails_with_the_reason(
    contract: Contract, setup: dict[str, Any]
) -> None:
    def unreachable(frame: pd.DataFrame) -> tuple[np.ndarray | None, str]:
        raise InputError("cannot fetch the deployed model md5 0123abcd from deadbeef: no storage files")

    results, _ = run_gates(
        gates=setup["gates"],
        contract=contract,
        features=contract.features(),
        threshold=0.3,
        model=setup["model"],
        holdout=setup["holdout"],
        metrics={"roc_auc": 0.8, "pr_auc": 0.5, "recall": 0.6},
        model_bytes=1000,
        champion_proba=unreachable,
    )
    (champ,) = [r for r in results if r.gate == "champion"]
    assert not champ.passed and "cannot fetch the deployed model md5 0123abcd" in champ.reason


def test_a_champion_that_cannot_read_the_holdout_is_named(
    contract: Contract, setup: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.lineage import file_md5
    from mlops.gates.suite import champion_predictions

    blob = tmp_path / "champion.joblib"
    joblib.dump(setup["model"], blob)
    md5 = file_md5(blob)
    cached = tmp_path / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cached.parent.mkdir(parents=True)
    blob.rename(cached)
    production = tmp_path / "production.yaml"
    production.write_text(f"model:\n  path: models/model.joblib\n  md5: {md5}\n  commit: abc1234\n")
    monkeypatch.chdir(tmp_path)
    holdout = setup["holdout"][input_columns(contract)].drop(columns=["region"])  # the contract changed
    with pytest.raises(InputError, match=r"cannot score this holdout: .*region.*disable gates.champion"):
        champion_predictions(production, "f" * 32, holdout)
