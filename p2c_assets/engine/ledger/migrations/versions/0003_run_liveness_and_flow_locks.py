"""Runs say where their process lives (host, pid, heartbeat) and why they failed; one lock row per flow.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

def upgrade() -> None:
    # plain ADD COLUMN, which SQLite supports: no table rebuild for a ledger of millions of events
    op.add_column("p2c_runs", sa.Column("host", sa.Text))
    op.add_column("p2c_runs", sa.Column("pid", sa.Integer))
    op.add_column("p2c_runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True)))
    op.add_column("p2c_runs", sa.Column("error", sa.Text))
    op.create_table(
        "p2c_flow_locks",
        sa.Column("flow", sa.Text, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("p2c_runs.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("p2c_flow_locks")
    with op.batch_alter_table("p2c_runs") as batch:  # SQLite drops columns by rebuilding the table
        for column in ("error", "heartbeat_at", "pid", "host"):
            batch.drop_column(column)
