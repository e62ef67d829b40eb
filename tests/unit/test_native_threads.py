"""Timed and served model calls run on one native thread, and that changes no score.

The tests raise the calling thread's OpenMP pool to 4 threads first (conftest sets OMP_NUM_THREADS=1,
which would hide a missing limit); `make pipeline` and the service run without OMP_NUM_THREADS.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.world import world_params
from threadpoolctl import ThreadpoolController, threadpool_limits

from mlops.contract import Contract
from mlops.gates import operational
from mlops.generate import generate
from mlops.modeling import build_pipeline, input_columns
from mlops.serving.runtime import LoadedModel
from mlops.threads import NATIVE_THREADS, one_native_thread

MANY = 4  # more threads than this machine's 2 cores: the pool really is split


def openmp_threads() -> int:
    """The OpenMP pool size the calling thread would use now (HistGradientBoosting reads the same)."""
    (pool,) = ThreadpoolController().select(user_api="openmp").info()
    return int(pool["num_threads"])


class Spy:
    """A model that records the OpenMP pool size of every call it gets."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        self.seen.append(openmp_threads())
        return np.full((len(x), 2), 0.5)


@pytest.mark.parametrize("estimator", ["hist_gradient_boosting", "logistic_regression", "random_forest"])
def test_one_native_thread_gives_bit_identical_probabilities(contract: Contract, estimator: str) -> None:
    params = world_params().train.model_copy(update={"estimator": estimator})
    train, holdout = generate(1500, seed=31), generate(4000, seed=32)
    with one_native_thread():  # how the train stage fits
        model = build_pipeline(contract, params).fit(train[input_columns(contract)], train["churned"])
    x = holdout[input_columns(contract)]
    with threadpool_limits(limits=MANY):
        assert openmp_threads() == MANY
        pooled = model.predict_proba(x)
    with one_native_thread():
        assert openmp_threads() == NATIVE_THREADS
        single = model.predict_proba(x)
    assert np.array_equal(pooled, single)  # bit for bit, not approximately


def test_the_operational_gate_measures_on_one_native_thread_and_restores_the_pool(
    small_frame: pd.DataFrame,
) -> None:
    spy = Spy()
    params = world_params().gates.operational.model_copy(update={"latency_samples": 20, "batch_rows": 200})
    with threadpool_limits(limits=MANY):
        operational.check(lambda frame: spy.predict_proba(frame)[:, 1], small_frame, 1000, params)
        after = openmp_threads()
    assert len(spy.seen) > 20 and set(spy.seen) == {NATIVE_THREADS}
    assert after == MANY  # a scoped limit: the caller's pools are as they were


def run_in_new_thread(work: Any) -> None:
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_a_serving_thread_scores_on_one_native_thread_from_its_first_call(contract: Contract) -> None:
    spy = Spy()
    loaded = LoadedModel("churn:test", spy, threshold=0.3)
    frame = generate(3, seed=1)[input_columns(contract)]
    seen_elsewhere: list[int] = []

    def serve() -> None:  # like an executor thread of the service: it never ran the model before
        with threadpool_limits(limits=MANY):  # restores this thread's pools (and BLAS) when the test ends
            loaded.proba(frame)
            loaded.proba(frame)

    def other() -> None:
        with threadpool_limits(limits=MANY):
            seen_elsewhere.append(openmp_threads())

    run_in_new_thread(serve)
    run_in_new_thread(other)
    assert spy.seen == [NATIVE_THREADS, NATIVE_THREADS]
    # Why the limit is set in the scoring thread, not once where the model is loaded: OpenMP's is per thread.
    assert seen_elsewhere == [MANY]
