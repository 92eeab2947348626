"""Creating, updating and deleting entity rows (protocols.md B6).

POST answers 201 with the row, PATCH/DELETE 204; the caller decides the transaction (one request,
or one `$batch` changeset), these functions never commit. The company of a create is the body's
`dataAreaId`, else the caller's default company.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from . import defaults
from .entities import ENTITIES, Entity
from .errors import FinOpsError, read_only, write_failed
from .queries import find, get
from .validation import coerce_body, validate_row


def _writable(entity: Entity) -> None:
    if not entity.writable:
        raise read_only(entity.set_name)


def _store(conn: sqlite3.Connection, entity: Entity, row: dict, insert: bool) -> None:
    # a field the tenant hides (entities.visible_entities) is not in `row`: its column keeps its value
    columns = [f.name for f in entity.stored_fields if f.name in row]
    if insert:
        names = ", ".join(f'"{c}"' for c in columns)
        conn.execute(f'INSERT INTO "{entity.table}" ({names}) VALUES '
                     f'({", ".join("?" * len(columns))})', [row[c] for c in columns])
    else:
        assignments = ", ".join(f'"{c}" = ?' for c in columns)
        where = " AND ".join(f'"{k}" = ?' for k in entity.keys)
        conn.execute(f'UPDATE "{entity.table}" SET {assignments}, RecVersion = RecVersion + 1 '
                     f'WHERE {where}', [*(row[c] for c in columns), *(row[k] for k in entity.keys)])
    defaults.after_write(conn, entity, row)


def create(conn: sqlite3.Connection, entity: Entity, body: Mapping[str, object],
           default_company: str) -> sqlite3.Row:
    """Insert a row from a POST body; return it as stored (with computed fields)."""
    _writable(entity)
    values = coerce_body(entity, body)
    row = dict(entity.empty_row)
    row.update({k: v for k, v in values.items() if not entity.field(k).read_only})
    if entity.company_specific:
        row["dataAreaId"] = values.get("dataAreaId") or default_company
    defaults.before_write(conn, entity, row, creating=True)
    validate_row(conn, entity, row)
    key = {k: row[k] for k in entity.keys}
    if find(conn, entity, key, None) is not None:
        described = ", ".join(f"{entity.field(k).caption}: {row[k]}" for k in entity.keys)
        raise write_failed(entity.table_label, [
            f"Error: Cannot create a record in {entity.caption}. {described}. "
            "The record already exists"])
    _store(conn, entity, row, insert=True)
    return get(conn, entity, key, None)


def update(conn: sqlite3.Connection, entity: Entity, key: Mapping[str, object],
           body: Mapping[str, object], company: str | None) -> None:
    """Apply a PATCH body to the row with `key` (404 when it does not exist or is not visible)."""
    _writable(entity)
    existing = get(conn, entity, key, company)
    values = coerce_body(entity, body)
    changed_keys = [k for k in entity.keys if k in values and not _same_key(conn, values[k],
                                                                            existing[k])]
    if changed_keys:
        raise FinOpsError(400, "An error has occurred.",
                          f"Key field '{changed_keys[0]}' of '{entity.set_name}' can not be "
                          "changed through an update.")
    row = {f.name: existing[f.name] for f in entity.fields}
    # the stored key stays as it is: `us-001` in a body (or the URL) still updates `US-001`
    row.update({k: v for k, v in values.items()
                if not entity.field(k).read_only and k not in entity.keys})
    defaults.before_write(conn, entity, row, creating=False)
    validate_row(conn, entity, row)
    _store(conn, entity, row, insert=False)


def _same_key(conn: sqlite3.Connection, given: object, stored: object) -> bool:
    """Whether a key value in a body names the stored one, compared as the key column compares
    (case-insensitive for strings, see schema.py)."""
    return conn.execute("SELECT ? = ? COLLATE NOCASE", (given, stored)).fetchone()[0] == 1


def delete(conn: sqlite3.Connection, entity: Entity, key: Mapping[str, object],
           company: str | None) -> None:
    """Delete the row with `key`; a header takes its lines with it, as in F&O."""
    _writable(entity)
    row = dict(get(conn, entity, key, company))
    for child_set, join in entity.navigation.values():
        child = ENTITIES[child_set]
        if child.writable:
            where = " AND ".join(f'"{k}" = ?' for k in join)
            conn.execute(f'DELETE FROM "{child.table}" WHERE {where}', [row[k] for k in join])
    where = " AND ".join(f'"{k}" = ?' for k in entity.keys)
    conn.execute(f'DELETE FROM "{entity.table}" WHERE {where}', [row[k] for k in entity.keys])
    defaults.after_write(conn, entity, row)
