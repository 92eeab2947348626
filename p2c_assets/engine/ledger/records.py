"""Records: what every flow last did with every record, and the events of each run.

Why: users of Data Integrator and dual-write suffer whole runs re-pushed because one record failed.
Remembering each record's content hash, target id, last outcome and attempts makes runs incremental
(unchanged rows are skipped) and failures retryable one record at a time, parking a record that keeps
failing instead of retrying it forever.

Records are keyed by (flow, natural key). The natural key is the string the engine builds from the
target key, so when the same number can exist in several legal entities the key includes it.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from p2c_assets.engine.ledger.database import Database
from p2c_assets.engine.ledger.tables import (
    ERRORS,
    OUTCOMES,
    PENDING,
    RETRIED,
    RUN_OUTCOMES,
    WRITTEN,
    UtcDateTime,
    flow_locks,
    now,
    record_events,
    records,
    runs,
)

KEYED = 500  # keys a query when `Records.states` reads records by key
STAGED = 10_000  # records a statement stages (SQLite), when `Records.record` loads them

# The rows of one record() call, in a temporary table that lives inside its transaction.
_staged = sa.Table(
    "p2c_staged",
    sa.MetaData(),
    *(
        sa.Column(name, sa.Text)
        for name in ("natural_key", "legal_entity", "content_hash", "target_id", "outcome", "error_code", "error_message")
    ),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True, slots=True)  # slots: a run can record half a million
class RecordOutcome:
    """What one run did with one record; the input of `Ledger.record()`."""

    key: str
    legal_entity: str | None
    content_hash: str | None
    outcome: str  # one of OUTCOMES
    target_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class RecordState:
    """The ledger's memory of one record, as the engine's diff needs it."""

    legal_entity: str | None
    content_hash: str | None  # of the last row recorded, whatever its outcome
    target_id: str | None  # of the last successful write; kept through later failures
    outcome: str
    attempts: int  # consecutive failed or blocked outcomes
    parked: bool  # kept failing past max_attempts: not retried until unparked
    error_message: str | None = None  # of the latest outcome


STATE_COLUMNS = [f.name for f in fields(RecordState)]


class States(Mapping[str, RecordState]):
    """The ledger's states of one flow: one frame indexed by natural key (`frame`), read in bulk, for
    the engine's column-wise diff; and by key, as `RecordState`s, for the few callers that go row by row."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __getitem__(self, key: str) -> RecordState:
        return RecordState(*self.frame.loc[key].tolist())

    def __iter__(self) -> Iterator[str]:
        return iter(self.frame.index)

    def __len__(self) -> int:
        return len(self.frame)

    def items(self):  # one pass over the frame, not a lookup per key
        return ((key, RecordState(*rest)) for key, *rest in self.frame.itertuples(name=None))


@dataclass(frozen=True)
class ProblemRecord:
    """A record whose latest outcome is a problem, as `p2c problems` lists it."""

    flow: str
    key: str
    legal_entity: str | None
    outcome: str  # rejected, failed, blocked, or parked
    error_code: str | None
    error_message: str | None
    attempts: int
    since: datetime | None  # the start of the run in which its current trouble began
    last_seen: datetime
    last_synced: datetime | None  # its last successful write, if any


