"""Reading F&O entities: query options, keys in URLs, company visibility, paging (B3, B4, B5).

A read sees one company (the caller's default) unless `cross-company=true`; company-less (global)
entities are always visible. Pages are at most `page_size` rows, continued by `$skip` in
`@odata.nextLink` (the real continuation is undocumented; clients treat the link as opaque).
"""

from __future__ import annotations

import base64
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..store import iso_utc
from .entities import ENTITIES, Entity
from .errors import bad_query, not_found
from .filters import filter_to_sql, property_missing

_KEY_PART = re.compile(r"\s*(?:(\w+)\s*=\s*)?('(?:[^']|'')*'|[^,']+)\s*(?:,|$)")
_EXPAND = re.compile(r"\s*(\w+)\s*(?:\(\s*\$select\s*=\s*([^)]*)\))?\s*(?:,|$)")


@dataclass
class Query:
    """The parsed query options of one collection read."""

    select: list[str] | None = None
    where: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)
    orderby: list[str] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    count: bool = False
    expand: dict[str, list[str] | None] = field(default_factory=dict)


def _names(entity: Entity, text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if entity.field(name) is None:
            raise property_missing(entity, name)
    return names


def int_option(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        value = int(params[name])
    except ValueError:
        value = -1
    if value < 0:
        raise bad_query(f"Invalid value '{params[name]}' for {name} query option found. "
                        f"The {name} query option requires a non-negative integer value.")
    return value


def company_scope(entity: Entity, company: str | None) -> tuple[list[str], list[object]]:
    """The WHERE clause that hides other companies (none when `company` is None)."""
    if company is None or not entity.company_specific:
        return [], []
    return ['"dataAreaId" = ?'], [company]


def parse_query(entity: Entity, params: Mapping[str, str], company: str | None) -> Query:
    """Parse `$select/$filter/$orderby/$top/$skip/$count/$expand`; raise the F&O 400 on bad input."""
    query = Query(top=int_option(params, "$top"), skip=int_option(params, "$skip") or 0,
                  count=params.get("$count", "").lower() == "true")
    query.where, query.params = company_scope(entity, company)
    if "$select" in params:
        query.select = _names(entity, params["$select"])
    if params.get("$filter"):
        where, values = filter_to_sql(entity, params["$filter"])
        query.where.append(f"({where})")
        query.params.extend(values)
    for part in filter(None, (p.strip() for p in params.get("$orderby", "").split(","))):
        name, _, direction = part.partition(" ")
        direction = direction.strip().lower() or "asc"
        if direction not in ("asc", "desc"):
            raise bad_query(f"Syntax error in $orderby '{params['$orderby']}'.")
        _names(entity, name)
        query.orderby.append(f'"{name}" {direction.upper()}')
    if params.get("$expand"):
        query.expand = _parse_expand(entity, params["$expand"])
    return query


def _parse_expand(entity: Entity, text: str) -> dict[str, list[str] | None]:
    if "/" in text or "$expand" in text:
        raise bad_query("The query specified in the URI is not valid. Only first-level $expand "
                        "is supported.")
    expand: dict[str, list[str] | None] = {}
    for match in _EXPAND.finditer(text):
        if not match.group(1):
            continue
        nav = match.group(1)
        if nav not in entity.navigation:
            raise bad_query(f"Could not find a property named '{nav}' on type "
                            f"'Microsoft.Dynamics.DataEntities.{entity.type_name}'.")
        child = ENTITIES[entity.navigation[nav][0]]
        expand[nav] = _names(child, match.group(2)) if match.group(2) else None
    return expand


def parse_key(entity: Entity, text: str) -> dict[str, object]:
    """Parse the key segment `dataAreaId='usmf',CustomerAccount='US-001'` (numbers and dates bare)."""
    parts = [m.groups() for m in _KEY_PART.finditer(text) if m.group(2)]
    if len(parts) == 1 and parts[0][0] is None and len(entity.keys) == 1:
        parts = [(entity.keys[0], parts[0][1])]
    key = {}
    for name, raw in parts:
        if name not in entity.keys:
            raise bad_query(f"The key in the request URI is not valid for resource "
                            f"'{entity.set_name}': name every key property, as in "
                            f"({','.join(k + '=...' for k in entity.keys)}).")
        f = entity.field(name)
        key[name] = _key_value(f, raw.strip())
    missing = [k for k in entity.keys if k not in key]
    if missing:
        raise bad_query(f"The number of keys specified in the URI does not match number of key "
                        f"properties for the resource '{entity.set_name}': missing "
                        f"{', '.join(missing)}.")
    return key


def _key_value(f, raw: str) -> object:
    if raw.startswith("'"):  # compared case-insensitively by the key columns (schema.py)
        return raw[1:-1].replace("''", "'")
    try:
        if f.type == "Edm.DateTimeOffset":
            return iso_utc(raw)
        return int(raw) if f.type in ("Edm.Int32", "Edm.Int64") else float(raw)
    except ValueError:
        raise bad_query(f"Bad key value {raw} for key property '{f.name}'.") from None


def etag(version: int) -> str:
    return 'W/"' + base64.b64encode(f"0,{version}".encode()).decode() + '"'


def to_json(entity: Entity, row: sqlite3.Row, select: list[str] | None = None) -> dict:
    """One row as F&O serializes it: etag first, then the selected fields, enums as names."""
    body: dict[str, object] = {"@odata.etag": etag(row["RecVersion"])}
    for name in select or [f.name for f in entity.fields]:
        body[name] = row[name]
    return body


def find(conn: sqlite3.Connection, entity: Entity, key: Mapping[str, object],
         company: str | None) -> sqlite3.Row | None:
    """The row with this key, if it exists and is visible from `company` (None: all)."""
    where, params = company_scope(entity, company)
    where += [f'"{k}" = ?' for k in entity.keys]
    params += [key[k] for k in entity.keys]
    return conn.execute(f'SELECT * FROM "{entity.source}" WHERE {" AND ".join(where)}',
                        params).fetchone()


def get(conn: sqlite3.Connection, entity: Entity, key: Mapping[str, object],
        company: str | None) -> sqlite3.Row:
    row = find(conn, entity, key, company)
    if row is None:
        raise not_found(entity.set_name)
    return row


def count(conn: sqlite3.Connection, entity: Entity, query: Query) -> int:
    where = f"WHERE {' AND '.join(query.where)}" if query.where else ""
    return conn.execute(f'SELECT COUNT(*) FROM "{entity.source}" {where}',
                        query.params).fetchone()[0]


def read_page(conn: sqlite3.Connection, entity: Entity, query: Query,
              page_size: int) -> tuple[list[sqlite3.Row], bool]:
    """One server-driven page and whether more rows follow it (ordered by `$orderby`, then keys)."""
    where = f"WHERE {' AND '.join(query.where)}" if query.where else ""
    order = ", ".join([*query.orderby, *(f'"{k}"' for k in entity.keys)])
    limit = page_size if query.top is None else min(page_size, query.top)
    rows = conn.execute(
        f'SELECT * FROM "{entity.source}" {where} ORDER BY {order} LIMIT ? OFFSET ?',
        [*query.params, limit + 1, query.skip]).fetchall()
    more = len(rows) > limit and (query.top is None or query.top > limit)
    return rows[:limit], more


def expand_rows(conn: sqlite3.Connection, entity: Entity, row: sqlite3.Row, nav: str,
                select: list[str] | None) -> list[dict]:
    """The children of `row` under navigation property `nav` (first level only)."""
    child_set, join = entity.navigation[nav]
    child = ENTITIES[child_set]
    where = " AND ".join(f'"{k}" = ?' for k in join)
    rows = conn.execute(
        f'SELECT * FROM "{child.source}" WHERE {where} ORDER BY '
        + ", ".join(f'"{k}"' for k in child.keys), [row[k] for k in join]).fetchall()
    return [to_json(child, r, select) for r in rows]
