"""Bind: turn mapped natural values into Dataverse `@odata.bind` references.

Alternate keys bind directly (`/accounts(accountnumber='ACC-01000-ABCDEF')`); tables without one
(units) are resolved to a GUID from a reference read. A value that matches nothing rejects the row
with the field and value named, so an unknown product or currency is a clear rejection rather than a
server error per row.
"""

from __future__ import annotations

import pandas as pd

from p2c_assets.connectors.odata import key_predicate
from p2c_assets.engine.references import References, fold
from p2c_assets.flows.template import Bind, FlowTemplate


def primary_key(entity_set: str) -> str:
    """Dataverse primary key = logical name + 'id' (`uoms` -> `uomid`, `transactioncurrencies` -> ...yid)."""
    singular = entity_set[:-3] + "y" if entity_set.endswith("ies") else entity_set[:-1]
    return singular + "id"


def bind_rows(template: FlowTemplate, frame: pd.DataFrame, references: References) -> tuple[pd.DataFrame, pd.Series]:
    """Returns the payload frame (bind columns replaced) and rejection reasons by row."""
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
            navs.setdefault(f"{nav}@odata.bind", [None] * len(payload))[payload.index.get_loc(row)] = ref
        for name, refs in navs.items():
            payload[name] = refs
    reasons = pd.Series({row: "; ".join(texts) for row, texts in problems.items()}, dtype=object)
    return payload.drop(index=reasons.index), reasons


def _reference(field: str, bind: Bind, value, references: References) -> tuple[str, str | None]:
    for nav, entity_set, by in bind.choices or ((bind.nav or field, bind.entity_set, bind.by),):
        if bind.alternate_key:
            if fold(value) in references.values(entity_set, by):
                return nav, f"/{entity_set}({key_predicate({by: value})})"
        else:
            guid = references.mapping(entity_set, by, primary_key(entity_set)).get(fold(value))
            if guid is not None:
                return nav, f"/{entity_set}({guid})"
    return bind.nav or field, None
