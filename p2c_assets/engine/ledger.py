"""The sync ledger: what every flow last did with every record, kept in a real SQL database.

Why: users of Data Integrator and dual-write suffer whole runs re-pushed because one record failed,
errors cut to the first five, and runs that say "completed" while nothing moved. Remembering each
record's content hash, target id, last outcome and attempts makes runs incremental (unchanged rows
are skipped), failures retryable one record at a time, and history provable.

SQLite is the default (one file beside the Dagster home, WAL so several step processes can write at
once); PostgreSQL serves shared deployments (`P2C_STATE_URL`). The schema is owned by the Alembic
revisions in `migrations/`, applied by `Ledger.upgrade()`.

Records are keyed by (flow, natural key). The natural key is the string the engine builds from the
target key, so when the same number can exist in several legal entities the key includes it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite

OUTCOMES = ("created", "updated", "unchanged", "rejected", "failed", "blocked")
# what a run reports: the ledger turns a failed or blocked row into `parked` past max_attempts
RUN_OUTCOMES = (*OUTCOMES, "parked")
RETRIED = ("failed",)  # counts attempts and parks; a blocked line waits for its header, it is not at fault
PENDING = ("failed", "blocked")  # retried by the next run
WRITTEN = ("created", "updated")
ERRORS = ("rejected", "failed", "blocked", "parked")
STATUSES = ("success", "warning", "failed")

# Prefixed names: a shared PostgreSQL database may also hold Dagster's own `runs` table and another
# application's `alembic_version`.
VERSION_TABLE = "p2c_alembic_version"
MIGRATIONS = "p2c_assets.engine:migrations"
# any constant works: it only has to be the same in every process that upgrades the schema
_UPGRADE_LOCK = 0x7032635F6C6467


class UtcDateTime(sa.TypeDecorator):
    """Timestamps stored in UTC and read back timezone-aware on every backend.

    SQLite keeps no offset, so without this the same column reads aware on PostgreSQL and naive on
    SQLite.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=timezone.utc)


metadata = sa.MetaData()

runs = sa.Table(
    "p2c_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flow", sa.Text, nullable=False),
    sa.Column("dagster_run_id", sa.Text),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("started_at", UtcDateTime(timezone=True), nullable=False),
    sa.Column("finished_at", UtcDateTime(timezone=True)),
    sa.Column("status", sa.Text, nullable=False),
    *(sa.Column(outcome, sa.Integer, nullable=False, server_default="0") for outcome in RUN_OUTCOMES),
    sa.Column("requests", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_p2c_runs_flow", "flow", "id"),
)

