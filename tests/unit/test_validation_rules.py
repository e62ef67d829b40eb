"""The pure side of the data gate: which expectations a contract implies, and how failures read."""

from __future__ import annotations

from mlops.contract import Contract
from mlops.validation import CheckResult, ExpectationSpec, describe, expectations_for, markdown, summary


def _types(specs: list[ExpectationSpec], column: str) -> set[str]:
    return {s.type for s in specs if s.column == column}


def test_every_contract_rule_becomes_an_expectation(contract: Contract) -> None:
    specs = expectations_for(contract, list(contract.columns))
    assert specs[0].type == "expect_table_columns_to_match_set"
    assert "expect_column_values_to_be_unique" in _types(specs, "customer_id")
    assert "expect_column_values_to_match_regex" in _types(specs, "customer_id")
    assert "expect_column_values_to_be_in_set" in _types(specs, "contract")
    assert "expect_column_values_to_be_between" in _types(specs, "tenure_months")
    assert "expect_column_mean_to_be_between" in _types(specs, "churned")
    nullable = [
        s for s in specs if s.column == "total_charges" and s.type == "expect_column_values_to_not_be_null"
    ]
    assert nullable[0].kwargs["mostly"] == 0.9


def test_missing_columns_get_no_column_level_checks(contract: Contract) -> None:
    present = [c for c in contract.columns if c != "region"]
    specs = expectations_for(contract, present)
    assert not _types(specs, "region")


def test_failure_messages_name_check_column_rule_and_values() -> None:
    spec = ExpectationSpec(
        "expect_column_values_to_be_between",
        {"column": "tenure_months", "min_value": 0, "max_value": 120},
        "range",
    )
    failed = CheckResult(spec, False, unexpected_count=2, unexpected_percent=0.1, examples=[-5, 999])
    text = describe(failed)
    assert "tenure_months" in text and "min_value=0" in text and "max_value=120" in text
    assert "2 unexpected values" in text and "-5" in text and "999" in text
    table = ExpectationSpec(
        "expect_table_columns_to_match_set", {"column_set": ["a"], "exact_match": True}, "cols"
    )
    mismatch = CheckResult(table, False, details={"mismatched": {"missing": ["a"], "unexpected": ["b"]}})
    assert describe(mismatch).endswith("missing columns ['a']; unexpected columns ['b']")


def test_summary_and_markdown_report_every_failure() -> None:
    ok = CheckResult(
        ExpectationSpec("expect_table_row_count_to_be_between", {"min_value": 1}, "rows"), True, 10
    )
    bad = CheckResult(
        ExpectationSpec("expect_column_values_to_not_be_null", {"column": "x"}, "x"),
        False,
        unexpected_count=1,
        examples=[None],
    )
    report = summary([ok, bad], rows=10, columns=["x"])
    assert report["success"] is False and report["failed"] == 1 and report["evaluated"] == 2
    md = markdown(report)
    assert "FAILED" in md and "`x`" in md and "1/2 expectations met" in md
