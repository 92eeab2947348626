"""Everything a flow touches on either service: entity sets, fields, keys, navigation properties.

One list, derived from the template, serves two checks that must agree: the test that every name is
in Microsoft's published schema, and the preflight that every name exists on the live tenant before a
single row is written. A name is always the service's own: Dataverse logical column names (a lookup
read as `_x_value` is the column `x`), F&O OData property names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from p2c_assets.flows.template import FlowTemplate, System

# identifiers compared in an OData $filter: `statecode eq 0`, `SalesOrderNumber ne ''`
_FILTERED = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s+(?:eq|ne|gt|ge|lt|le)\s")


@dataclass(frozen=True)
class Touch:
    flow: str
    system: System
    entity_set: str
    kind: str  # "field" | "key" (Dataverse: an alternate key; F&O: the entity key) | "navigation"
    name: str  # field name; key columns joined with ","; navigation property
    role: str  # what the flow does with it, in words a user reads ("source filter", "target field" ...)


def column_of(prop: str) -> str:
    """OData property -> Dataverse column: `_customerid_value` is the column `customerid`."""
    match = re.fullmatch(r"_(.+)_value", prop)
    return match.group(1) if match else prop


def footprint(template: FlowTemplate) -> list[Touch]:
    flow, source, target = template.name, template.source, template.target
    touches = [Touch(flow, source.system, source.entity_set, "field", column_of(f), "source field")
               for f in dict.fromkeys([*source.key, *source.select]) if f not in _carried(template)]
    touches += [Touch(flow, source.system, source.entity_set, "field", f, "source filter")
                for f in _FILTERED.findall(source.filter or "")]
    for lookup in source.lookups:
        for entity_set, key, value in lookup.targets:
            touches += [Touch(flow, source.system, entity_set, "field", column_of(c), f"lookup of {lookup.column}")
                        for c in (key, value)]
    written = [*template.target_fields, *template.after_create]
    touches += [Touch(flow, target.system, target.entity_set, "field", f, "target field")
                for f in dict.fromkeys([*target.key, *written])]
    touches.append(Touch(flow, target.system, target.entity_set, "key", ",".join(target.key), "upsert key"))
    for field_name, bind in template.binds.items():
        for nav, entity_set, by in bind.choices or ((bind.nav or field_name, bind.entity_set, bind.by),):
            touches.append(Touch(flow, target.system, target.entity_set, "navigation", nav, f"bind of {field_name}"))
            touches.append(Touch(flow, target.system, entity_set, "field", by, f"bind of {field_name}"))
            if bind.alternate_key:
                touches.append(Touch(flow, target.system, entity_set, "key", by, f"bind of {field_name}"))
    return touches


def _carried(template: FlowTemplate) -> set[str]:
    """Columns a line takes from its header's extracted rows, not from its own entity set."""
    return set(template.source.header.carry) if template.source.header else set()
