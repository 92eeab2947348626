"""Cursors and source snapshots: what incremental extraction needs to pick up where it stopped.

Why in the ledger: a Dataverse delta link is only worth keeping together with the rows it was taken
after. Both live in the same database as the records, so a run that reads only what changed still
hands the whole source to mapping, header joins and reconciliation, and a full resync forgets both.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from itertools import islice

import numpy as np
import pandas as pd
import sqlalchemy as sa

from p2c_assets.connectors.protocol import TEXT, compact_text, fit_text, shared_strings
from p2c_assets.engine.ledger.database import Database
from p2c_assets.engine.ledger.tables import cursors, now, source_rows


DELTA_LINK = "delta_link"  # the cursor of a source read from a change feed
ROWS_VERSION = "rows_version"  # changes whenever a source's stored rows do (a delta link moves on every read)
CHUNK = 2000  # stored rows encoded, written or decoded at a time
COMPACTED_AT = 50_000  # stored rows decoded before their text goes to pyarrow (`load_source(compact=True)`)


class Cursors(Database):
    """Named cursors per flow (delta links, watermarks) and the last extracted rows per source."""

    def get_cursor(self, flow: str, name: str) -> str | None:
        query = sa.select(cursors.c.value).where(cursors.c.flow == flow, cursors.c.name == name)
        with self._engine.connect() as conn:
            return conn.scalar(query)

    def put_cursor(self, flow: str, name: str, value: str | None) -> None:
        """Set a named cursor of `flow`, or remove it (None). Not for delta links: those move only with
        their stored rows (`advance_source`)."""
        with self._writing() as conn:
            if value is None:
                conn.execute(cursors.delete().where(cursors.c.flow == flow, cursors.c.name == name))
            else:
                self._put(conn, flow, name, value)

    def load_source(self, source: str, compact: bool = False) -> pd.DataFrame:
        """The stored rows in id order, as `DataFrame.from_records` makes them of the decoded rows
        (columns in order of first appearance, NaN where a row lacks one), equal strings shared; with
        `compact`, as `compact_text` then `fit_text` make that frame, its text held compact.

        Why not a list of dicts: a dict per row costs about as much as the row's values, and the
        whole source would be held twice over. Rows are fetched and decoded `CHUNK` at a time (one
        parser call per chunk) and kept as tuples, which pandas turns into the same frame. With `compact`,
        `COMPACTED_AT` rows at a time: the Python values of the million contacts of 500,000 accounts took
        2.6 GB at once, where pyarrow holds their text in 490 MB."""
        query = sa.select(source_rows.c.row).where(source_rows.c.source == source).order_by(source_rows.c.row_id)
        names: dict[str, None] = {}
        records: list[tuple] = []
        parts: list[pd.DataFrame] = []
        with self._engine.connect() as conn:
            for chunk in conn.execution_options(yield_per=CHUNK).scalars(query).partitions():
                for row in json.loads(f"[{','.join(chunk)}]"):
                    if row.keys() == names.keys():
                        records.append(tuple(map(row.__getitem__, names)))
                    else:  # rows stored before or after the source's columns changed
                        names.update(dict.fromkeys(row))
                        records.append(tuple(row.get(name, np.nan) for name in names))
                if compact and len(records) >= COMPACTED_AT:
                    parts.append(compact_text(_frame(records, names)))
                    records = []
        if records:
            parts.append(compact_text(_frame(records, names)) if compact else shared_strings(_frame(records, names)))
        if not compact:
            return parts[0] if parts else pd.DataFrame()
        return fit_text(parts[0] if len(parts) == 1 else _joined(parts)) if parts else pd.DataFrame()

    def advance_source(self, source: str, rows: Iterable[tuple[str, dict]], *, after: str | None, to: str,
                       removed: Iterable[str] = (), replace: bool = False) -> str | None:
        """Store rows by id (replacing all of `source` when `replace`), dropping `removed` ids, and move
        the source's delta link from `after` to `to`, in one transaction, returning the version the
        stored rows are at then (`rows_version`); or change nothing and return None when the link is
        no longer `after`.

        Why compare and set: runs of two legal entities read the same Sales source side by side. Had the
        second stored rows it read from the same link after the first moved the link on, older rows could
        overwrite newer ones for good; refused, it reads again from the link the first one left.

        `rows` are (id, row) pairs with distinct ids, taken `CHUNK` at a time: a source of 100,000 rows
        is never held as dicts or JSON texts all at once."""
        with self._writing() as conn:
            now_at = conn.scalar(sa.select(cursors.c.value).where(cursors.c.flow == source,
                                                                   cursors.c.name == DELTA_LINK))
            if now_at != after:
                return None
            if replace:
                conn.execute(source_rows.delete().where(source_rows.c.source == source))
            removed, rows, changed = list(removed), iter(rows), replace
            self._forget(conn, source, removed)
            while chunk := list(islice(rows, CHUNK)):
                if not replace:
                    self._forget(conn, source, [row_id for row_id, _ in chunk])
                conn.execute(source_rows.insert(), [{"source": source, "row_id": row_id,
                                                     "row": json.dumps(row, default=str)} for row_id, row in chunk])
                changed = True
            self._put(conn, source, DELTA_LINK, to)
            version = conn.scalar(sa.select(cursors.c.value).where(cursors.c.flow == source,
                                                                    cursors.c.name == ROWS_VERSION))
            if changed or removed or version is None:
                version = uuid.uuid4().hex
                self._put(conn, source, ROWS_VERSION, version)
            return version

    def rows_version(self, source: str) -> str | None:
        """What the stored rows of `source` are at: a new value whenever `advance_source` changed them,
        the same while reads find nothing new (so whatever was made of them then still holds)."""
        return self.get_cursor(source, ROWS_VERSION)

    def _put(self, conn, flow: str, name: str, value: str) -> None:
        insert = self._dialect.insert(cursors).values(flow=flow, name=name, value=value, updated_at=now())
        conn.execute(insert.on_conflict_do_update(
            index_elements=[cursors.c.flow, cursors.c.name],
            set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at}))

    @staticmethod
    def _forget(conn, source: str, row_ids: list[str]) -> None:
        for start in range(0, len(row_ids), 500):
            conn.execute(source_rows.delete().where(source_rows.c.source == source,
                                                    source_rows.c.row_id.in_(row_ids[start:start + 500])))


def _frame(records: list[tuple], names: dict[str, None]) -> pd.DataFrame:
    """The frame of decoded rows (tuples in the order of `names`); rows decoded before a column first
    appeared lack it at their end."""
    width = len(names)
    records = [r if len(r) == width else r + (np.nan,) * (width - len(r)) for r in records]
    return pd.DataFrame.from_records(records, columns=list(names))


def _joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Compact parts joined into the frame `compact_text` makes of the whole: dtypes over every row (a part
    with no value in a column holds it as blank text; a column blank everywhere is blank text)."""
    names = list(dict.fromkeys(name for part in parts for name in part.columns))
    joined = pd.concat([part.dropna(axis=1, how="all") for part in parts], ignore_index=True).infer_objects()
    for name in names:
        if name not in joined:
            joined[name] = pd.array([None] * len(joined), dtype=TEXT)
    return compact_text(joined[names])
