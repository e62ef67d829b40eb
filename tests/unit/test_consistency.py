"""params.yaml checked against the contract at every stage start: every mismatch at once, exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mlops.cli import EXIT_USAGE, main
from mlops.consistency import mismatches
from mlops.contract import Contract
from mlops.params import Params, load_params

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "tests" / "world"

# A fork's contract: none of the example's columns, no id, no time column.
FORK = Contract.model_validate(
    {
        "name": "census",
        "version": 1,
        "table": {"min_rows": 1, "max_rows": 100, "target_rate_min": 0.0, "target_rate_max": 1.0},
        "columns": {
            "age": {"type": "integer"},
            "workclass": {"type": "category", "values": ["Gov", "Private"]},
            "sex": {"type": "category", "role": "sensitive", "values": ["F", "M"]},
            "income": {"type": "category", "role": "target", "values": ["<=50K", ">50K"]},
        },
    }
)


def world_params() -> Params:
    return load_params(WORLD / "params.yaml")


def test_the_example_params_against_a_forks_contract_list_every_problem() -> None:
    problems = mismatches(world_params(), FORK)
    joined = "\n".join(problems)
    assert "split.strategy: `time` needs a `role: time` column" in joined
    assert "train.monotonic.support_calls: `support_calls` is not a numeric model input" in joined
    assert "train.monotonic.tenure_months" in joined
    assert "gates.behaviour.invariance[0]: `customer_id` is not a column" in joined
    assert "gates.behaviour.directional[0].column: `support_calls`" in joined
    assert "(those are: age)" in joined  # the fix is in the message: what the contract does have
    assert len(problems) == 9, problems


def test_per_attribute_fairness_settings_must_name_a_sensitive_attribute() -> None:
    params = world_params()
    fairness = params.gates.fairness.model_validate(
        {**params.gates.fairness.model_dump(), "attributes": {"age": {"criteria": ["equal_opportunity"]}}}
    )
    changed = params.model_copy(update={"gates": params.gates.model_copy(update={"fairness": fairness})})
    assert any(
        p.startswith("gates.fairness.attributes.age: `age` is not a sensitive attribute")
        for p in mismatches(changed, FORK)
    )


def test_every_stage_refuses_to_start_with_exit_2_and_all_keys_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(FORK.model_dump(mode="json")))
    params = tmp_path / "params.yaml"
    shutil.copy2(WORLD / "params.yaml", params)
    for stage, extra in [
        ("ingest", ["--out", str(tmp_path / "raw.parquet")]),
        ("validate", ["--data", str(tmp_path / "raw.parquet")]),
        ("split", ["--data", str(tmp_path / "raw.parquet")]),
        ("train", ["--train", str(tmp_path / "train.parquet")]),
    ]:
        code = main([stage, "--params", str(params), "--contract", str(contract), *extra])
        err = capsys.readouterr().err
        assert code == EXIT_USAGE, (stage, err)
        assert "does not fit the data contract (9 problems)" in err and "split.strategy" in err, err
        assert not (tmp_path / "raw.parquet").exists()  # nothing was done


def test_the_example_world_is_consistent() -> None:
    from mlops.contract import load_contract

    assert mismatches(world_params(), load_contract(WORLD / "contract.yaml")) == []


def test_split_refuses_data_the_gate_failed_even_when_run_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    report = tmp_path / "validation.json"
    failures = ["FAILED: expect_column_values_to_not_be_null on column `age`: 3 unexpected values"]
    report.write_text(json.dumps({"success": False, "failures": failures}))
    argv = ["split", "--params", str(WORLD / "params.yaml"), "--contract", str(WORLD / "contract.yaml")]
    argv += ["--data", str(tmp_path / "raw.parquet"), "--validation", str(report)]
    argv += ["--train-out", str(tmp_path / "train.parquet"), "--test-out", str(tmp_path / "test.parquet")]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "the data failed validation, so it is not split" in err and "column `age`" in err
    assert not (tmp_path / "train.parquet").exists()
    # train too: `dvc repro -s train` alone would otherwise fit the stale split of older, valid data
    argv = ["train", "--params", str(WORLD / "params.yaml"), "--contract", str(WORLD / "contract.yaml")]
    argv += ["--train", str(tmp_path / "old.parquet"), "--validation", str(report)]
    argv += ["--model-out", str(tmp_path / "model.joblib")]
    assert main(argv) == EXIT_USAGE
    assert "column `age`" in capsys.readouterr().err and not (tmp_path / "model.joblib").exists()
