"""Build one pandera schema per entity from a compact column list, with Microsoft's names and limits.

Each entity is a `pa.DataFrameSchema` named after its entity set. A column list names the columns a
flow reads or writes and their kind; the limits come from Microsoft, not from us: Dataverse maximum
lengths and system-required columns from CDM, F&O required fields from CDM (`isNullable: false`)
and F&O lengths from the fields' extended data types (`fo_lengths`). A name Microsoft does not
publish stops the import. Columns are optional unless they belong to the natural key or are
required; checks carry plain messages ("at most 100 characters") because they end up, row by row,
in rejection reasons a user reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from p2c_assets.schemas import fo_lengths, microsoft


@dataclass(frozen=True)
class Col:
    kind: str = "str"  # str | number | int | bool | enum | datetime | bind
    required: bool = False  # a P2C rule on top of what the service itself requires
    allowed: tuple | None = None
    min_value: float | None = None
    # the (entity set, column) whose limits apply, for a natural value that stands for another
    # record (a bind's account number, a line's quote number carried from its header)
    of: tuple[str, str] | None = None


def text(required: bool = False, of: tuple[str, str] | None = None) -> Col:
    return Col("str", required=required, of=of)


def money(min_value: float | None = 0) -> Col:
    return Col("number", min_value=min_value)


@dataclass(frozen=True)
class Limits:
    max_length: int | None
    required: bool
    source: str


def limits(system: microsoft.System, entity_set: str, name: str) -> Limits:
    """Microsoft's length and required flag for one column; KeyError when Microsoft has no such column."""
    table = microsoft.table_of(entity_set) if system == "sales" else entity_set
    column = microsoft.columns(system, table).get(name)
    if column is None:
        raise KeyError(f"{entity_set}.{name} is not in Microsoft's schema")
    if system == "sales":
        return Limits(column.max_length, column.required, column.source)
    return Limits(fo_lengths.length(name), column.required, fo_lengths.source(name) or column.source)


def entity(system: microsoft.System, name: str, key: tuple[str, ...], columns: dict[str, Col]) -> pa.DataFrameSchema:
    """A schema whose key columns are required, non-null and unique together."""
    built = {}
    for column, col in columns.items():
        entity_set, field = col.of or (name, column)
        built[column] = _column(column, col, limits(system, entity_set, field), column in key)
    return pa.DataFrameSchema(built, name=name, unique=list(key), strict=False, coerce=False,
                              report_duplicates="all", metadata={"system": system})


def _column(name: str, col: Col, limit: Limits, is_key: bool) -> pa.Column:
    checks: list[pa.Check] = []
    if limit.max_length and col.kind in ("str", "bind"):
        checks.append(pa.Check(lambda s, n=limit.max_length: _text(s).str.len() <= n,
                               element_wise=False, error=f"at most {limit.max_length} characters"))
    if col.allowed is not None:
        checks.append(pa.Check.isin(list(col.allowed), error=f"one of {', '.join(map(str, col.allowed))}"))
    if col.min_value is not None:
        checks.append(pa.Check.ge(col.min_value, error=f"not below {col.min_value}"))
    required = col.required or is_key or (limit.required and col.of is None)
    if required:
        checks.append(pa.Check(lambda s: _text(s).str.strip() != "", error="must not be blank"))
    return pa.Column(None, checks=checks, nullable=not required, required=required,
                     description=f"{name}{' (key)' if is_key else ''}",
                     metadata={"kind": col.kind, "max_length": limit.max_length, "limit_source": limit.source})


def _text(values: pd.Series) -> pd.Series:
    """The values as text: pandas' own text as it is (pyarrow's strings, no Python string per value),
    anything else (numbers, mapped Python objects) as `str` makes it."""
    return values if isinstance(values.dtype, pd.StringDtype) else values.astype(str)
