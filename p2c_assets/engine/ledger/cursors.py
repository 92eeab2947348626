"""Cursors and source snapshots: what incremental extraction needs to pick up where it stopped.

Why in the ledger: a Dataverse delta link is only worth keeping together with the rows it was taken
after. Both live in the same database as the records, so a run that reads only what changed still
hands the whole source to mapping, header joins and reconciliation, and a full resync forgets both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from p2c_assets.engine.ledger.database import Database
from p2c_assets.engine.ledger.tables import cursors, now, source_rows


class Cursors(Database):
    """Named cursors per flow (delta links, watermarks) and the last extracted rows per source."""

    def get_cursor(self, flow: str, name: str) -> str | None:
        query = sa.select(cursors.c.value).where(cursors.c.flow == flow, cursors.c.name == name)
        with self._engine.connect() as conn:
            return conn.scalar(query)

    def set_cursor(self, flow: str, name: str, value: str | None) -> None:
        """Store a cursor; None forgets it, so the next run starts from scratch (full resync)."""
        with self._writing() as conn:
            if value is None:
                conn.execute(cursors.delete().where(cursors.c.flow == flow, cursors.c.name == name))
                return
            insert = self._dialect.insert(cursors).values(flow=flow, name=name, value=value, updated_at=now())
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[cursors.c.flow, cursors.c.name],
                    set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
                )
            )

    def load_source(self, source: str) -> list[dict]:
        """The stored rows, in id order; decoded as one JSON array (one parser call, not one per row)."""
        query = sa.select(source_rows.c.row).where(source_rows.c.source == source).order_by(source_rows.c.row_id)
        with self._engine.connect() as conn:
            return json.loads(f"[{','.join(conn.scalars(query))}]")

    def save_source(self, source: str, rows: Mapping[str, dict], *, removed: Iterable[str] = (),
                    replace: bool = False) -> None:
        """Store rows by id (replacing all of `source` when `replace`), dropping `removed` ids, atomically."""
        gone = list({*removed, *rows})
        with self._writing() as conn:
            if replace:
                conn.execute(source_rows.delete().where(source_rows.c.source == source))
            for start in range(0, len(gone), 500):
                conn.execute(source_rows.delete().where(source_rows.c.source == source,
                                                        source_rows.c.row_id.in_(gone[start:start + 500])))
            if rows:
                conn.execute(source_rows.insert(), [{"source": source, "row_id": row_id,
                                                     "row": json.dumps(row, default=str)}
                                                    for row_id, row in rows.items()])
