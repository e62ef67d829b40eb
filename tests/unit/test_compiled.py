"""The compiled scoring path (mlops.serving.compiled) against the sklearn Pipeline it was compiled from.

For every estimator the template offers: equal probabilities (bit for bit for the trees, within 1e-12 for
the scaled linear model) and identical classes on fresh rows and on hostile ones (missing values, unseen
categories, extreme and negative numbers); what cannot be compiled exactly is refused, naming why.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline, make_pipeline
from tests.world import world_params

from mlops.contract import Contract
from mlops.generate import generate
from mlops.io import write_parquet
from mlops.modeling import build_pipeline, input_columns
from mlops.params import RandomForestParams
from mlops.serving.compiled import (
    VECTOR_ROWS,
    GradientBoosting,
    NotCompilableError,
    compile_for_contract,
    parity,
)

ESTIMATORS = ["hist_gradient_boosting", "logistic_regression", "random_forest"]
BOUND = {"hist_gradient_boosting": 0.0, "random_forest": 0.0, "logistic_regression": 1e-12}
THRESHOLD = world_params().project.threshold


@pytest.fixture(scope="module")
def fitted(contract: Contract) -> dict[str, Pipeline]:
    train = generate(4000, seed=21)
    shipped = world_params().train
    out = {}
    for name in ESTIMATORS:
        params = shipped.model_copy(
            update={
                "estimator": name,
                "random_forest": RandomForestParams(n_estimators=40, max_depth=10, min_samples_leaf=5),
            }
        )
        out[name] = build_pipeline(contract, params).fit(train[input_columns(contract)], train["churned"])
    return out


def as_records(frame: pd.DataFrame, contract: Contract) -> list[dict[str, Any]]:
    """Records as the service hands them to the model (JSON types: NaN -> None, dates as ISO text)."""
    rows: list[dict[str, Any]] = json.loads(
        frame[input_columns(contract)].to_json(orient="records", date_format="iso")
    )
    return rows


def hostile(records: list[dict[str, Any]], contract: Contract) -> list[dict[str, Any]]:
    """Each record with one field made awkward: missing, an unseen category, extreme or negative."""
    rng = np.random.default_rng(5)
    numeric, categorical = contract.numeric(list(records[0])), contract.categorical(list(records[0]))
    out = []
    for i, record in enumerate(records):
        changed = dict(record)
        column = [*numeric, *categorical][i % (len(numeric) + len(categorical))]
        kind = i % 4
        if column in categorical:
            changed[column] = None if kind < 2 else f"never-seen-{i}"
        else:
            changed[column] = [None, -1e9, 1e12, float(rng.normal() * 1e-3)][kind]
        out.append(changed)
    return out


@pytest.mark.parametrize("name", ESTIMATORS)
def test_the_compiled_path_matches_the_pipeline_for_every_estimator(
    name: str, fitted: dict[str, Pipeline], contract: Contract
) -> None:
    pipeline = fitted[name]
    fresh = as_records(generate(2000, seed=22), contract)
    compiled = compile_for_contract(pipeline, contract, fresh[0])
    awkward = hostile(fresh, contract)
    # Whole sets (a batch takes the per-tree loop) and small batches (the vectorised walk: VECTOR_ROWS).
    small = [awkward[i : i + VECTOR_ROWS - 1] for i in range(0, len(awkward), VECTOR_ROWS - 1)]
    for rows in (fresh, awkward, fresh[:1], *small):
        result = parity(compiled, pipeline, rows, THRESHOLD)
        assert result.classes_equal, (name, result)
        assert result.max_abs_diff <= BOUND[name], (name, result)
    # the probabilities are not all alike (a constant scorer would pass a loose check)
    assert np.std(compiled.proba(fresh)) > 0.05


def test_a_changed_tree_is_caught_by_parity(fitted: dict[str, Pipeline], contract: Contract) -> None:
    pipeline = fitted["hist_gradient_boosting"]
    fresh = as_records(generate(500, seed=23), contract)
    compiled = compile_for_contract(pipeline, contract, fresh[0])
    scorer = compiled.scorer
    assert isinstance(scorer, GradientBoosting)
    assert parity(compiled, pipeline, fresh[: VECTOR_ROWS - 1], THRESHOLD).holds(0.0)
    scorer.value[: scorer.trees.roots[1]] += 0.5  # every leaf of the first tree: every row moves
    assert not parity(compiled, pipeline, fresh[: VECTOR_ROWS - 1], THRESHOLD).holds(1e-9)
    # A set large enough for the per-tree loop still proves the walk single requests take.
    assert not parity(compiled, pipeline, fresh, THRESHOLD).holds(1e-9)


def test_what_cannot_be_compiled_exactly_is_refused_naming_why(contract: Contract) -> None:
    train = generate(1000, seed=24)
    x, y = train[input_columns(contract)], train["churned"]
    numeric = contract.numeric(input_columns(contract))
    record = as_records(train.head(1), contract)[0]
    imputed = ColumnTransformer([("num", SimpleImputer(), numeric)])
    naive = Pipeline([("prep", imputed), ("model", GaussianNB())])
    with pytest.raises(NotCompilableError, match="GaussianNB"):
        compile_for_contract(naive.fit(x, y), contract, record)
    mixed = ColumnTransformer([("pca", make_pipeline(SimpleImputer(), PCA(n_components=2)), numeric)])
    pca = Pipeline([("prep", mixed), ("model", LogisticRegression())]).fit(x, y)
    with pytest.raises(NotCompilableError, match="not column-separable"):
        compile_for_contract(pca, contract, record)


def test_packaging_chooses_the_path_and_names_why(
    fitted: dict[str, Pipeline], contract: Contract, tmp_path: Path
) -> None:
    """`mlops package`'s choice: compiled with its parity figures, or sklearn with the reason."""
    from tests.world import WORLD_CONTRACT

    from mlops.deploy.package import golden_set, scoring_path
    from mlops.serving.compiled import PARITY_ROWS

    holdout = tmp_path / "holdout.parquet"
    write_parquet(generate(600, seed=25), holdout)
    good, refused = tmp_path / "good.joblib", tmp_path / "naive.joblib"
    joblib.dump(fitted["hist_gradient_boosting"], good)
    train = generate(1000, seed=26)
    numeric = contract.numeric(input_columns(contract))
    naive = Pipeline(
        [("prep", ColumnTransformer([("num", SimpleImputer(), numeric)])), ("model", GaussianNB())]
    )
    joblib.dump(naive.fit(train[input_columns(contract)], train["churned"]), refused)

    golden = golden_set(good, WORLD_CONTRACT, holdout, THRESHOLD)
    chosen = scoring_path(good, WORLD_CONTRACT, holdout, THRESHOLD, golden)
    assert chosen["scoring_path"] == "compiled", chosen
    assert (
        chosen["parity_rows"] == len(golden) + min(600, PARITY_ROWS) and chosen["parity_max_abs_diff"] == 0.0
    )
    golden = golden_set(refused, WORLD_CONTRACT, holdout, THRESHOLD)
    chosen = scoring_path(refused, WORLD_CONTRACT, holdout, THRESHOLD, golden)
    assert chosen["scoring_path"] == "sklearn" and "GaussianNB" in chosen["scoring_reason"], chosen


