"""Create the ledger: runs, records, record events, cursors.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OUTCOMES = ("created", "updated", "unchanged", "rejected", "failed", "blocked", "parked")


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "p2c_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("flow", sa.Text, nullable=False),
        sa.Column("dagster_run_id", sa.Text),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at", nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        *(sa.Column(outcome, sa.Integer, nullable=False, server_default="0") for outcome in OUTCOMES),
        sa.Column("requests", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_p2c_runs_flow", "p2c_runs", ["flow", "id"])
    op.create_table(
        "p2c_records",
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
        _timestamp("first_seen"),
        _timestamp("last_seen"),
        _timestamp("last_synced", nullable=True),
        sa.Column("last_run", sa.Integer, sa.ForeignKey("p2c_runs.id"), nullable=False),
    )
    op.create_table(
        "p2c_record_events",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("p2c_runs.id"), primary_key=True),
        sa.Column("natural_key", sa.Text, primary_key=True),
        sa.Column("legal_entity", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("error_code", sa.Text),
        sa.Column("error_message", sa.Text),
    )
    op.create_table(
        "p2c_cursors",
        sa.Column("flow", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        _timestamp("updated_at"),
    )


def downgrade() -> None:
    for table in ("p2c_cursors", "p2c_record_events", "p2c_records", "p2c_runs"):
        op.drop_table(table)
