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


DELTA_LINK = "delta_link"  # the cursor of a source read from a change feed


class Cursors(Database):
    """Named cursors per flow (delta links, watermarks) and the last extracted rows per source."""

    def get_cursor(self, flow: str, name: str) -> str | None:
        query = sa.select(cursors.c.value).where(cursors.c.flow == flow, cursors.c.name == name)
        with self._engine.connect() as conn:
            return conn.scalar(query)

    def load_source(self, source: str) -> list[dict]:
        """The stored rows, in id order; decoded as one JSON array (one parser call, not one per row)."""
        query = sa.select(source_rows.c.row).where(source_rows.c.source == source).order_by(source_rows.c.row_id)
        with self._engine.connect() as conn:
            return json.loads(f"[{','.join(conn.scalars(query))}]")

    def advance_source(self, source: str, rows: Mapping[str, dict], *, after: str | None, to: str,
                       removed: Iterable[str] = (), replace: bool = False) -> bool:
        """Store rows by id (replacing all of `source` when `replace`), dropping `removed` ids, and move
        the source's delta link from `after` to `to`, in one transaction; or change nothing and return
        False when the link is no longer `after`.

        Why compare and set: runs of two legal entities read the same Sales source side by side. Had the
        second stored rows it read from the same link after the first moved the link on, older rows could
        overwrite newer ones for good; refused, it reads again from the link the first one left."""
        gone = list({*removed, *rows})
        with self._writing() as conn:
            now_at = conn.scalar(sa.select(cursors.c.value).where(cursors.c.flow == source,
                                                                   cursors.c.name == DELTA_LINK))
            if now_at != after:
                return False
            if replace:
                conn.execute(source_rows.delete().where(source_rows.c.source == source))
            for start in range(0, len(gone), 500):
                conn.execute(source_rows.delete().where(source_rows.c.source == source,
                                                        source_rows.c.row_id.in_(gone[start:start + 500])))
            if rows:
                conn.execute(source_rows.insert(), [{"source": source, "row_id": row_id,
                                                     "row": json.dumps(row, default=str)}
                                                    for row_id, row in rows.items()])
            insert = self._dialect.insert(cursors).values(flow=source, name=DELTA_LINK, value=to, updated_at=now())
            conn.execute(insert.on_conflict_do_update(
                index_elements=[cursors.c.flow, cursors.c.name],
                set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at}))
            return True
