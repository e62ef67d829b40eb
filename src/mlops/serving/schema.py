"""The serving input schema, generated from the data contract (pydantic): the contract stays the one truth.

Every request record carries the contract's columns except the target. Rules, and why:
- strict types: an integer column takes JSON integers only (no 1.5, "1" or true); a float column takes
  numbers, never strings; NaN and infinity are refused (allow_inf_nan=False), so a bad value is a 4xx
  naming the field, never a 500 from inside the model;
- ranges and categories as the contract states them: the model never saw a value outside them, and an
  unknown category is a client bug to report, not a guess to make;
- unknown fields are refused (extra="forbid"): a misspelt optional column must not silently go missing;
- the time column may be omitted (the server stamps the request date), and sensitive columns are optional:
  the model does not use them (train.use_sensitive_features is false by default), but when sent they are
  logged for the fairness and drift monitoring.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from mlops.contract import Column, Contract

MAX_BATCH = 1000  # records per /predict_batch request; larger payloads are split by the client


def _field(name: str, col: Column, contract: Contract) -> tuple[Any, Any]:
    """(type, FieldInfo) of one request field."""
    optional = col.nullable or col.role == "sensitive" or name == contract.time_column
    kwargs: dict[str, Any] = {"description": f"{col.type} ({col.role})"}
    annotation: Any
    if col.type == "category":
        annotation = Literal[tuple(str(v) for v in col.values or ())]
    elif col.type in ("integer", "float"):
        annotation = int if col.type == "integer" else float
        low, high = col.numeric_range()
        if low != float("-inf"):
            kwargs["ge"] = low
        if high != float("inf"):
            kwargs["le"] = high
    elif col.type == "date":
        annotation = dt.date
    else:
        annotation = str
        if col.pattern:
            kwargs["pattern"] = col.pattern
        kwargs["max_length"] = 256
    if optional:
        return annotation | None, Field(default=None, **kwargs)
    return annotation, Field(..., **kwargs)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class _DateFromJson(_Strict):
    """JSON has no date type: in strict mode a date field would refuse every JSON value, so ISO strings
    ("2026-11-25") are parsed explicitly, and anything else is refused."""

    @field_validator("*", mode="before")
    @classmethod
    def _iso_dates(cls, value: Any, info: Any) -> Any:
        field = cls.model_fields[info.field_name]
        if field.annotation in (dt.date, dt.date | None) and isinstance(value, str):
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError("must be an ISO date YYYY-MM-DD")
            return dt.date.fromisoformat(value)
        return value


def record_model(contract: Contract) -> type[BaseModel]:
    """The pydantic model of one request record: every contract column but the target."""
    fields = {
        name: _field(name, col, contract)
        for name, col in contract.data_columns.items()
        if col.role != "target"
    }
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        "Record", __base__=_DateFromJson, __doc__="One record, per the data contract.", **fields
    )
    return model


def served_records(
    frame: Any, contract: Contract, schema: type[BaseModel] | None = None
) -> list[dict[str, Any]]:
    """Rows of a table as /predict hands them to the model: each validated by the request schema and
    dumped (the packager's parity proof and the gate's timing use exactly these). Raises pydantic's
    ValidationError for a row the service would refuse. `schema`: `record_model(contract)` when the
    caller has it (building it costs ~8 ms, more than validating a few records)."""
    import json

    import pandas as pd

    schema = schema or record_model(contract)
    columns = [c for c in frame.columns if c in contract.data_columns and c != contract.target]
    rows = frame[columns].copy()
    if contract.time_column is not None and contract.time_column in rows:
        rows[contract.time_column] = pd.to_datetime(rows[contract.time_column]).dt.strftime("%Y-%m-%d")
    return [schema.model_validate(raw).model_dump() for raw in json.loads(rows.to_json(orient="records"))]
