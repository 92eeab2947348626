"""SQLite tables for the sandbox services: definitions, typed rows, row versions and tombstones.

A service describes its tables as `Table`/`Column` data; `Store` creates them and offers the few
operations an OData service needs. Each service owns one `Store` (one connection, WAL mode) used
from the event loop thread only, so a request whose database work has no `await` in it is atomic.

Every write stamps the row with a new value of one store-wide, monotonically increasing row
version (`_version`), which services expose as ETags and use for change tracking; deletes leave a
tombstone with the version of the delete so "what changed since version N" has an answer.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

VERSION = "_version"

_SQL_TYPES = {"string": "TEXT", "memo": "TEXT", "guid": "TEXT", "datetime": "TEXT",
              "integer": "INTEGER", "boolean": "INTEGER", "decimal": "REAL"}


@dataclass(frozen=True)
class Column:
    """One column: `type` is string, memo, guid, datetime, integer, boolean or decimal."""

    name: str
    type: str = "string"
    max_length: int | None = None
    nullable: bool = True
    default: object = None

    def __post_init__(self):
        if self.type not in _SQL_TYPES:
            raise ValueError(f"column {self.name!r} has unknown type {self.type!r}")


@dataclass(frozen=True)
class Table:
    """A table definition: columns, primary key, unique (alternate) keys and extra indexes."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})
        for name in (*self.key, *(c for u in self.unique for c in u)):
            if name not in self.by_name:
                raise ValueError(f"table {self.name!r}: key column {name!r} is not defined")


class StoreError(Exception):
    """Base of the errors a service turns into its own error shape."""

    def __init__(self, table: str, column: str | None, message: str):
        super().__init__(message)
        self.table, self.column, self.message = table, column, message


class InvalidValue(StoreError):
    """A value of the wrong type or format for its column."""


class ValueTooLong(StoreError):
    """A string longer than the column's maximum length."""

    def __init__(self, table: str, column: str, max_length: int, length: int):
        super().__init__(table, column, f"{table}.{column} is {length} characters long; "
                                        f"the maximum is {max_length}")
        self.max_length, self.length = max_length, length


class MissingValue(StoreError):
    """A required column without a value."""


class DuplicateKey(StoreError):
    """A row with the same primary or alternate key already exists; `columns` names the key."""

    def __init__(self, table: str, columns: tuple[str, ...]):
        super().__init__(table, columns[0] if columns else None,
                         f"{table}: a row with the same ({', '.join(columns)}) already exists")
        self.columns = columns


