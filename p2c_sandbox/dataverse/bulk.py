"""`CreateMultiple`, `UpdateMultiple`, `UpsertMultiple` on standard tables: all or nothing.

One failing target rolls back the whole request and its error is the response, as documented
for standard (non-elastic) tables.

Not every standard table has these messages (protocols.md A11). A table without them is marked
`bulk_messages=False` in the catalogue, or listed (by entity set) in the `bulk_unsupported_tables`
fault key at run time; for such a table the bound action is simply not declared, so the route
falls through to OData's "Resource not found for the segment '...'" (404, 0x80060888).

A slow org, on demand: with the `bulk_timeout_over_rows` setting at N, a bulk request of more than N
targets writes nothing and answers "SQL timeout expired" (0x80044151, -2147204783), the error Microsoft
lists for a batch too large to finish in time ("Use bulk operation messages", Troubleshooting common
errors; the status, 500, is assumed: the page gives none).
"""

from __future__ import annotations

from . import errors, keys
from .messages import Req, Resp
from .records import from_json
from .tables import EntityType
from .writes import insert, modify

MESSAGES = tuple(f"Microsoft.Dynamics.CRM.{m}" for m in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"))


def declared(svc, entity: EntityType) -> bool:
    """Whether the bulk messages are bound to `entity` right now (catalogue flag and fault key)."""
    if not entity.bulk_messages:
        return False
    off = svc.faults.get("bulk_unsupported_tables") or ()
    if isinstance(off, str):
        off = (off,)
    return entity.entity_set not in off


def _targets(entity: EntityType, req: Req) -> list[dict]:
    body = req.json()
    targets = body.get("Targets") if isinstance(body, dict) else None
    if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
        raise errors.bad_payload("The request body must carry 'Targets', a list of entity objects.")
    for i, target in enumerate(targets):
        if target.get("@odata.type") != f"Microsoft.Dynamics.CRM.{entity.logical}":
            raise errors.bad_payload(f"Targets[{i}]: '@odata.type' must be 'Microsoft.Dynamics.CRM.{entity.logical}'.")
    return targets


def _key_of(entity: EntityType, target: dict, i: int) -> dict | None:
    if target.get("@odata.id"):
        name, predicate, rest = keys.split_segment(str(target["@odata.id"]).split("/api/data/v9.2/")[-1].lstrip("/"))
        if name != entity.entity_set or predicate is None or rest:
            raise errors.bad_payload(f"Targets[{i}]: '@odata.id' must address a row of {entity.entity_set}.")
        return keys.resolve(entity, predicate)
    if target.get(entity.primary_id):
        return {entity.primary_id: target[entity.primary_id]}
    return None


def run(svc, entity: EntityType, message: str, req: Req) -> Resp:
    targets = _targets(entity, req)
    most = svc.faults.get("bulk_timeout_over_rows")
    if most is not None and len(targets) > most:
        raise errors.sql_timeout()
    ids = []
    with svc.store.transaction():
        for i, target in enumerate(targets):
            row = from_json(svc, entity, target, req.content_ids)
            key = _key_of(entity, target, i) if message != "CreateMultiple" else None
            existing = svc.store.get(entity.logical, key) if key else None
            if message == "UpdateMultiple":
                if key is None or existing is None:
                    raise errors.not_found(entity.logical, target.get(entity.primary_id, "(none)"))
                modify(svc, entity, existing, row)
            elif existing is not None:
                modify(svc, entity, existing, {k: v for k, v in row.items() if k not in key})
            else:
                ids.append(insert(svc, entity, {**(key or {}), **row})[entity.primary_id])
    if message == "CreateMultiple":
        return Resp.json(200, {"@odata.context": svc.api_url("$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"),
                               "Ids": ids})
    return Resp(204, {"OData-Version": "4.0"})
