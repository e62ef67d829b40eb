"""The estimator registry: every ESTIMATORS row (mlops.params) names a builder mlops.modeling has, and
every builder is some row's (no dead builder, no row that fails only when trained)."""

from __future__ import annotations

from mlops.modeling import BUILDERS
from mlops.params import ESTIMATORS


def test_the_builders_are_exactly_the_estimators() -> None:
    assert set(BUILDERS) == {estimator.builder for estimator in ESTIMATORS.values()}
    assert len(BUILDERS) == len(ESTIMATORS)  # one builder per estimator
