"""Bind: turn mapped natural values into references to related records (`Ref`).

A value bound by an alternate key (`accountnumber`) becomes a `Ref` by that key, once a reference
read of the distinct values the rows hold shows the record exists; a value matched on a plain column (a unit's name) becomes a `Ref` by
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
        found = _targets(field, bind, column, references)
        navs: dict[str, list] = {}
        for position, (row, value) in enumerate(column.items()):
            if value is None:
                continue
            target = found.get(fold(value))
            if target is None:
                problems.setdefault(row, []).append(
                    f"{field}: no {bind.entity_set} with {bind.by} {value!r} in Sales; create it there (or sync "
                    f"it first) and this row is sent on the next run")
                continue
            nav, entity_set, by, record_id = target
            ref = Ref(entity_set, id=record_id) if record_id else Ref(entity_set, key=((by, value),))
            if nav not in navs:  # made once: a default built for every row cost seconds at 100,000 rows
                navs[nav] = [None] * len(payload)
            navs[nav][position] = ref
        for name, refs in navs.items():
            payload[name] = refs
    reasons = pd.Series({row: "; ".join(texts) for row, texts in problems.items()}, dtype=object)
    return payload.drop(index=reasons.index), reasons


def _targets(field: str, bind: Bind, column: pd.Series, references: References) -> dict:
    """Folded value -> (nav, entity set, column, record id or None) of the record each distinct value of
    `column` binds to: the first of the bind's choices that holds it, each asked only for the values
    the ones before did not hold."""
    found: dict = {}
    left = [v for v in dict.fromkeys(column) if v is not None]
    for nav, entity_set, by in bind.choices or ((bind.nav or field, bind.entity_set, bind.by),):
        if not left:
            break
        if bind.alternate_key:
            held = references.values(entity_set, by, among=left)
            found.update({fold(v): (nav, entity_set, by, None) for v in left if fold(v) in held})
        else:
            ids = references.ids(entity_set, by, among=left)
            found.update({fold(v): (nav, entity_set, by, ids[fold(v)]) for v in left if fold(v) in ids})
        left = [v for v in left if fold(v) not in found]
    return found
