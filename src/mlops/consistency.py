"""params.yaml checked against the data contract, at the start of every stage and operation that reads both.

Params name contract columns (monotonic constraints, behaviour rules, per-attribute fairness settings) and
assume contract roles (a time split needs a time column). A fork that swaps the contract must learn every
mismatch at once, each key named, before any work is done (exit 2), not one traceback per stage run.
"""

from __future__ import annotations

from pathlib import Path

from mlops.contract import NUMERIC_TYPES, Contract, load_contract
from mlops.params import Params, ParamsError, load_params


def mismatches(params: Params, contract: Contract) -> list[str]:
    """Every params key that does not fit the contract, as `dotted.key: what is wrong` (pure)."""
    problems: list[str] = []
    columns = contract.data_columns
    inputs = set(contract.features(include_sensitive=params.train.use_sensitive_features))
    numeric_inputs = {n for n in inputs if columns[n].type in NUMERIC_TYPES}

    def unknown(key: str, name: str, allowed: set[str], what: str) -> None:
        if name not in allowed:
            shown = ", ".join(sorted(allowed)) or "none"
            problems.append(f"{key}: `{name}` is not {what} of the contract (those are: {shown})")

    if params.split.strategy == "time" and contract.time_column is None:
        problems.append(
            "split.strategy: `time` needs a `role: time` column and the contract has none: use `random`"
        )
    for name in params.train.monotonic:
        unknown(f"train.monotonic.{name}", name, numeric_inputs, "a numeric model input")
    behaviour = params.gates.behaviour
    for i, name in enumerate(behaviour.invariance):
        unknown(f"gates.behaviour.invariance[{i}]", name, set(columns) - {contract.target}, "a column")
    for i, rule in enumerate(behaviour.directional):
        key = f"gates.behaviour.directional[{i}].column"
        unknown(key, rule.column, numeric_inputs, "a numeric model input")
    for name in params.gates.fairness.attributes:
        unknown(f"gates.fairness.attributes.{name}", name, set(contract.sensitive), "a sensitive attribute")
    return problems


def check(params: Params, contract: Contract, params_path: Path | str) -> None:
    """Raise ParamsError listing every mismatch (the CLI turns it into exit 2)."""
    problems = mismatches(params, contract)
    if problems:
        listed = "\n  - ".join(problems)
        raise ParamsError(
            f"{params_path} does not fit the data contract ({len(problems)} problem"
            f"{'s' if len(problems) > 1 else ''}):\n  - {listed}"
        )


def load_checked(params_path: Path | str, contract_path: Path | str) -> tuple[Params, Contract]:
    """Both files, validated alone and against each other."""
    params = load_params(params_path)
    contract = load_contract(contract_path)
    check(params, contract, params_path)
    return params, contract
