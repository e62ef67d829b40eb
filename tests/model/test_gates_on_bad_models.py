"""Each gate fails on a deliberately bad model, naming the gate and the numbers; the good model passes all.

The bad models wrap a real trained pipeline, so everything else about them stays realistic. Everything
runs through `run_gates`, the suite the `gate` stage runs: the good model through every family, each bad
model through only the families its test checks (`only`), so a test pays for one family, not six.
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
from tests.world import world_params

from mlops.contract import Contract
from mlops.gates.result import GateResult
from mlops.gates.suite import run_gates
from mlops.generate import generate
from mlops.io import InputError
from mlops.metrics import headline
from mlops.modeling import build_pipeline, input_columns
from mlops.params import GatesParams

ROOT = Path(__file__).resolve().parents[2]
SLOW_MS = 30.0  # what SlowForSome burns per slow call; p99 budget: half that (a good model: 5-10 ms)


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
        return np.asarray(p + 0.35 * (x["gender"] == "male").to_numpy())


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


class SlowForSome(Wrapper):
    """Burns SLOW_MS of CPU per call that scores a customer with 2+ support calls (~44 % of customers): a slow
    path for some records, against a p99 budget of half that. A median would miss it; the p99 must not."""

    def adjust(self, x: pd.DataFrame, p: np.ndarray) -> np.ndarray:
        if (x["support_calls"] >= 2).any():
            until = time.process_time() + SLOW_MS / 1000.0
            while time.process_time() < until:
                pass
        return p


class Oversized(Wrapper):
    def __init__(self, inner: Pipeline) -> None:
        super().__init__(inner)
        self.ballast = np.random.default_rng(0).random(4_000_000)  # ~30 MB serialized, budget 25 MB


def only(gates: GatesParams, *families: str, **changes: dict[str, Any]) -> GatesParams:
    """`gates` with every family but `families` disabled; `changes[family]` updates that family's fields."""
    return gates.model_copy(
        update={
            name: getattr(gates, name).model_copy(
                update={"enabled": name in families, **changes.get(name, {})}
            )
            for name in type(gates).model_fields
        }
    )


# The operational family at its smallest valid size, for tests that check one of its budgets.
SMALL_OPERATIONAL = {"latency_samples": 20, "batch_rows": 500}


@pytest.fixture(scope="module")
def setup(contract: Contract) -> dict[str, Any]:
    train, holdout = generate(8000, seed=21), generate(3000, seed=22)
    params = world_params()
    model = build_pipeline(contract, params.train).fit(train[input_columns(contract)], train["churned"])
    return {"model": model, "holdout": holdout, "gates": params.gates}


