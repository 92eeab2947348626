"""One OData request against `/data/`, independent of HTTP framing.

The same `FinOpsService.handle` answers a standalone request and each part of a `$batch`, so a
write behaves identically in both. The service owns the SQLite connection of `finops.db`; one
lock serialises requests (SQLite has one writer anyway) and transactions are explicit: a
standalone request is one transaction, a `$batch` changeset is one transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from . import queries, writes
from .entities import DEFAULT_COMPANY, ENTITIES, Hidden, visible_entities
from .errors import FinOpsError, bad_query, not_found
from .metadata import csdl, service_document
from .schema import create_schema

JSON = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
DEFAULT_PAGE_SIZE = 10_000
_RESOURCE = re.compile(r"^(\w+)(?:\((.*)\))?(?:/(\$count))?$")


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: object, **headers: str) -> Reply:
        return cls(status, json.dumps(payload).encode(), {"content-type": JSON, **headers})

    @classmethod
    def error(cls, exc: FinOpsError) -> Reply:
        return cls(exc.status, exc.payload(), {"content-type": JSON})


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) an F&O database in autocommit mode; callers open transactions."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    create_schema(conn)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """All statements inside commit together or not at all."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def cross_company(params: Mapping[str, str]) -> bool:
    return params.get("cross-company", "").lower() == "true"


class FinOpsService:
    """The `/data/` endpoint over one database; `base_url` is what links in responses point to."""

    def __init__(self, conn: sqlite3.Connection, base_url: str,
                 page_size: Callable[[], int] = lambda: DEFAULT_PAGE_SIZE,
                 default_company: str = DEFAULT_COMPANY,
                 hidden_columns: Callable[[], Hidden] = tuple):
        self.conn = conn
        self.base_url = base_url
        self.page_size = page_size
        self.hidden_columns = hidden_columns  # entities.hidden(): fields this tenant lacks
        self.default_company = default_company
        self.lock = threading.RLock()

    def handle(self, method: str, path: str, params: Mapping[str, str], body: bytes,
               in_transaction: bool = False) -> Reply:
        """Answer one request for `path` (relative to `/data/`); never raises for client errors.

        With `in_transaction` the caller (a `$batch` changeset) owns the transaction and wants
        the FinOpsError raised so it can roll back.
        """
        try:
            with self.lock:
                if in_transaction:
                    return self._dispatch(method, path, params, body)
                if method == "GET":
                    return self._dispatch(method, path, params, body)
                with transaction(self.conn):
                    return self._dispatch(method, path, params, body)
        except FinOpsError as exc:
            if in_transaction:
                raise
            return Reply.error(exc)

    def _dispatch(self, method: str, path: str, params: Mapping[str, str], body: bytes) -> Reply:
        path = path.strip("/")
        if path == "":
            return Reply.json(200, service_document(self.base_url))
        hide = self.hidden_columns()
        if path == "$metadata":
            return Reply(200, csdl(hide), {"content-type": "application/xml"})
        match = _RESOURCE.match(path)
        if match is None or match.group(1) not in ENTITIES:
            raise not_found(path.split("(")[0].split("/")[0])
        entity = visible_entities(hide)[match.group(1)]
        key_text, count_segment = match.group(2), match.group(3)
        company = None if cross_company(params) else self.default_company
        if key_text is None:
            if count_segment:
                query = queries.parse_query(entity, params, company)
                return Reply(200, str(queries.count(self.conn, entity, query)).encode(),
                             {"content-type": "text/plain"})
            if method == "GET":
                return self._read_collection(entity, params, company)
            if method == "POST":
                row = writes.create(self.conn, entity, _json_body(body), self.default_company)
                location = f"{self.base_url}/data/{entity.set_name}({_key_segment(entity, row)})"
                return Reply.json(201, {"@odata.context": self._context(entity, "/$entity"),
                                        **queries.to_json(entity, row)}, location=location)
        elif not count_segment:
            key = queries.parse_key(entity, key_text)
            if method == "GET":
                row = queries.get(self.conn, entity, key, company)
                select = queries.parse_query(entity, params, company).select
                return Reply.json(200, {"@odata.context": self._context(entity, "/$entity"),
                                        **queries.to_json(entity, row, select)})
            if method in ("PATCH", "PUT", "MERGE"):
                writes.update(self.conn, entity, key, _json_body(body), company)
                return Reply(204)
            if method == "DELETE":
                writes.delete(self.conn, entity, key, company)
                return Reply(204)
        raise FinOpsError(405, f"The HTTP method '{method}' is not allowed on '{path}'.")

    def _context(self, entity, suffix: str = "") -> str:
        return f"{self.base_url}/data/$metadata#{entity.set_name}{suffix}"

    def _read_collection(self, entity, params: Mapping[str, str], company: str | None) -> Reply:
        query = queries.parse_query(entity, params, company)
        page: dict[str, object] = {"@odata.context": self._context(entity)}
        if query.count:
            page["@odata.count"] = queries.count(self.conn, entity, query)
        rows, more = queries.read_page(self.conn, entity, query, self.page_size())
        values = []
        for row in rows:
            item = queries.to_json(entity, row, query.select)
            for nav, select in query.expand.items():
                item[nav] = queries.expand_rows(self.conn, entity, row, nav, select)
            values.append(item)
        page["value"] = values
        if more:
            following = {**params, "$skip": str(query.skip + len(rows))}
            if query.top is not None:
                following["$top"] = str(query.top - len(rows))
            page["@odata.nextLink"] = (f"{self.base_url}/data/{entity.set_name}?"
                                       + urlencode(following, safe="$,'*()=:"))
        return Reply.json(200, page)


def _json_body(body: bytes) -> dict:
    try:
        payload = json.loads(body or b"{}")
    except ValueError as exc:
        raise bad_query(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(payload, dict):
        raise bad_query("The request body must be a JSON object with the entity's properties.")
    return payload


def _key_segment(entity, row) -> str:
    parts = []
    for name in entity.keys:
        value = row[name]
        quoted = isinstance(value, str) and entity.field(name).type == "Edm.String"
        parts.append(f"{name}='{value.replace(chr(39), chr(39) * 2)}'" if quoted
                     else f"{name}={value}")
    return ",".join(parts)
