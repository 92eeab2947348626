"""SQLite schema of the F&O service, derived from the entity catalogue.

One table per writable entity (plus internal order and invoice tables), one view per entity that
is computed from them. Every table carries `RecVersion`, the row version F&O puts in `@odata.etag`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

from .entities import ENTITIES, TABLES, Field

_SQL_TYPES = {"Edm.Decimal": "REAL", "Edm.Int32": "INTEGER", "Edm.Int64": "INTEGER"}


def _column(f: Field) -> str:
    default = f.empty()
    literal = default if isinstance(default, (int, float)) else "'" + str(default) + "'"
    return f'"{f.name}" {_SQL_TYPES.get(f.type, "TEXT")} NOT NULL DEFAULT {literal}'


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table and view if missing (idempotent, safe on an existing database)."""
    for name, (keys, fields) in TABLES.items():
        columns = ", ".join([*map(_column, fields), '"RecVersion" INTEGER NOT NULL DEFAULT 1'])
        pk = ", ".join(f'"{k}"' for k in keys)
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{name}" ({columns}, PRIMARY KEY ({pk}))')
    conn.execute(
        "CREATE TABLE IF NOT EXISTS NumberSequences (dataAreaId TEXT NOT NULL, "
        "name TEXT NOT NULL, next INTEGER NOT NULL, PRIMARY KEY (dataAreaId, name))"
    )
    # lookups the views and validation run per row
    conn.execute('CREATE INDEX IF NOT EXISTS ix_products_number '
                 'ON "ReleasedProductsV2" ("dataAreaId", "ProductNumber")')
    conn.execute('CREATE INDEX IF NOT EXISTS ix_invoices_customer '
                 'ON "SalesInvoiceHeaders" ("dataAreaId", "InvoiceCustomerAccountNumber")')
    for entity in ENTITIES.values():
        if entity.view_sql:  # recreated on every start so they always match the catalogue
            conn.execute(f'DROP VIEW IF EXISTS "{entity.source}"')
            conn.execute(f'CREATE VIEW "{entity.source}" AS {entity.view_sql}')
    conn.commit()


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
