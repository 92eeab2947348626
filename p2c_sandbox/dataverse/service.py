"""The Dataverse service object: its store, and one entry point `handle(Req) -> Resp`.

`handle` is synchronous and HTTP-framework free, so `$batch` runs inner requests by calling it
directly inside a store transaction (a changeset is then truly atomic), and the Starlette app in
`app.py` only translates HTTP in and out.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, unquote, urlsplit

from . import batch, bulk, changes, errors, keys, metadata, organization, queries, writes
from .messages import Req, Resp
from .tables import BY_SET, ENTITIES, EntityType, open_store, visible

NAMESPACE_UUID = uuid.UUID("5c2f3a52-9d1e-4f5b-8a1e-2c3d4e5f6a7b")


class Dataverse:
    def __init__(self, ctx):
        self.ctx = ctx
        self.store = open_store(ctx.data_dir / "dataverse.db")
        organization.ensure(self.store)
        self.faults = ctx.faults["dataverse"]

    def api_url(self, path: str = "") -> str:
        return f"{self.ctx.dataverse_url}/api/data/v9.2/{path}"

    def stable_id(self, name: str) -> str:
        return str(uuid.uuid5(NAMESPACE_UUID, name))

    def entity(self, entity_set: str) -> EntityType | None:
        """The table behind `entity_set` as this tenant serves it right now: the catalogue less the
        columns and alternate keys the `hidden_columns` / `hidden_alternate_keys` settings remove
        (docs/architecture.md section 1). None for an entity set that does not exist."""
        if entity_set not in BY_SET:
            return None
        columns = (self.faults.get("hidden_columns") or {}).get(entity_set, ())
        keys = (self.faults.get("hidden_alternate_keys") or {}).get(entity_set, ())
        return visible(entity_set, frozenset(columns), frozenset(frozenset(k) for k in keys))

    def entities(self) -> list[EntityType]:
        return [self.entity(e.entity_set) for e in ENTITIES]

    def primary_name(self, entity_set: str, row_id: str) -> str | None:
        entity = BY_SET[entity_set]
        row = self.store.get(entity.logical, {entity.primary_id: row_id})
        return row.get(entity.primary_name) if row else None

    def currency_symbol(self, currency_id: str | None) -> str:
        row = self.store.get("transactioncurrency", {"transactioncurrencyid": currency_id}) if currency_id else None
        return (row or {}).get("currencysymbol") or "$"

    def handle(self, req: Req) -> Resp:
        try:
            return self._route(req)
        except errors.DataverseError as exc:
            return Resp(exc.status, {"Content-Type": "application/json; odata.metadata=minimal",
                                     "OData-Version": "4.0", **exc.headers}, exc.body())

    def _route(self, req: Req) -> Resp:
        path = req.path
        if path in ("", "/"):
            return Resp.json(200, {"@odata.context": self.api_url("$metadata"), "value": [
                {"name": e.entity_set, "kind": "EntitySet", "url": e.entity_set} for e in ENTITIES]})
        if path == "$metadata":
            return metadata.csdl(self)
        if path == "$batch" and req.method == "POST":
            return batch.run(self, req)
        if path in ("WhoAmI", "WhoAmI()"):
            return metadata.who_am_i(self)
        if path.startswith("EntityDefinitions"):
            return metadata.entity_definitions(self, req)
        name, predicate, rest = keys.split_segment(path)
        entity = self.entity(name)
        if entity is None:
            raise errors.bad_query(f"Resource not found for the segment '{name}'.", status=404)
        if predicate is None:
            if rest in bulk.MESSAGES and req.method == "POST" and bulk.declared(self, entity):
                return bulk.run(self, entity, rest.rsplit(".", 1)[1], req)
            if rest == "$count" and req.method == "GET":
                return queries.count(self, entity, req)
            if rest:
                raise errors.bad_query(f"Resource not found for the segment '{rest}'.", status=404)
            if req.method == "GET":
                if "$deltatoken" in req.query or "odata.track-changes" in req.prefer:
                    return changes.read(self, entity, req)
                return queries.collection(self, entity, req)
            if req.method == "POST":
                return writes.create(self, entity, req)
        else:
            key = keys.resolve(entity, predicate)
            if rest:
                raise errors.bad_query(f"Resource not found for the segment '{rest}'.", status=404)
            if req.method == "GET":
                return queries.single(self, entity, key, req)
            if req.method == "PATCH":
                return writes.upsert(self, entity, key, req)
            if req.method == "DELETE":
                return writes.delete(self, entity, key, req)
        raise errors.DataverseError(405, "0x80060888", f"The HTTP method '{req.method}' is not allowed on "
                                                       f"'{path}'.")


def request_from_url(method: str, url: str, headers: dict, body: bytes = b"") -> Req:
    """A `Req` for a URL that may be absolute, rooted at /api/data/v9.2/ or relative to it."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if "/api/data/v9.2/" in path:
        path = path.split("/api/data/v9.2/", 1)[1]
    return Req(method.upper(), path.lstrip("/"), dict(parse_qsl(parts.query, keep_blank_values=True)),
               {k.lower(): v for k, v in headers.items()}, body)