def gate(
    contract: Contract,
    setup: dict[str, Any],
    model: Any,
    gates: GatesParams,
    *,
    champion: Any = None,
    model_bytes: int = 200_000,
) -> dict[str, GateResult]:
    holdout = setup["holdout"]
    x = holdout[input_columns(contract)]
    proba = model.predict_proba(x)[:, 1]
    label = "the test champion"
    results, disabled = run_gates(
        gates=gates,
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
    enabled = {name for name in type(gates).model_fields if getattr(gates, name).enabled}
    assert {r.gate for r in results} == enabled and not enabled & set(disabled)
    return {r.name: r for r in results}


def failed(results: dict[str, GateResult]) -> dict[str, GateResult]:
    return {name: r for name, r in results.items() if not r.passed}


def test_the_good_model_passes_every_gate(contract: Contract, setup: dict[str, Any]) -> None:
    """The whole suite with params.yaml's gates. Fewer latency samples than params.yaml only make the p99
    stricter (it moves towards the maximum); the champion is the model itself, so its difference is exactly
    0 whatever the bootstrap size."""
    shipped: GatesParams = setup["gates"]
    gates = shipped.model_copy(
        update={
            "operational": shipped.operational.model_copy(update={"latency_samples": 30}),
            "champion": shipped.champion.model_copy(update={"bootstrap_samples": 100}),
        }
    )
    results = gate(contract, setup, setup["model"], gates, champion=setup["model"])
    assert not failed(results), {n: r.reason for n, r in failed(results).items()}
    assert {r.gate for r in results.values()} == set(GatesParams.model_fields)  # every family ran
    assert results["champion/roc_auc"].value == 0.0  # the bootstrap ran (no champion would give None)


def test_a_regressed_model_fails_the_champion_gate(contract: Contract, setup: dict[str, Any]) -> None:
    class Regressed(Wrapper):
        def adjust(self, x: pd.DataFrame, p: np.ndarray) -> np.ndarray:
            return p + np.random.default_rng(5).normal(0, 0.25, len(p))

    # The smallest valid bootstrap: the interval's upper end is -0.085 (-0.089 with params.yaml's 500).
    gates = only(setup["gates"], "champion", champion={"bootstrap_samples": 100})
    bad = failed(gate(contract, setup, Regressed(setup["model"]), gates, champion=setup["model"]))
    result = bad["champion/roc_auc"]
    assert result.value is not None and result.value < -0.005
    assert "candidate - champion (the test champion)" in result.reason and "CI [" in result.reason


def test_a_model_leaning_on_a_sensitive_attribute_fails_fairness(
    contract: Contract, setup: dict[str, Any]
) -> None:
    gates = only(setup["gates"], "fairness", "behaviour")
    bad = failed(gate(contract, setup, LeansOnGender(setup["model"]), gates))
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
    gates = only(setup["gates"], "robustness")
    results = failed(gate(contract, {**setup, "holdout": holdout}, Fragile(setup["model"]), gates))
    result = results["robustness/gaussian_noise"]
    assert result.value is not None and result.value > 0.03
    assert "roc_auc drop under gaussian noise" in result.reason


def test_a_model_breaking_behaviour_rules_fails_behaviour(contract: Contract, setup: dict[str, Any]) -> None:
    gates = only(setup["gates"], "behaviour", "robustness")
    bad = failed(gate(contract, setup, BreaksRules(setup["model"]), gates))
    direction = bad["behaviour/directional.support_calls"]
    assert "support_calls +2 must increase the score" in direction.reason
    assert direction.value is not None and direction.value < -0.01
    assert "rows moved the other way" in direction.reason
    assert "behaviour/invariance.customer_id" in bad
    assert "behaviour/directional.tenure_months" not in bad  # only the broken rule fails
    # Blanked support calls make this model emit NaN: the robustness gate reports it instead of crashing.
    assert "non-finite" in bad["robustness/missing_values"].reason


def test_a_slow_model_fails_the_latency_budget(contract: Contract, setup: dict[str, Any]) -> None:
    budget = {**SMALL_OPERATIONAL, "max_p99_latency_ms": SLOW_MS / 2}
    gates = only(setup["gates"], "operational", operational=budget)
    bad = failed(gate(contract, setup, SlowForSome(setup["model"]), gates))
    result = bad["operational/p99_latency_ms"]
    assert (
        result.value is not None
        and result.value >= SLOW_MS
        and "p99 CPU ms of 20 single-record" in result.reason
    )


def test_an_oversized_model_fails_the_size_budget(
    contract: Contract, setup: dict[str, Any], tmp_path: Path
) -> None:
    model = Oversized(setup["model"])
    joblib.dump(model, tmp_path / "big.joblib")
    size = (tmp_path / "big.joblib").stat().st_size
    gates = only(setup["gates"], "operational", operational=SMALL_OPERATIONAL)
    bad = failed(gate(contract, setup, model, gates, model_bytes=size))
    result = bad["operational/model_size_mb"]
    assert result.value is not None and result.value > 25 and "serialized model file" in result.reason


def test_a_champion_that_cannot_be_compared_fails_with_the_reason(
    contract: Contract, setup: dict[str, Any]
) -> None:
    def unreachable(frame: pd.DataFrame) -> tuple[np.ndarray | None, str]:
        raise InputError("cannot fetch the deployed model md5 0123abcd from deadbeef: no storage files")

    results, _ = run_gates(
        gates=only(setup["gates"], "champion"),
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
    from mlops.gates.suite import champion_predictions
    from mlops.lineage import file_md5

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
