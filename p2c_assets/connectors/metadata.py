"""What a live service says it has: entity sets, fields, keys and navigation properties.

The preflight compares this with what the flows use, so a tenant that lacks a column, an alternate
key or a whole entity is found before a single row is written. Each service is read the way its own
tools read it:

- Dataverse: one `EntityDefinitions` list (entity set -> table), then per table its attributes,
  alternate keys and many-to-one relationships (whose navigation property names are what
  `@odata.bind` uses). Alternate keys are not in `$metadata`, hence `EntityDefinitions`.
- F&O: `/data/$metadata`, parsed element by element (a real tenant's document is tens of megabytes).

A schema is read once per client (a run's resource builds one client per service), not once per
asset.
"""

from __future__ import annotations

import io
import threading
import weakref
from dataclasses import dataclass
from typing import Iterable
from xml.etree import ElementTree as ET

from .dataverse import DataverseClient
from .finops import FinOpsClient
from .odata import literal


@dataclass(frozen=True)
class EntityShape:
    fields: frozenset[str]  # Dataverse column logical names / F&O property names
    keys: tuple[tuple[str, ...], ...]  # Dataverse alternate keys / the F&O entity key
    navigation: frozenset[str] = frozenset()


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def describe(client: DataverseClient | FinOpsClient, entity_sets: Iterable[str]) -> dict[str, EntityShape]:
    """The shape of each entity set the service has; sets it does not have are absent."""
    with _lock:
        known: dict[str, EntityShape | None] = _cache.setdefault(client, {})
        if isinstance(client, FinOpsClient):
            if not known:
                known.update(_finops(client))  # one document describes every entity set
        else:
            missing = set(entity_sets) - set(known)
            if missing:
                known.update(_dataverse(client, missing, known))
        return {name: known[name] for name in entity_sets if known.get(name) is not None}


_TABLES = "\0tables"  # cache slot for the Dataverse entity set -> table listing


def _dataverse(client: DataverseClient, entity_sets: set[str], known: dict) -> dict:
    if _TABLES not in known:
        listing = client.http.request("GET", client.api + "EntityDefinitions",
                                      params={"$select": "LogicalName,EntitySetName"}).json()["value"]
        known[_TABLES] = {row["EntitySetName"]: row["LogicalName"] for row in listing}
    tables = known[_TABLES]
    shapes: dict[str, EntityShape | None] = {name: None for name in entity_sets}
    expand = ("Attributes($select=LogicalName),Keys($select=LogicalName,KeyAttributes),"
              "ManyToOneRelationships($select=ReferencingAttribute,ReferencingEntityNavigationPropertyName)")
    for entity_set in sorted(entity_sets & set(tables)):
        body = client.http.request(
            "GET", f"{client.api}EntityDefinitions(LogicalName={literal(tables[entity_set])})",
            params={"$select": "LogicalName,EntitySetName", "$expand": expand}).json()
        shapes[entity_set] = EntityShape(
            fields=frozenset(a["LogicalName"] for a in body.get("Attributes", [])),
            keys=tuple(tuple(k["KeyAttributes"]) for k in body.get("Keys", [])),
            navigation=frozenset(r["ReferencingEntityNavigationPropertyName"]
                                 for r in body.get("ManyToOneRelationships", [])
                                 if r.get("ReferencingEntityNavigationPropertyName")))
    return shapes


def _finops(client: FinOpsClient) -> dict[str, EntityShape]:
    document = client.http.request("GET", client.api + "$metadata", headers={"Accept": "application/xml"}).content
    types: dict[str, EntityShape] = {}
    sets: dict[str, str] = {}
    for _, element in ET.iterparse(io.BytesIO(document), events=("end",)):
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "EntityType":
            types[element.get("Name")] = EntityShape(
                fields=frozenset(p.get("Name") for p in element if p.tag.endswith("}Property")),
                keys=(tuple(r.get("Name") for r in element.iter() if r.tag.endswith("}PropertyRef")),),
                navigation=frozenset(n.get("Name") for n in element if n.tag.endswith("}NavigationProperty")))
            element.clear()  # keep memory flat on a tenant-sized document
        elif tag == "EntitySet":
            sets[element.get("Name")] = element.get("EntityType").rsplit(".", 1)[-1]
    return {name: types[entity_type] for name, entity_type in sets.items() if entity_type in types}
