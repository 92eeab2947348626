"""Bind: turn mapped natural values into references to related records (`Ref`).

A value bound by an alternate key (`accountnumber`) becomes a `Ref` by that key, once a reference
read shows the record exists; a value matched on a plain column (a unit's name) becomes a `Ref` by
the record id that column leads to. The client writes a `Ref` as its service links records. A value
that matches nothing rejects the row with the field and value named, so an unknown product or
currency is a clear rejection rather than a server error per row.
"""

from __future__ import annotations

import pandas as pd

from p2c_assets.connectors.protocol import Ref, fold
from p2c_assets.engine.references import References
from p2c_assets.flows.template import Bind, FlowTemplate


def bind_rows(template: FlowTemplate, frame: pd.DataFrame, references: References) -> tuple[pd.DataFrame, pd.Series]:
    """Returns the payload frame (each bind field replaced by its navigation column of `Ref`s) and
    rejection reasons by row."""
    payload = frame.copy()
    problems: dict[int, list[str]] = {}
    for field, bind in template.binds.items():
        if field not in payload:
            continue
        column = payload.pop(field)
        navs: dict[str, list] = {}
        for row, value in column.items():
            if value is None:
                continue
            nav, ref = _reference(field, bind, value, references)
            if ref is None:
                problems.setdefault(row, []).append(
                    f"{field}: no {bind.entity_set} with {bind.by} {value!r} in Sales; create it there (or sync "
                    f"it first) and this row is sent on the next run")
                continue
            navs.setdefault(nav, [None] * len(payload))[payload.index.get_loc(row)] = ref
        for name, refs in navs.items():
            payload[name] = refs
    reasons = pd.Series({row: "; ".join(texts) for row, texts in problems.items()}, dtype=object)
    return payload.drop(index=reasons.index), reasons


def _reference(field: str, bind: Bind, value, references: References) -> tuple[str, Ref | None]:
    for nav, entity_set, by in bind.choices or ((bind.nav or field, bind.entity_set, bind.by),):
        if bind.alternate_key:
            if fold(value) in references.values(entity_set, by):
                return nav, Ref(entity_set, key=((by, value),))
        else:
            record_id = references.ids(entity_set, by).get(fold(value))
            if record_id is not None:
                return nav, Ref(entity_set, id=record_id)
    return bind.nav or field, None
