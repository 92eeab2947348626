"""SQLite schema of the F&O service, derived from the entity catalogue.

One table per writable entity (plus internal order and invoice tables), one view per entity that
is computed from them. Every table carries `RecVersion`, the row version F&O puts in `@odata.etag`.

String columns are `COLLATE NOCASE`: F&O runs on SQL Server with a case-insensitive collation (the
only one it supports), so `us-001` finds, duplicates and updates `US-001` in key URLs, `$filter`,
reference checks and creates alike. Declaring it on the column makes every comparison, primary key
and index (and the views, which keep their columns' collation) follow without special cases.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

from .entities import ENTITIES, TABLES, Field

_SQL_TYPES = {"Edm.Decimal": "REAL", "Edm.Int32": "INTEGER", "Edm.Int64": "INTEGER"}


def _column(f: Field) -> str:
    default = f.empty()
    literal = default if isinstance(default, (int, float)) else "'" + str(default) + "'"
    collation = " COLLATE NOCASE" if f.type == "Edm.String" else ""
    return f'"{f.name}" {_SQL_TYPES.get(f.type, "TEXT")}{collation} NOT NULL DEFAULT {literal}'


def _table_sql(name: str, keys: tuple[str, ...], fields: tuple[Field, ...]) -> str:
    """The CREATE TABLE statement, exactly as SQLite keeps it in `sqlite_master.sql`."""
    columns = ", ".join([*map(_column, fields), '"RecVersion" INTEGER NOT NULL DEFAULT 1'])
    pk = ", ".join(f'"{k}"' for k in keys)
    return f'CREATE TABLE "{name}" ({columns}, PRIMARY KEY ({pk}))'


def _rebuild(conn: sqlite3.Connection, name: str, sql: str) -> None:
    """Recreate a table made by an older catalogue or schema (e.g. before the NOCASE columns),
    keeping the rows of the columns both versions have."""
    old = f"{name}_previous"
    conn.execute(f'ALTER TABLE "{name}" RENAME TO "{old}"')
    conn.execute(sql)
    new_columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')}
    kept = ", ".join(f'"{row[1]}"' for row in conn.execute(f'PRAGMA table_info("{old}")')
                     if row[1] in new_columns)
    try:
        conn.execute(f'INSERT INTO "{name}" ({kept}) SELECT {kept} FROM "{old}"')
    except sqlite3.IntegrityError as exc:
        raise sqlite3.IntegrityError(
            f"{name} can not be upgraded: {exc} (keys that differ only in letter case are the "
            "same key now: remove one of those rows, or seed a fresh data directory)") from None
    conn.execute(f'DROP TABLE "{old}"')


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table and view if missing; a table whose definition changed is rebuilt with
    its rows. Idempotent and safe on an existing database; all or nothing."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _create(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _create(conn: sqlite3.Connection) -> None:
    for entity in ENTITIES.values():  # views first: they read the tables about to be rebuilt
        if entity.view_sql:
            conn.execute(f'DROP VIEW IF EXISTS "{entity.source}"')
    for name, (keys, fields) in TABLES.items():
        sql = _table_sql(name, keys, fields)
        stored = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (name,)).fetchone()
        if stored is None:
            conn.execute(sql)
        elif stored[0] != sql:
            _rebuild(conn, name, sql)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS NumberSequences (dataAreaId TEXT NOT NULL, "
        "name TEXT NOT NULL, next INTEGER NOT NULL, PRIMARY KEY (dataAreaId, name))"
    )
    # lookups the views and validation run per row
    conn.execute('CREATE INDEX IF NOT EXISTS ix_products_number '
                 'ON "ReleasedProductsV2" ("dataAreaId", "ProductNumber")')
    conn.execute('CREATE INDEX IF NOT EXISTS ix_invoices_customer '
                 'ON "SalesInvoiceHeaders" ("dataAreaId", "InvoiceCustomerAccountNumber")')
    # the party number sequence checks a candidate is free, and contact persons name their
    # customer by party number: without it each new customer scans the table
    conn.execute('CREATE INDEX IF NOT EXISTS ix_customers_party ON "CustomersV3" ("PartyNumber")')
    for entity in ENTITIES.values():
        if entity.view_sql:  # recreated on every start so they always match the catalogue
            conn.execute(f'CREATE VIEW "{entity.source}" AS {entity.view_sql}')


def insert_rows(conn: sqlite3.Connection, table: str, rows: Iterable[Mapping[str, object]]) -> int:
    """Bulk-insert trusted rows (seed data) into `table` of `TABLES`: fields a row leaves out get
    their empty value; no validation or defaulting runs, so this is the fast path for large seeds.
    Returns how many rows were inserted. The caller commits.
    """
    fields = TABLES[table][1]
    names = ", ".join(f'"{f.name}"' for f in fields)
    empties = [(f.name, f.empty()) for f in fields]
    cursor = conn.executemany(
        f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(fields))})',
        ([row.get(name, empty) for name, empty in empties] for row in rows))
    return cursor.rowcount
