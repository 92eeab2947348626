"""The connection to the ledger's database: which one, how it is written safely, how it is migrated.

Why a module of its own: every concern of the ledger (runs, records, cursors, locks) needs the same
engine and the same kind of write transaction, and those must be right on both backends for several
processes at once. SQLite is the default (one file beside the Dagster home, WAL so several step
processes can write at once); PostgreSQL serves shared deployments (`P2C_STATE_URL`). The schema is
owned by the Alembic revisions in `migrations/`, applied by `upgrade()`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite

MIGRATIONS = "p2c_assets.engine.ledger:migrations"
# any constant works: it only has to be the same in every process that upgrades the schema
_UPGRADE_LOCK = 0x7032635F6C6467


class Database:
    """The engine of one ledger database; the base of every ledger concern (see `Ledger`)."""

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
    def from_env(cls, max_attempts: int = 5) -> Self:
        """`P2C_STATE_URL`, else `$DAGSTER_HOME/p2c_state.db`, else `.p2c/state.db` here."""
        url = os.environ.get("P2C_STATE_URL")
        if not url:
            home = os.environ.get("DAGSTER_HOME")
            path = Path(home) / "p2c_state.db" if home else Path.cwd() / ".p2c" / "state.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
        return cls(url, max_attempts=max_attempts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._engine.url.render_as_string(hide_password=True)!r})"

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

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction; on SQLite it takes the write lock up front (see below)."""
        with self._engine.execution_options(p2c_write=True).begin() as conn:
            yield conn


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