def utc_now() -> str:
    """The current time in the wire format both services use (ISO 8601, UTC, `Z`)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_utc(value: str) -> str:
    """Normalise an ISO date-time (any offset) to `YYYY-MM-DDTHH:MM:SSZ`, so text order is time order."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """One SQLite database holding a set of tables (see the module docstring)."""

    def __init__(self, path: Path | str, tables: Iterable[Table], text_collation: str = "NOCASE"):
        self.tables = {t.name: t for t in tables}
        self.collation = text_collation
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._savepoints = 0
        self._create()

    def close(self) -> None:
        self.conn.close()

    # -- schema ----------------------------------------------------------------------------
    def _column_sql(self, column: Column) -> str:
        sql = f"{_quote(column.name)} {_SQL_TYPES[column.type]}"
        if column.type in ("string", "memo", "guid"):
            sql += f" COLLATE {self.collation}"
        if not column.nullable:
            sql += " NOT NULL"
        if column.default is not None:
            sql += f" DEFAULT {_literal(column.default)}"
        return sql

    def _create(self) -> None:
        with self.transaction():
            self.conn.execute("CREATE TABLE IF NOT EXISTS _sandbox_meta (name TEXT PRIMARY KEY, value INTEGER)")
            self.conn.execute("INSERT OR IGNORE INTO _sandbox_meta VALUES ('version', 1000)")
            self.conn.execute("CREATE TABLE IF NOT EXISTS _tombstones (table_name TEXT NOT NULL, "
                              "key TEXT NOT NULL, version INTEGER NOT NULL, deleted_on TEXT NOT NULL)")
            self.conn.execute("CREATE INDEX IF NOT EXISTS ix_tombstones ON _tombstones (table_name, version)")
            for t in self.tables.values():
                columns = [self._column_sql(c) for c in t.columns]
                columns.append(f"{VERSION} INTEGER NOT NULL")
                columns.append(f"PRIMARY KEY ({', '.join(map(_quote, t.key))})")
                self.conn.execute(f"CREATE TABLE IF NOT EXISTS {_quote(t.name)} ({', '.join(columns)})")
                # a data directory made before a column joined the catalogue keeps its rows and gains it
                present = {r["name"] for r in self.conn.execute(f"PRAGMA table_info({_quote(t.name)})")}
                for c in t.columns:
                    if c.name not in present:
                        self.conn.execute(f"ALTER TABLE {_quote(t.name)} ADD COLUMN {self._column_sql(c)}")
                self.conn.execute(f"CREATE INDEX IF NOT EXISTS {_quote('ix_' + t.name + '_version')} "
                                  f"ON {_quote(t.name)} ({VERSION})")
                for i, cols in enumerate(t.unique):
                    self.conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {_quote(f'ux_{t.name}_{i}')} "
                                      f"ON {_quote(t.name)} ({', '.join(map(_quote, cols))})")
                for i, cols in enumerate(t.indexes):
                    self.conn.execute(f"CREATE INDEX IF NOT EXISTS {_quote(f'ix_{t.name}_{i}')} "
                                      f"ON {_quote(t.name)} ({', '.join(map(_quote, cols))})")

    # -- transactions and versions -------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing block; nests (savepoints), so a changeset can wrap single writes."""
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        else:
            self.conn.execute(f"RELEASE {name}")
        finally:
            self._savepoints -= 1

    def next_version(self) -> int:
        return self.conn.execute("UPDATE _sandbox_meta SET value = value + 1 WHERE name = 'version' "
                                 "RETURNING value").fetchone()[0]

    def current_version(self) -> int:
        return self.conn.execute("SELECT value FROM _sandbox_meta WHERE name = 'version'").fetchone()[0]

    # -- values ------------------------------------------------------------------------------
    def check(self, table: str, row: dict) -> dict:
        """The row with values converted for storage; raises InvalidValue / ValueTooLong."""
        t = self.tables[table]
        out = {}
        for name, value in row.items():
            column = t.by_name.get(name)
            if column is None:
                raise InvalidValue(table, name, f"{table} has no column {name!r}")
            out[name] = _encode(t.name, column, value)
        return out

    def _decode(self, table: Table, row: sqlite3.Row) -> dict:
        out = dict(row)
        for name, value in out.items():
            column = table.by_name.get(name)
            if column is not None and column.type == "boolean" and value is not None:
                out[name] = bool(value)
        return out

    def _integrity(self, table: str, exc: sqlite3.IntegrityError) -> StoreError:
        message = str(exc)
        match = re.search(r"(UNIQUE|NOT NULL) constraint failed: (.+)", message)
        if not match:
            return StoreError(table, None, f"{table}: {message}")
        columns = tuple(part.split(".", 1)[-1] for part in match.group(2).split(", "))
        if match.group(1) == "UNIQUE":
            return DuplicateKey(table, columns)
        return MissingValue(table, columns[0], f"{table}.{columns[0]} requires a value")

    # -- writes ------------------------------------------------------------------------------
    def insert(self, table: str, row: dict) -> dict:
        """Insert one row and return it as stored (defaults filled, `_version` set)."""
        t = self.tables[table]
        values = self.check(table, row)
        with self.transaction():
            values[VERSION] = self.next_version()
            names = list(values)
            try:
                self.conn.execute(f"INSERT INTO {_quote(table)} ({', '.join(map(_quote, names))}) "
                                  f"VALUES ({', '.join('?' * len(names))})", [values[n] for n in names])
            except sqlite3.IntegrityError as exc:
                raise self._integrity(table, exc) from None
            return self.get(table, {k: values[k] for k in t.key})

    def update(self, table: str, key: dict, changes: dict) -> dict | None:
        """Change columns of the row with primary key `key`; the updated row, or None if missing."""
        values = self.check(table, changes)
        with self.transaction():
            values[VERSION] = self.next_version()
            where, params = self._key_where(table, key)
            try:
                cursor = self.conn.execute(
                    f"UPDATE {_quote(table)} SET {', '.join(f'{_quote(n)} = ?' for n in values)} "
                    f"WHERE {where}", [*values.values(), *params])
            except sqlite3.IntegrityError as exc:
                raise self._integrity(table, exc) from None
            return self.get(table, key) if cursor.rowcount else None

    def delete(self, table: str, key: dict) -> bool:
        """Delete the row with primary key `key`, leaving a tombstone; False if it was missing."""
        where, params = self._key_where(table, key)
        with self.transaction():
            cursor = self.conn.execute(f"DELETE FROM {_quote(table)} WHERE {where}", params)
            if cursor.rowcount:
                self.conn.execute("INSERT INTO _tombstones VALUES (?, ?, ?, ?)",
                                  (table, json.dumps(key, sort_keys=True), self.next_version(), utc_now()))
            return bool(cursor.rowcount)

    # -- reads -------------------------------------------------------------------------------
    def _key_where(self, table: str, key: dict) -> tuple[str, list]:
        return " AND ".join(f"{_quote(k)} = ?" for k in key), list(self.check(table, key).values())

    def get(self, table: str, key: dict) -> dict | None:
        """The row whose columns equal `key` (primary or alternate key), or None."""
        where, params = self._key_where(table, key)
        rows = self.select(table, where=where, params=params, limit=2)
        return rows[0] if len(rows) == 1 else None

    def select(self, table: str, columns: Sequence[str] | None = None, where: str | None = None,
               params: Sequence = (), order_by: Sequence[tuple[str, bool]] = (),
               limit: int | None = None, offset: int | None = None) -> list[dict]:
        """Rows matching `where` (SQL with `?` params), ordered by (column, descending) pairs."""
        t = self.tables[table]
        cols = ", ".join(map(_quote, columns)) if columns else "*"
        sql = f"SELECT {cols} FROM {_quote(table)}"
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += " ORDER BY " + ", ".join(f"{_quote(c)}{' DESC' if d else ''}" for c, d in order_by)
        if limit is not None or offset:
            sql += f" LIMIT {int(limit if limit is not None else -1)} OFFSET {int(offset or 0)}"
        return [self._decode(t, r) for r in self.conn.execute(sql, list(params))]

    def count(self, table: str, where: str | None = None, params: Sequence = ()) -> int:
        sql = f"SELECT COUNT(*) FROM {_quote(table)}" + (f" WHERE {where}" if where else "")
        return self.conn.execute(sql, list(params)).fetchone()[0]

    def deleted_since(self, table: str, version: int) -> list[dict]:
        """Primary keys (with `_version` and `deleted_on`) of rows deleted after `version`."""
        rows = self.conn.execute("SELECT key, version, deleted_on FROM _tombstones "
                                 "WHERE table_name = ? AND version > ? ORDER BY version", (table, version))
        return [{**json.loads(r["key"]), VERSION: r["version"], "deleted_on": r["deleted_on"]} for r in rows]


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _encode(table: str, column: Column, value: object) -> object:
    if value is None:
        return None
    kind = column.type
    if kind in ("string", "memo"):
        if not isinstance(value, str):
            raise InvalidValue(table, column.name, f"{table}.{column.name} expects text, got {value!r}")
        if column.max_length is not None and len(value) > column.max_length:
            raise ValueTooLong(table, column.name, column.max_length, len(value))
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidValue(table, column.name, f"{table}.{column.name} expects true or false, got {value!r}")
        return int(value)
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValue(table, column.name, f"{table}.{column.name} expects a whole number, got {value!r}")
        return value
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidValue(table, column.name, f"{table}.{column.name} expects a number, got {value!r}")
        return float(value)
    if kind == "guid":
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise InvalidValue(table, column.name, f"{table}.{column.name} expects a GUID, got {value!r}") from None
    # datetime
    try:
        return iso_utc(str(value))
    except ValueError:
        raise InvalidValue(table, column.name,
                           f"{table}.{column.name} expects an ISO 8601 date-time, got {value!r}") from None