records = sa.Table(
    "p2c_records",
    metadata,
    sa.Column("flow", sa.Text, primary_key=True),
    sa.Column("natural_key", sa.Text, primary_key=True),
    sa.Column("legal_entity", sa.Text),
    sa.Column("content_hash", sa.Text),
    sa.Column("target_id", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("error_code", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("parked", sa.Boolean, nullable=False),
    sa.Column("first_seen", UtcDateTime(timezone=True), nullable=False),
    sa.Column("last_seen", UtcDateTime(timezone=True), nullable=False),
    sa.Column("last_synced", UtcDateTime(timezone=True)),
    sa.Column("last_run", sa.Integer, sa.ForeignKey("p2c_runs.id"), nullable=False),
)

# One row per run and record that did something: unchanged rows are left out, so a no-change run of
# 100,000 records does not add 100,000 rows.
record_events = sa.Table(
    "p2c_record_events",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("p2c_runs.id"), primary_key=True),
    sa.Column("natural_key", sa.Text, primary_key=True),
    sa.Column("legal_entity", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("error_code", sa.Text),
    sa.Column("error_message", sa.Text),
)

cursors = sa.Table(
    "p2c_cursors",
    metadata,
    sa.Column("flow", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
)

# The last extracted rows of each incrementally read source (JSON per row), so that a run which reads
# only what changed still hands the whole source to mapping, header joins and reconciliation.
source_rows = sa.Table(
    "p2c_source_rows",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("row_id", sa.Text, primary_key=True),
    sa.Column("row", sa.Text, nullable=False),
)

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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class RunSummary:
    id: int
    flow: str
    dagster_run_id: str | None
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    status: str  # "running" until finish_run()
    counts: dict[str, int]
    requests: int


@dataclass(frozen=True)
class RecordEvent:
    """One record's outcome in one run (`parked` when that outcome parked it)."""

    run: int
    key: str
    legal_entity: str | None
    outcome: str
    error_code: str | None
    error_message: str | None


class Ledger:
    """Durable per-record sync state for all flows, on SQLite or PostgreSQL."""

    def __init__(self, url: str, max_attempts: int = 5):
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.max_attempts = max_attempts
        parsed = sa.make_url(url)
        if parsed.drivername == "postgresql":  # the default driver would be psycopg2, not installed
            parsed = parsed.set(drivername="postgresql+psycopg")
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(
                f"ledger URL {parsed.render_as_string(hide_password=True)!r}: unsupported database "
                f"{backend!r}; use sqlite:///path or postgresql+psycopg://..."
            )
        self._dialect = sqlite if backend == "sqlite" else postgresql
        if backend == "sqlite":
            self._engine = sa.create_engine(parsed, connect_args={"timeout": 60})
            _serialise_sqlite_writers(self._engine)
        else:
            self._engine = sa.create_engine(parsed, pool_pre_ping=True)

    @classmethod
    def from_env(cls, max_attempts: int = 5) -> "Ledger":
        """`P2C_STATE_URL`, else `$DAGSTER_HOME/p2c_state.db`, else `.p2c/state.db` here."""
        url = os.environ.get("P2C_STATE_URL")
        if not url:
            home = os.environ.get("DAGSTER_HOME")
            path = Path(home) / "p2c_state.db" if home else Path.cwd() / ".p2c" / "state.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
        return cls(url, max_attempts=max_attempts)

    def __repr__(self) -> str:
        return f"Ledger({self._engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self._engine.dispose()

    def upgrade(self) -> None:
        """Bring the schema to the newest revision; a no-op when it is there already.

        Several step processes may call this at once: the migration runs in one write transaction
        (SQLite: BEGIN IMMEDIATE; PostgreSQL: under an advisory lock), so one process migrates and
        the others wait, then find the schema at head.
        """
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        with self._writing() as conn:
            if self._dialect is postgresql:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_UPGRADE_LOCK)))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    # runs

    def start_run(self, flow: str, dagster_run_id: str | None = None, dry_run: bool = False) -> int:
        with self._writing() as conn:
            return conn.execute(
                runs.insert()
                .values(flow=flow, dagster_run_id=dagster_run_id, dry_run=dry_run, started_at=_now(), status="running")
                .returning(runs.c.id)
            ).scalar_one()

    def finish_run(self, run: int, counts: Mapping[str, int], requests: int = 0, status: str = "success") -> None:
        if status not in STATUSES:
            raise ValueError(f"run {run}: status {status!r} is not one of {', '.join(STATUSES)}")
        unknown = sorted(set(counts) - set(RUN_OUTCOMES))
        if unknown:
            raise ValueError(f"run {run}: counts name unknown outcome(s) {unknown}; expected {', '.join(RUN_OUTCOMES)}")
        values = {outcome: int(counts.get(outcome, 0)) for outcome in RUN_OUTCOMES}
        with self._writing() as conn:
            updated = conn.execute(
                runs.update()
                .where(runs.c.id == run)
                .values(**values, requests=requests, status=status, finished_at=_now())
            ).rowcount
        if not updated:
            raise ValueError(f"run {run} does not exist")

    def run(self, run: int) -> RunSummary:
        with self._engine.connect() as conn:
            row = conn.execute(runs.select().where(runs.c.id == run)).one_or_none()
        if row is None:
            raise ValueError(f"run {run} does not exist")
        return _summary(row)

    def history(self, flow: str | None = None, limit: int = 20) -> list[RunSummary]:
        """The latest runs, newest first."""
        query = runs.select().order_by(runs.c.id.desc()).limit(limit)
        if flow is not None:
            query = query.where(runs.c.flow == flow)
        with self._engine.connect() as conn:
            return [_summary(row) for row in conn.execute(query)]

    def run_errors(self, run: int) -> list[RecordEvent]:
        """Every rejected, failed, blocked or parked record of a run (not only the first five)."""
        self.run(run)  # a clear error for a run that does not exist
        query = (
            record_events.select()
            .where(record_events.c.run_id == run, record_events.c.outcome.in_(ERRORS))
            .order_by(record_events.c.natural_key)
        )
        with self._engine.connect() as conn:
            return [
                RecordEvent(row.run_id, row.natural_key, row.legal_entity, row.outcome, row.error_code, row.error_message)
                for row in conn.execute(query)
            ]

    # records

    def states(self, flow: str) -> dict[str, RecordState]:
        query = sa.select(
            records.c.natural_key,
            records.c.legal_entity,
            records.c.content_hash,
            records.c.target_id,
            records.c.outcome,
            records.c.attempts,
            records.c.parked,
        ).where(records.c.flow == flow)
        with self._engine.connect() as conn:
            return {key: RecordState(*rest) for key, *rest in conn.execute(query)}

    def record(self, run: int, flow: str, outcomes: Iterable[RecordOutcome]) -> dict[str, int]:
        """Upsert the outcome of many records in one transaction; returns counts per run outcome.

        Failed and blocked outcomes add an attempt and park the record when attempts reach
        `max_attempts`; any other outcome starts the count again. The target id survives later
        failures; error code and message are those of the latest outcome (so rejected rows keep
        their reasons until they pass).

        Set-based, for 100,000 rows in seconds: the rows are loaded into a temporary table (COPY on
        PostgreSQL), then one INSERT ... SELECT ... ON CONFLICT updates the records and one more
        writes the run's events.
        """
        rows = _checked(flow, outcomes)
        if not rows:
            return {}
        now = sa.bindparam("now", _now(), type_=UtcDateTime(timezone=True))
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
            now,
            now,
            sa.case((new.outcome.in_(WRITTEN), now), else_=None),
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

    # cursors: delta links, watermarks

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
            insert = self._dialect.insert(cursors).values(flow=flow, name=name, value=value, updated_at=_now())
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[cursors.c.flow, cursors.c.name],
                    set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
                )
            )

    # source rows: the snapshot behind incremental extraction

    def load_source(self, source: str) -> list[dict]:
        query = sa.select(source_rows.c.row).where(source_rows.c.source == source).order_by(source_rows.c.row_id)
        with self._engine.connect() as conn:
            return [json.loads(row) for row in conn.scalars(query)]

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

    # internals

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction; on SQLite it takes the write lock up front (see below)."""
        with self._engine.execution_options(p2c_write=True).begin() as conn:
            yield conn

    def _stage(self, conn: sa.Connection, rows: list[RecordOutcome]) -> None:
        """Load rows into the transaction's temporary staging table, the fastest way each backend has."""
        _staged.create(conn)
        values = [
            (row.key, row.legal_entity, row.content_hash, row.target_id, row.outcome, row.error_code, row.error_message)
            for row in rows
        ]
        if self._dialect is postgresql:  # COPY is some twenty times faster than INSERT here
            with conn.connection.driver_connection.cursor() as cursor:
                with cursor.copy(f"COPY {_staged.name} FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
            conn.exec_driver_sql(f"ANALYZE {_staged.name}")  # temporary tables get no statistics otherwise
        else:
            conn.exec_driver_sql(f"INSERT INTO {_staged.name} VALUES ({', '.join('?' * len(_staged.c))})", values)

    @staticmethod
    def _check_run(conn: sa.Connection, run: int, flow: str) -> None:
        row = conn.execute(sa.select(runs.c.flow, runs.c.dry_run).where(runs.c.id == run)).one_or_none()
        if row is None:
            raise ValueError(f"run {run} does not exist")
        if row.flow != flow:
            raise ValueError(f"run {run} belongs to flow {row.flow!r}, not {flow!r}")
        if row.dry_run:
            raise ValueError(f"run {run} of flow {flow!r} is a dry run: it must not change the ledger")


def _serialise_sqlite_writers(engine: sa.Engine) -> None:
    """Make SQLite safe for several processes writing at once.

    WAL lets readers go on while one process writes. A write transaction that started as a plain
    (deferred) BEGIN and later tries to write can fail at once with "database is locked", whatever
    the busy timeout; BEGIN IMMEDIATE takes the write lock first and so waits its turn instead.
    pysqlite's own transaction handling is switched off so that BEGIN is ours.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        _use_wal(dbapi_connection)
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("p2c_write") else "BEGIN")


def _use_wal(dbapi_connection, patience_s: float = 60) -> None:
    """Switch a new database file to WAL, waiting for other processes doing the same.

    The switch needs an exclusive lock and SQLite answers "database is locked" at once instead of
    waiting its busy timeout, so processes opening a fresh file together must retry. Once one of
    them has switched, the mode is stored in the file and the others find it there.
    """
    deadline = time.monotonic() + patience_s
    while dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _checked(flow: str, outcomes: Iterable[RecordOutcome]) -> list[RecordOutcome]:
    rows = list(outcomes)
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if not isinstance(row.key, str) or not row.key:
            raise ValueError(f"flow {flow!r} record #{index}: field 'key' must be a non-empty string, got {row.key!r}")
        if row.outcome not in OUTCOMES:
            raise ValueError(
                f"flow {flow!r} record {row.key!r}: field 'outcome' is {row.outcome!r}, "
                f"expected one of {', '.join(OUTCOMES)}"
            )
        if row.key in seen:
            raise ValueError(f"flow {flow!r} record {row.key!r}: given twice in one record() call")
        seen.add(row.key)
    return rows


def _summary(row: sa.Row) -> RunSummary:
    return RunSummary(
        id=row.id,
        flow=row.flow,
        dagster_run_id=row.dagster_run_id,
        dry_run=row.dry_run,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=row.status,
        counts={outcome: row._mapping[outcome] for outcome in RUN_OUTCOMES},
        requests=row.requests,
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)
