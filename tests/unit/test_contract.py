"""The contract model: derived column lists, and malformed contracts rejected with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.world import WORLD_CONTRACT

from mlops.contract import Contract, ContractError, load_contract


def test_roles_are_derived_from_the_contract(contract: Contract) -> None:
    assert contract.id_column == "customer_id"
    assert contract.time_column == "event_date"
    assert contract.target == "churned"
    assert contract.positive_label == 1
    assert contract.sensitive == ["gender", "age_band"]


def test_sensitive_columns_are_features_only_on_request(contract: Contract) -> None:
    plain = contract.features()
    assert "gender" not in plain and "customer_id" not in plain and "churned" not in plain
    assert set(contract.features(include_sensitive=True)) == set(plain) | {"gender", "age_band"}
    assert contract.numeric(plain) == [
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "data_usage_gb",
    ]
    assert contract.categorical(plain) == ["contract", "payment_method", "internet_service", "region"]


def test_id_and_time_columns_are_optional_and_ignored_columns_are_not_data(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "columns.customer_id": None,
            "columns.event_date": None,
            "columns.region": {"role": "ignore"},
        },
    )
    contract = load_contract(path)
    assert contract.id_column is None and contract.time_column is None
    assert contract.ignored == ["region"] and "region" not in contract.data_columns
    assert "region" not in contract.features(include_sensitive=True)


def _write(tmp_path: Path, mutate: dict[str, object]) -> Path:
    raw = yaml.safe_load(WORLD_CONTRACT.read_text())
    for dotted, value in mutate.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("mutation", "named"),
    [
        ({"columns.contract.values": None}, "values"),
        ({"columns.tenure_months.type": "int"}, "columns.tenure_months.type"),
        ({"columns.tenure_months.mininum": 0}, "mininum"),
        ({"columns.tenure_months.min": 500}, "greater than max"),
        ({"columns.churned.values": [0, 1, 2]}, "exactly two"),
        ({"columns.region.role": "id"}, "at most one `id` column"),
        ({"columns.region.role": "time"}, "at most one `time` column"),
        ({"columns.churned.role": "feature"}, "exactly one `target` column"),
        ({"columns.region.type": None}, "`type` is required"),
        ({"table": None}, "table"),
    ],
)
def test_malformed_contract_names_the_problem(
    tmp_path: Path, mutation: dict[str, object], named: str
) -> None:
    with pytest.raises(ContractError, match="invalid data contract") as err:
        load_contract(_write(tmp_path, mutation))
    assert named in str(err.value)


def test_missing_contract_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"not found: .*nowhere\.yaml"):
        load_contract(tmp_path / "nowhere.yaml")
