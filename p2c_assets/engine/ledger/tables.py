"""The ledger's tables and the outcome vocabulary their columns are made of.

Why one module: Alembic's autogenerate and `migrations/env.py` compare the database with this
`metadata`, and every other ledger module builds its queries on these `Table` objects, so the schema
is written down once. A change here needs a new revision in `migrations/versions/`.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

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


def now() -> datetime:
    """The ledger's clock: aware UTC, so times compare the same on SQLite and PostgreSQL."""
    return datetime.now(timezone.utc)


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
    sa.Column("extracted", sa.Integer, nullable=False, server_default="0"),  # source rows read
    sa.Column("filtered_out", sa.Integer, nullable=False, server_default="0"),  # dropped by filter/routing
    # where the run's process lives and when it last said so: a run still "running" whose process is
    # gone died (killed, crashed, machine lost), and holds its flow no longer
    sa.Column("host", sa.Text),
    sa.Column("pid", sa.Integer),
    sa.Column("heartbeat_at", UtcDateTime(timezone=True)),
    sa.Column("error", sa.Text),  # why a run that raised ended as failed
    sa.Index("ix_p2c_runs_flow", "flow", "id"),
)

# One row per flow naming the run that took it last. That run holds the flow while it is running and
# its process is alive; it is written only in a transaction serialised per flow (see locks.py).
flow_locks = sa.Table(
    "p2c_flow_locks",
    metadata,
    sa.Column("flow", sa.Text, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("p2c_runs.id"), nullable=False),
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
