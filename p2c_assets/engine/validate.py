"""Validate: the target's pandera schema decides which mapped rows may be sent.

Rows that fail are not sent and not lost: each failure becomes a reason naming the field, the value
and the rule ("OrganizationName is 130 characters, at most 100 allowed (EDT DirPartyName): 'Very…'";
"DeliveryAddressCountryRegionISOCode 'Deutschland' has no entry in the value map from
address1_country: add it under flows.accounts.value_maps.DeliveryAddressCountryRegionISOCode in
p2c_flows.yaml", the hint the caller passes as `explain`), kept in the ledger with the
record's key and retried on every run until it passes. The per-rule counts feed the asset check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa

_PLAIN = {"not_nullable": "is required", "field_uniqueness": "duplicate key",
          "multiple_fields_uniqueness": "duplicate key", "column_in_dataframe": "column missing"}


@dataclass
class Validation:
    valid: pd.DataFrame
    reasons: pd.Series  # index = rejected source row, value = "field: reason; field: reason"
    by_rule: pd.DataFrame  # column, check, failures
    sample: pd.DataFrame  # column, check, value, row


# a hint for a failing value: (column, value) -> text that says where the value came from and the fix
Explain = Callable[[str, object], "str | None"]


def validate(schema: pa.DataFrameSchema, mapped: pd.DataFrame, explain: Explain | None = None) -> Validation:
    """`mapped` is checked as it is (`inplace`): the schemas coerce nothing (`schemas.model`), and pandera
    would otherwise first copy the whole frame (at 1,000,000 source rows, 8 bytes a cell)."""
    try:
        schema.validate(mapped, lazy=True, inplace=True)
    except pa_errors.SchemaErrors as err:
        return _rejected(schema, mapped, err, explain)
    finally:
        # pandera leaves its accessor cached on the frame (`mapped.pandera`), and the accessor holds the
        # frame: a reference cycle (pandas issue 41357) that kept every checked frame in memory until
        # Python's next full collection, long after its step (at 100,000 accounts, 234 MB of sources read
        # in earlier steps were still held while the customers were written; memray)
        vars(mapped).pop("pandera", None)
    return passed(mapped)


def _rejected(schema: pa.DataFrameSchema, mapped: pd.DataFrame, err: pa_errors.SchemaErrors,
              explain: Explain | None) -> Validation:
    """The rows that failed, each with its reasons, the failures by rule and a sample."""
    cases = err.failure_cases.copy()
    cases["check"] = cases["check"].astype(str).map(lambda c: _PLAIN.get(c, c))
    cases["column"] = cases["column"].fillna("(row)").astype(str)
    every_row = cases["index"].isna()
    expanded = [cases[~every_row]]
    for _, case in cases[every_row].iterrows():
        expanded.append(pd.DataFrame([{**case.to_dict(), "index": i} for i in mapped.index]))
    cases = pd.concat(expanded, ignore_index=True)
    cases["index"] = cases["index"].astype(int)
    cases["text"] = [_reason(schema, case, explain) for case in cases.to_dict(orient="records")]
    reasons = cases.groupby("index")["text"].agg(lambda t: "; ".join(dict.fromkeys(t)))
    by_rule = cases.groupby(["column", "check"]).size().reset_index(name="failures")
    sample = cases.rename(columns={"failure_case": "value", "index": "row"})[["row", "column", "check", "value"]]
    return Validation(mapped.drop(index=reasons.index), reasons, by_rule, sample.head(20))


def passed(mapped: pd.DataFrame | None = None) -> Validation:
    """Every row valid: no reasons, no failing rule."""
    empty = pd.DataFrame(columns=["column", "check", "failures"])
    return Validation(pd.DataFrame() if mapped is None else mapped, pd.Series(dtype=object), empty,
                      pd.DataFrame(columns=["row", "column", "check", "value"]))


def _reason(schema: pa.DataFrameSchema, case: dict, explain: Explain | None) -> str:
    column, check, value = case["column"], case["check"], case.get("failure_case")
    blank = value is None or (isinstance(value, float) and pd.isna(value))
    hint = explain(column, value) if explain and not blank else None
    if hint:
        return f"{column} {value!r} {hint}"
    meta = (schema.columns[column].metadata or {}) if column in schema.columns else {}
    if check.startswith("at most") and not blank:
        text = str(value)
        source = f" ({meta['limit_source'].split(',')[0]})" if meta.get("limit_source") else ""
        return (f"{column} is {len(text)} characters, at most {meta.get('max_length')} allowed{source}: "
                f"{text[:40]!r}{'…' if len(text) > 40 else ''}")
    shown = "" if blank else f" (got {str(value)[:60]!r})"
    return f"{column} {check}{shown}"
