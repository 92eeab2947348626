"""Validate: the target's pandera schema decides which mapped rows may be sent.

Rows that fail are not sent and not lost: each failure becomes a reason naming the field, the value
and the rule ("OrganizationName is 130 characters, at most 100 allowed (EDT DirPartyName): 'Very…'";
"DeliveryAddressCountryRegionISOCode 'Deutschland' has no entry in the value map from
address1_country: add it under flows.accounts.value_maps.DeliveryAddressCountryRegionISOCode in
p2c_flows.yaml", the hint the caller passes as `explain`), kept in the ledger with the
record's key and retried on every run until it passes. The per-rule counts feed the asset check.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import pandera.errors as pa_errors
import pyarrow.compute as pc
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


SLICE = 100_000  # rows checked at a time


def validate(schema: pa.DataFrameSchema, mapped: pd.DataFrame, explain: Explain | None = None) -> Validation:
    """Checked `SLICE` rows at a time, and the key's uniqueness once over the key columns alone. Why: a
    check makes Python values for the rows it reads; over the million contacts of 500,000 accounts at
    once they took 190 MB at the check's peak and left the allocator fragmented after it."""
    each_row = copy.copy(schema)
    each_row.unique = None
    cases = []
    if schema.unique and not _distinct(mapped, schema.unique):
        key = pa.DataFrameSchema(unique=schema.unique, report_duplicates=schema.report_duplicates)
        cases.append(_failures(key, mapped[[c for c in schema.unique if c in mapped.columns]]))
    cases += [_failures(each_row, mapped.iloc[start:start + SLICE]) for start in range(0, len(mapped), SLICE)]
    found = [c for c in cases if c is not None]
    return _rejected(schema, mapped, pd.concat(found, ignore_index=True), explain) if found else passed(mapped)


def _distinct(frame: pd.DataFrame, key: list[str]) -> bool:
    """Whether a key of one column of pyarrow's text, never blank, is distinct on every row: its values
    sorted, no two neighbours equal. False when it cannot tell that way (the uniqueness check then runs).
    Why: pandas marks duplicates of pyarrow's text through Python strings, 71 MB for the key of the
    million contacts of 500,000 accounts; sorted by pyarrow, 25 MB."""
    if len(key) != 1 or key[0] not in frame or not isinstance(frame[key[0]].dtype, pd.StringDtype) \
            or frame[key[0]].dtype.storage != "pyarrow" or frame[key[0]].isna().any():
        return False
    values = frame[key[0]].array.__arrow_array__()
    ordered = values.take(pc.sort_indices(values))
    return not pc.any(pc.equal(ordered[1:], ordered[:-1])).as_py()


def _failures(schema: pa.DataFrameSchema, rows: pd.DataFrame) -> pd.DataFrame | None:
    """pandera's failure cases for `rows`, a failure of the whole frame expanded to each of its rows;
    None when every row passes. `rows` is checked as it is (`inplace`): the schemas coerce nothing
    (`schemas.model`), and pandera would otherwise first copy it."""
    try:
        schema.validate(rows, lazy=True, inplace=True)
    except pa_errors.SchemaErrors as err:
        cases = err.failure_cases
        every_row = cases["index"].isna()
        expanded = [cases[~every_row]]
        for _, case in cases[every_row].iterrows():
            expanded.append(pd.DataFrame([{**case.to_dict(), "index": i} for i in rows.index]))
        return pd.concat(expanded, ignore_index=True)
    finally:
        # pandera leaves its accessor cached on the frame (`rows.pandera`), and the accessor holds the
        # frame: a reference cycle (pandas issue 41357) that kept every checked frame in memory until
        # Python's next full collection, long after its step (at 100,000 accounts, 234 MB of sources read
        # in earlier steps were still held while the customers were written; memray)
        vars(rows).pop("pandera", None)
    return None


def _rejected(schema: pa.DataFrameSchema, mapped: pd.DataFrame, cases: pd.DataFrame,
              explain: Explain | None) -> Validation:
    """The rows that failed, each with its reasons, the failures by rule and a sample."""
    cases["check"] = cases["check"].astype(str).map(lambda c: _PLAIN.get(c, c))
    cases["column"] = cases["column"].fillna("(row)").astype(str)
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
