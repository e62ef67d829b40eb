"""The data contract: typed model of data/contract.yaml and the column lists every stage derives from it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ColumnType = Literal["integer", "float", "category", "string", "date"]
Role = Literal["id", "time", "feature", "sensitive", "target"]
NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "float"})


class ContractError(ValueError):
    """The contract file itself is wrong (not the data): names the field at fault."""


class Column(BaseModel):
    """One column of the dataset and the rules its values obey."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ColumnType
    role: Role = "feature"
    nullable: bool = False
    max_null_fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    min: float | dt.date | None = None
    max: float | dt.date | None = None
    values: tuple[str | int, ...] | None = None
    pattern: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        if self.type == "category" and not self.values:
            raise ValueError("a category column needs `values` (its allowed categories)")
        if self.role == "target" and (self.values is None or len(self.values) != 2):
            raise ValueError("the target column must list exactly two `values` (binary classification)")
        if self.max_null_fraction is not None and not self.nullable:
            raise ValueError("`max_null_fraction` only makes sense on a nullable column")
        if self.min is not None and self.max is not None and self.min > self.max:  # type: ignore[operator]
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self

    def numeric_range(self) -> tuple[float, float]:
        """(min, max) of a numeric column, open-ended where the contract sets no bound."""
        low = float(self.min) if isinstance(self.min, int | float) else float("-inf")
        high = float(self.max) if isinstance(self.max, int | float) else float("inf")
        return low, high


class TableRules(BaseModel):
    """Dataset-level rules: row-count and target-rate bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_rows: int = Field(ge=0)
    max_rows: int = Field(gt=0)
    target_rate_min: float = Field(ge=0.0, le=1.0)
    target_rate_max: float = Field(ge=0.0, le=1.0)


class Contract(BaseModel):
    """The whole contract, with the derived column lists the stages use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int
    table: TableRules
    columns: dict[str, Column]

    @model_validator(mode="after")
    def _one_of_each_role(self) -> Contract:
        for role in ("id", "time", "target"):
            found = [name for name, col in self.columns.items() if col.role == role]
            if len(found) != 1:
                raise ValueError(f"the contract needs exactly one `{role}` column, found {found}")
        return self

    def _with_role(self, *roles: str) -> list[str]:
        return [name for name, col in self.columns.items() if col.role in roles]

    @property
    def id_column(self) -> str:
        return self._with_role("id")[0]

    @property
    def time_column(self) -> str:
        return self._with_role("time")[0]

    @property
    def target(self) -> str:
        return self._with_role("target")[0]

    @property
    def positive_label(self) -> str | int:
        """The target value that counts as positive: the second listed value (e.g. 1 = churned)."""
        values = self.columns[self.target].values
        assert values is not None  # guaranteed by Column validation
        return values[1]

    @property
    def sensitive(self) -> list[str]:
        return self._with_role("sensitive")

    def features(self, *, include_sensitive: bool = False) -> list[str]:
        """Model inputs: feature columns, plus sensitive ones only when explicitly allowed."""
        return self._with_role("feature", "sensitive") if include_sensitive else self._with_role("feature")

    def numeric(self, names: list[str]) -> list[str]:
        return [n for n in names if self.columns[n].type in NUMERIC_TYPES]

    def categorical(self, names: list[str]) -> list[str]:
        return [n for n in names if self.columns[n].type == "category"]


def load_contract(path: str | Path) -> Contract:
    """Read and validate the contract file; a malformed contract fails with the field named."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ContractError(f"data contract not found: {path}") from exc
    try:
        return Contract.model_validate(raw)
    except ValidationError as exc:
        from mlops.params import describe_errors

        raise ContractError(f"invalid data contract {path}: {describe_errors(exc)}") from exc
