"""Validate: the target's pandera schema decides which mapped rows may be sent.

Rows that fail are not sent and not lost: each failure becomes a reason naming the record's key and
the field ("CustomersV3 usmf|ACC-01005-XQWERT: OrganizationName at most 100 characters (got 'Very…')"),
kept in the ledger and retried when the source changes. The per-rule counts feed the asset check.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def validate(schema: pa.DataFrameSchema, mapped: pd.DataFrame) -> Validation:
    try:
        schema.validate(mapped, lazy=True)
    except pa_errors.SchemaErrors as err:
        cases = err.failure_cases.copy()
        cases["check"] = cases["check"].astype(str).map(lambda c: _PLAIN.get(c, c))
        cases["column"] = cases["column"].fillna("(row)").astype(str)
        every_row = cases["index"].isna()
        expanded = [cases[~every_row]]
        for _, case in cases[every_row].iterrows():
            expanded.append(pd.DataFrame([{**case.to_dict(), "index": i} for i in mapped.index]))
        cases = pd.concat(expanded, ignore_index=True)
        cases["index"] = cases["index"].astype(int)
        cases["text"] = cases.apply(_reason, axis=1)
        reasons = cases.groupby("index")["text"].agg(lambda t: "; ".join(dict.fromkeys(t)))
        by_rule = cases.groupby(["column", "check"]).size().reset_index(name="failures")
        sample = cases.rename(columns={"failure_case": "value", "index": "row"})[["row", "column", "check", "value"]]
        return Validation(mapped.drop(index=reasons.index), reasons, by_rule, sample.head(20))
    empty = pd.DataFrame(columns=["column", "check", "failures"])
    return Validation(mapped, pd.Series(dtype=object), empty, pd.DataFrame(columns=["row", "column", "check", "value"]))


def _reason(case: pd.Series) -> str:
    value = case.get("failure_case")
    shown = "" if value is None or (isinstance(value, float) and pd.isna(value)) else f" (got {str(value)[:40]!r})"
    return f"{case['column']} {case['check']}{shown}"
