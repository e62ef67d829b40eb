"""The data contract: typed model of data/contract.yaml and the column lists every stage derives from it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ColumnType = Literal["integer", "float", "category", "string", "date"]
Role = Literal["id", "time", "feature", "sensitive", "target", "ignore"]
NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "float"})


class ContractError(ValueError):
    """The contract file itself is wrong (not the data): names the field at fault."""


class Column(BaseModel):
    """One column of the dataset and the rules its values obey."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ColumnType | None = None  # required, except on an `ignore` column (read, then dropped)
    role: Role = "feature"
    nullable: bool = False
    max_null_fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    min: float | dt.date | None = None
    max: float | dt.date | None = None
    values: tuple[str | int, ...] | None = None
    pattern: str | None = None
    # date columns: at most this many days after the day validation runs (0: no future dates)
    max_future_days: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        if self.type is None and self.role != "ignore":
            raise ValueError("`type` is required (only an `ignore` column may leave it out)")
        if self.type == "category" and not self.values:
            raise ValueError("a category column needs `values` (its allowed categories)")
        if self.role == "target" and (self.values is None or len(self.values) != 2):
            raise ValueError("the target column must list exactly two `values` (binary classification)")
        if self.max_future_days is not None and self.type != "date":
            raise ValueError("`max_future_days` only applies to a date column")
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
    # Leakage guard (mlops gate): no single feature may separate the classes better than this ROC AUC on its
    # own. A column that does is almost always the label in disguise (a date set after the outcome, a
    # status code). Raise it, with a comment saying why, for a feature that is legitimately that strong.
    max_single_feature_auc: float = Field(default=0.9, gt=0.5, le=1.0)


class Contract(BaseModel):
    """The whole contract, with the derived column lists the stages use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int
    table: TableRules
    columns: dict[str, Column]

    @model_validator(mode="after")
    def _roles(self) -> Contract:
        # One target; an id and a time column are optional (no time: params must ask for a random split;
        # no id: rows are told apart by their content, see `row_keys`), but never two of either.
        for role, allowed in (("target", (1,)), ("id", (0, 1)), ("time", (0, 1))):
            found = [name for name, col in self.columns.items() if col.role == role]
            if len(found) not in allowed:
                wanted = "exactly one" if allowed == (1,) else "at most one"
                raise ValueError(f"the contract needs {wanted} `{role}` column, found {found}")
        return self

    def _with_role(self, *roles: str) -> list[str]:
        return [name for name, col in self.data_columns.items() if col.role in roles]

    @property
    def data_columns(self) -> dict[str, Column]:
        """The dataset's columns: every contract column except the `ignore` ones (dropped at ingest)."""
        return {name: col for name, col in self.columns.items() if col.role != "ignore"}

    @property
    def ignored(self) -> list[str]:
        return [name for name, col in self.columns.items() if col.role == "ignore"]

    @property
    def id_column(self) -> str | None:
        found = self._with_role("id")
        return found[0] if found else None

    @property
    def time_column(self) -> str | None:
        found = self._with_role("time")
        return found[0] if found else None

    @property
    def target(self) -> str:
        return self._with_role("target")[0]

    @property
    def positive_label(self) -> str | int:
        """The target value that counts as positive: the second listed value (e.g. 1 = churned)."""
        return self.labels[1]

    @property
    def labels(self) -> tuple[str | int, str | int]:
        """The target's two values as the contract lists them: (negative, positive)."""
        listed = self.columns[self.target].values  # noqa: PD011 (contract field)
        assert listed is not None and len(listed) == 2  # guaranteed by Column validation
        return listed[0], listed[1]

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

    def label_name(self, value: object) -> str | int:
        """The contract's own spelling of a class (0/1 from a model -> the target's listed value)."""
        negative, positive = self.labels
        return positive if value in (1, True, positive) else negative


def row_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A stable key per row from its content (for datasets with no id column): the same record gives the
    same key in any file, order or process; identical rows are told apart by their occurrence number."""
    content = pd.util.hash_pandas_object(frame[columns].astype("string"), index=False).astype("uint64")
    occurrence = content.groupby(content).cumcount()
    return content.map("{:016x}".format) + "-" + occurrence.astype(str)


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