def test_the_service_refuses_a_compiled_path_its_golden_answers_contradict(
    fitted: dict[str, Pipeline], contract: Contract, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At start-up the compiled path must reproduce the packaged golden answers, or the Pipeline serves."""
    from tests.world import WORLD_CONTRACT

    from mlops.deploy.package import golden_set
    from mlops.serving.runtime import compiled_or_none

    model = fitted["hist_gradient_boosting"]
    holdout = tmp_path / "holdout.parquet"
    write_parquet(generate(100, seed=27), holdout)
    joblib.dump(model, tmp_path / "model.joblib")
    shutil.copy2(WORLD_CONTRACT, tmp_path / "contract.yaml")
    golden = golden_set(tmp_path / "model.joblib", WORLD_CONTRACT, holdout, THRESHOLD)
    (tmp_path / "golden.json").write_text(json.dumps(golden))
    assert compiled_or_none(model, tmp_path, THRESHOLD) is not None
    golden[3]["probability"] += 1e-6  # what another build of the model (or of the compiler) would answer
    (tmp_path / "golden.json").write_text(json.dumps(golden))
    assert compiled_or_none(model, tmp_path, THRESHOLD) is None
    assert "compiled scoring path refused" in caplog.text and "differ by up to 1e-06" in caplog.text


def test_a_forest_fed_missing_values_sends_them_where_the_fit_learnt(contract: Contract) -> None:
    """No imputer: sklearn's trees route NaN by missing_go_to_left, and so must the compiled forest."""
    from sklearn.ensemble import RandomForestClassifier

    train = generate(2000, seed=28)
    numeric = contract.numeric(input_columns(contract))
    x = train[input_columns(contract)].copy()
    x.loc[x.sample(frac=0.2, random_state=1).index, numeric[0]] = np.nan  # missing values seen in the fit
    forest = RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0)
    model = Pipeline([("prep", ColumnTransformer([("num", "passthrough", numeric)])), ("model", forest)])
    model.fit(x, train["churned"])
    fresh = as_records(generate(400, seed=29), contract)
    rows = [{**r, numeric[0]: None} if i % 2 else r for i, r in enumerate(fresh)]
    compiled = compile_for_contract(model, contract, fresh[0])
    assert parity(compiled, model, rows, THRESHOLD).holds(0.0)
