"""Build one pandera schema per entity from a compact column list.

Each entity is a `pa.DataFrameSchema` named after its entity set. Columns are optional unless they
belong to the natural key (a flow writes the fields it maps, not all of them); checks carry plain
messages ("at most 100 characters") because they end up, row by row, in rejection reasons a user
reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.pandas as pa


@dataclass(frozen=True)
class Col:
    kind: str = "str"  # str | number | int | bool | enum | datetime | bind
    max_length: int | None = None
    required: bool = False
    allowed: tuple | None = None
    min_value: float | None = None


def text(max_length: int | None = None, required: bool = False) -> Col:
    return Col("str", max_length=max_length, required=required)


def money(min_value: float | None = 0) -> Col:
    return Col("number", min_value=min_value)


def entity(name: str, key: tuple[str, ...], columns: dict[str, Col]) -> pa.DataFrameSchema:
    """A schema whose key columns are required, non-null and unique together."""
    built = {name_: _column(name_, col, name_ in key) for name_, col in columns.items()}
    return pa.DataFrameSchema(built, name=name, unique=list(key), strict=False, coerce=False,
                              report_duplicates="all")


def _column(name: str, col: Col, is_key: bool) -> pa.Column:
    checks: list[pa.Check] = []
    if col.max_length:
        checks.append(pa.Check(lambda s, n=col.max_length: s.astype(str).str.len() <= n,
                               element_wise=False, error=f"at most {col.max_length} characters"))
    if col.allowed is not None:
        checks.append(pa.Check.isin(list(col.allowed), error=f"one of {', '.join(map(str, col.allowed))}"))
    if col.min_value is not None:
        checks.append(pa.Check.ge(col.min_value, error=f"not below {col.min_value}"))
    if col.required or is_key:
        checks.append(pa.Check(lambda s: s.astype(str).str.strip() != "", error="must not be blank"))
    return pa.Column(None, checks=checks, nullable=not (col.required or is_key), required=is_key,
                     description=f"{name}{' (key)' if is_key else ''}", metadata={"kind": col.kind})
