"""Writes: POST create, PATCH update/upsert (If-Match / If-None-Match), DELETE.

Every write runs in one store transaction together with its plug-ins, so a plug-in error rolls
the whole operation back, as a synchronous Dataverse plug-in step does.
"""

from __future__ import annotations

import uuid

from ..store import VERSION, DuplicateKey, MissingValue, ValueTooLong, utc_now
from . import errors, plugins
from .messages import Resp
from .queries import fetch, render, select_of
from .records import entity_url, from_json
from .tables import EntityType


def _store_call(entity: EntityType, func, *args):
    try:
        return func(*args)
    except DuplicateKey:
        raise errors.duplicate() from None
    except ValueTooLong as exc:
        raise errors.too_long(entity.logical, exc.column, exc.max_length) from None
    except MissingValue as exc:
        raise errors.validation(f"A validation error occurred. The value of '{exc.column}' on record of type "
                                f"'{entity.logical}' is required.") from None


def insert(svc, entity: EntityType, row: dict) -> dict:
    """Create a row with plug-ins (no HTTP); the stored row."""
    with svc.store.transaction():
        row = dict(row)
        row[entity.primary_id] = str(uuid.UUID(str(row.get(entity.primary_id) or uuid.uuid4())))
        row.setdefault("createdon", utc_now())
        row["modifiedon"] = row["createdon"]
        if entity.states:
            state = row["statecode"] if "statecode" in row else plugins.initial_state(svc, entity, row)
            row["statecode"] = state
            row.setdefault("statuscode", entity.states.get(state, (None, None))[1])
        # a Yes/No column left out takes its default value, No, as in Dataverse, so that `eq false`
        # finds the row (an order made in Sales is not `msdynce_ismaintainedexternally`) and reads
        # show false, not null
        for attr in entity.attrs:
            if attr.type == "Boolean":
                row.setdefault(attr.name, False)
        plugins.before_create(svc, entity, row)
        stored = _store_call(entity, svc.store.insert, entity.logical, row)
        plugins.after_write(svc, entity, stored, None)
        return svc.store.get(entity.logical, {entity.primary_id: stored[entity.primary_id]})


def modify(svc, entity: EntityType, existing: dict, changes: dict) -> dict:
    """Update a row with plug-ins (no HTTP); the stored row."""
    with svc.store.transaction():
        changes = {k: v for k, v in changes.items() if k != entity.primary_id}
        changes["modifiedon"] = utc_now()
        plugins.before_update(svc, entity, existing, changes)
        key = {entity.primary_id: existing[entity.primary_id]}
        stored = _store_call(entity, svc.store.update, entity.logical, key, changes)
        plugins.after_write(svc, entity, stored, existing)
        return svc.store.get(entity.logical, key)


def _written(svc, entity: EntityType, row: dict, req, status_with_body: int) -> Resp:
    if "return=representation" in req.headers.get("prefer", ""):
        select = select_of(entity, req)
        body = {"@odata.context": svc.api_url(f"$metadata#{entity.entity_set}/$entity"),
                **render(svc, entity, [row], req, select)[0]}
        return Resp.json(status_with_body, body, {"Preference-Applied": "return=representation",
                                                  "ETag": body["@odata.etag"]})
    url = entity_url(svc, entity, row[entity.primary_id])
    return Resp(204, {"OData-Version": "4.0", "OData-EntityId": url, "Location": url})


def create(svc, entity: EntityType, req) -> Resp:
    row = from_json(svc, entity, req.json(), req.content_ids)
    return _written(svc, entity, insert(svc, entity, row), req, 201)


def _check_version(req, row: dict) -> None:
    wanted = req.headers.get("if-match")
    if wanted and wanted != "*" and wanted != f'W/"{row[VERSION]}"':
        raise errors.version_mismatch()


def upsert(svc, entity: EntityType, key: dict, req) -> Resp:
    changes = from_json(svc, entity, req.json(), req.content_ids)
    existing = svc.store.get(entity.logical, key)
    if existing is None:
        if req.headers.get("if-match"):
            raise (errors.not_found(entity.logical, key[entity.primary_id]) if entity.primary_id in key
                   else errors.not_found_by_key(entity.logical, key))
        # body values win over the URL key; the key is copied in when the body lacks it
        row = {**key, **changes}
        return _written(svc, entity, insert(svc, entity, row), req, 201)
    if req.headers.get("if-none-match") == "*":
        raise errors.duplicate()
    _check_version(req, existing)
    for name in key:
        changes.pop(name, None)  # key columns in the body are ignored when the row exists
    return _written(svc, entity, modify(svc, entity, existing, changes), req, 200)


def delete(svc, entity: EntityType, key: dict, req) -> Resp:
    row = fetch(svc, entity, key)
    _check_version(req, row)
    with svc.store.transaction():
        svc.store.delete(entity.logical, {entity.primary_id: row[entity.primary_id]})
        plugins.after_delete(svc, entity, row)
    return Resp(204, {"OData-Version": "4.0"})
