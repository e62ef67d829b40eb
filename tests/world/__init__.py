"""The template tests' own world: the example's contract and params (synthetic customer churn).

The tests of the template's machinery (stages, gates, serving, deploy, workflows) run on these files, never
on the repository's data/contract.yaml and params.yaml: a fork swaps those for its own dataset, and the
machinery's tests must pass untouched after it does. The few project tests (docs/tests.md lists them) are the
ones that read the fork's files. `copy_project` (tests/conftest.py) writes these two files into every project
copy it makes.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mlops.contract import Contract, load_contract
from mlops.params import Params, load_params

WORLD = Path(__file__).resolve().parent
WORLD_CONTRACT = WORLD / "contract.yaml"
WORLD_PARAMS = WORLD / "params.yaml"


@functools.cache
def world_contract() -> Contract:
    """The example's contract (the generator's columns)."""
    return load_contract(WORLD_CONTRACT)


@functools.cache
def world_params() -> Params:
    """The example's params: tests take it and `model_copy(update=...)` what they change, so no test depends
    on a default (there are none) or repeats a number the world's params hold."""
    return load_params(WORLD_PARAMS)