class Records(Database):
    """Per-record state and per-run events; `record()` is the one write of a sync."""

    def states(self, flow: str, keys: Iterable[str] | None = None) -> States:
        """Every record of `flow`, or those of `keys` only (a run that plans the few rows changed since
        its flow settled need not read 100,000). Every record is fetched as plain tuples from the driver's
        cursor: SQLAlchemy's result rows cost more than the query itself at 100,000 records."""
        query = sa.select(records.c.natural_key, *(records.c[name] for name in STATE_COLUMNS)).where(
            records.c.flow == flow)
        with self._engine.connect() as conn:
            if keys is not None:
                rows = _by_key(conn, query, list(keys))
            else:
                # the flow name a bound parameter in the driver's own style, never pasted into the text
                compiled = query.compile(dialect=conn.dialect)
                params = compiled.construct_params()
                if compiled.positional:
                    params = tuple(params[name] for name in compiled.positiontup)
                cursor = conn.connection.cursor()
                try:
                    cursor.execute(str(compiled), params)
                    rows = cursor.fetchall()
                finally:
                    cursor.close()
        frame = pd.DataFrame(rows, columns=["natural_key", *STATE_COLUMNS]).set_index("natural_key")
        frame["parked"] = frame["parked"].astype(bool)  # SQLite answers 0/1
        return States(frame.astype(object).where(frame.notna(), None))

    def version(self, flow: str, companies: Iterable[str] | None = None) -> str:
        """A text that changes whenever a record of `flow` does: recorded by a run (`last_run`), added,
        parked or unparked, its attempts counted. One aggregate query: what `engine.settled` compares.

        `companies`: the records of those legal entities (and of none) only, the ones a run of theirs
        plans with. The schedule runs each legal entity apart: a `usmf` run that wrote a record must not
        make the next `demf` run plan every row of a flow nothing changed in for `demf`."""
        query = sa.select(sa.func.count(), sa.func.max(records.c.last_run),
                          sa.func.sum(sa.case((records.c.parked, 1), else_=0)),
                          sa.func.sum(records.c.attempts)).where(records.c.flow == flow)
        if companies is not None:  # legal entities as the engine matches them (`fold`: lower case)
            query = query.where(sa.or_(records.c.legal_entity.is_(None),
                                       sa.func.lower(records.c.legal_entity).in_([c.lower() for c in companies])))
        with self._engine.connect() as conn:
            return ":".join(str(v) for v in conn.execute(query).one())

    def problems(self, flow: str | None = None, outcome: str | None = None) -> list[ProblemRecord]:
        """Every record whose latest outcome is rejected, failed, blocked or parked, oldest trouble first."""
        shown = sa.case((records.c.parked, "parked"), else_=records.c.outcome)
        # when the current trouble began: the first problem event since the record last landed
        since = (
            sa.select(sa.func.min(runs.c.started_at))
            .select_from(record_events.join(runs, runs.c.id == record_events.c.run_id))
            .where(record_events.c.natural_key == records.c.natural_key, runs.c.flow == records.c.flow,
                   record_events.c.outcome.in_(ERRORS),
                   sa.or_(records.c.last_synced.is_(None), runs.c.started_at >= records.c.last_synced))
            .scalar_subquery()
        )
        since = sa.type_coerce(since, UtcDateTime(timezone=True))
        query = sa.select(records.c.flow, records.c.natural_key, records.c.legal_entity, shown,
                          records.c.error_code, records.c.error_message, records.c.attempts, since,
                          records.c.last_seen, records.c.last_synced).where(
            sa.or_(records.c.parked, records.c.outcome.in_(ERRORS)))
        if flow is not None:
            query = query.where(records.c.flow == flow)
        if outcome is not None:
            query = query.where(shown == outcome)
        with self._engine.connect() as conn:
            found = [ProblemRecord(*row) for row in conn.execute(query.order_by(records.c.flow, records.c.natural_key))]
        return sorted(found, key=lambda p: (p.since is None, p.since or p.last_seen))

    def record(self, run: int, flow: str, outcomes: Iterable[RecordOutcome]) -> dict[str, int]:
        """Upsert the outcome of many records in one transaction; returns counts per run outcome.

        Failed and blocked outcomes add an attempt and park the record when attempts reach
        `max_attempts`; any other outcome starts the count again. The target id survives later
        failures; error code and message are those of the latest outcome (so rejected rows keep
        their reasons until they pass).

        Set-based, for 100,000 rows in seconds: the rows are loaded into a temporary table (COPY on
        PostgreSQL), then one INSERT ... SELECT ... ON CONFLICT updates the records and one more
        writes the run's events. `outcomes` are read once, checked and staged as they come, so a caller
        can make them as they are read (`engine.sync.ledger_rows`): half a million are never held at once.
        """
        hashes = array("q")
        rows = _checked(flow, outcomes, hashes)
        first = next(rows, None)
        if first is None:
            return {}
        rows = itertools.chain([first], rows)
        stamp = sa.bindparam("now", now(), type_=UtcDateTime(timezone=True))
        new, old = _staged.c, records.c
        retried = new.outcome.in_(RETRIED)
        columns = [
            "flow", "natural_key", "legal_entity", "content_hash", "target_id", "outcome", "error_code",
            "error_message", "attempts", "parked", "first_seen", "last_seen", "last_synced", "last_run",
        ]
        first = sa.select(
            sa.literal(flow, sa.Text),
            new.natural_key,
            new.legal_entity,
            new.content_hash,
            new.target_id,
            new.outcome,
            new.error_code,
            new.error_message,
            sa.case((retried, 1), else_=0),
            retried if self.max_attempts == 1 else sa.false(),
            stamp,
            stamp,
            sa.case((new.outcome.in_(WRITTEN), stamp), else_=None),
            sa.literal(run, sa.Integer),
        ).where(sa.true())  # SQLite needs a WHERE to parse INSERT ... SELECT ... ON CONFLICT
        insert = self._dialect.insert(records).from_select(columns, first)
        again = insert.excluded
        again_retried = again.outcome.in_(RETRIED)
        upsert = insert.on_conflict_do_update(
            index_elements=[old.flow, old.natural_key],
            set_={
                "legal_entity": again.legal_entity,
                "content_hash": again.content_hash,
                "target_id": sa.func.coalesce(again.target_id, old.target_id),
                "outcome": again.outcome,
                "error_code": again.error_code,
                "error_message": again.error_message,
                "attempts": sa.case((again_retried, old.attempts + 1), else_=0),
                "parked": sa.and_(again_retried, old.attempts + 1 >= self.max_attempts),
                "last_seen": again.last_seen,
                "last_synced": sa.func.coalesce(again.last_synced, old.last_synced),
                "last_run": again.last_run,
            },
        )
        # what the run reports: the row's outcome, or `parked` when it parked the row
        reported = sa.case((sa.and_(retried, old.parked), "parked"), else_=new.outcome)
        joined = sa.and_(old.flow == flow, old.natural_key == new.natural_key)
        event_columns = ["run_id", "natural_key", "legal_entity", "outcome", "error_code", "error_message"]
        event_insert = self._dialect.insert(record_events).from_select(
            event_columns,
            sa.select(
                sa.literal(run, sa.Integer), new.natural_key, new.legal_entity, reported, new.error_code, new.error_message
            )
            .join_from(_staged, records, joined)
            .where(new.outcome != "unchanged"),
        )
        events = event_insert.on_conflict_do_update(
            index_elements=[record_events.c.run_id, record_events.c.natural_key],
            set_={name: event_insert.excluded[name] for name in event_columns[2:]},
        )
        counts = sa.select(reported, sa.func.count()).join_from(_staged, records, joined).group_by(reported)
        with self._writing() as conn:
            self._check_run(conn, run, flow)
            self._stage(conn, rows)
            if len(np.unique(hashes)) < len(hashes):  # maybe a key given twice: the staged rows say
                twice = conn.scalar(sa.select(_staged.c.natural_key).group_by(_staged.c.natural_key)
                                    .having(sa.func.count() > 1).limit(1))
                if twice is not None:
                    raise ValueError(f"flow {flow!r} record {twice!r}: given twice in one record() call")
            conn.execute(upsert)
            conn.execute(events)
            result = dict(conn.execute(counts).all())
            _staged.drop(conn)
        return {outcome: result[outcome] for outcome in RUN_OUTCOMES if result.get(outcome)}

    def pending(self, flow: str) -> list[str]:
        """Keys of failed or blocked records the next run retries (parked ones wait for unpark)."""
        query = (
            sa.select(records.c.natural_key)
            .where(records.c.flow == flow, records.c.outcome.in_(PENDING), sa.not_(records.c.parked))
            .order_by(records.c.natural_key)
        )
        with self._engine.connect() as conn:
            return list(conn.scalars(query))

    def unpark(self, flow: str | None = None) -> int:
        """Give parked records a fresh set of attempts on the next run; returns how many."""
        query = records.update().where(records.c.parked).values(parked=False, attempts=0)
        if flow is not None:
            query = query.where(records.c.flow == flow)
        with self._writing() as conn:
            return conn.execute(query).rowcount

    def _stage(self, conn: sa.Connection, rows: Iterable[RecordOutcome]) -> None:
        """Load rows into the transaction's temporary staging table, the fastest way each backend has,
        `STAGED` rows at a time."""
        _staged.create(conn)
        values = ((row.key, row.legal_entity, row.content_hash, row.target_id, row.outcome, row.error_code,
                   row.error_message) for row in rows)
        if self._dialect is postgresql:  # COPY is some twenty times faster than INSERT here
            with conn.connection.driver_connection.cursor() as cursor:
                with cursor.copy(f"COPY {_staged.name} FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
            conn.exec_driver_sql(f"ANALYZE {_staged.name}")  # temporary tables get no statistics otherwise
        else:
            insert = f"INSERT INTO {_staged.name} VALUES ({', '.join('?' * len(_staged.c))})"
            while chunk := list(itertools.islice(values, STAGED)):
                conn.exec_driver_sql(insert, chunk)

    @staticmethod
    def _check_run(conn: sa.Connection, run: int, flow: str) -> None:
        row = conn.execute(sa.select(runs.c.flow, runs.c.dry_run).where(runs.c.id == run)).one_or_none()
        if row is None:
            raise ValueError(f"run {run} does not exist")
        if row.flow != flow:
            raise ValueError(f"run {run} belongs to flow {row.flow!r}, not {flow!r}")
        if row.dry_run:
            raise ValueError(f"run {run} of flow {flow!r} is a dry run: it must not change the ledger")
        # a run whose heartbeat stopped long enough to look dead (a suspended machine) may come back:
        # by then a later run holds the flow and has recorded, and must not be overwritten
        holder = conn.scalar(sa.select(flow_locks.c.run_id).where(flow_locks.c.flow == flow))
        if holder is not None and holder > run:
            raise ValueError(f"run {run} of flow {flow!r} lost the flow to run {holder}, which took it over when "
                             f"run {run} looked dead; its outcomes are not recorded")


def _by_key(conn: sa.Connection, query: sa.Select, keys: list[str]) -> list[tuple]:
    """The rows of `query` for `keys`, `KEYED` keys a query, bound as parameters (whatever text a key holds)."""
    return [tuple(row) for start in range(0, len(keys), KEYED)
            for row in conn.execute(query.where(records.c.natural_key.in_(keys[start:start + KEYED])))]


_hash = hash  # of a key, in `_checked` (a test makes every key's the same)


def _checked(flow: str, outcomes: Iterable[RecordOutcome], hashes: array) -> Iterator[RecordOutcome]:
    """`outcomes` as they come, each checked (a bad one raises, and `record`'s transaction with it), each
    key's `hash` added to `hashes`: `record` asks the staged rows for a key given twice when two hashes are
    equal. Why not a set of the keys: at 765,000 contact persons it took 44 MB, 8 bytes a key here."""
    for index, row in enumerate(outcomes):
        if not isinstance(row.key, str) or not row.key:
            raise ValueError(f"flow {flow!r} record #{index}: field 'key' must be a non-empty string, got {row.key!r}")
        if row.outcome not in OUTCOMES:
            raise ValueError(
                f"flow {flow!r} record {row.key!r}: field 'outcome' is {row.outcome!r}, "
                f"expected one of {', '.join(OUTCOMES)}"
            )
        hashes.append(_hash(row.key))
        yield row
