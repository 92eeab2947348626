"""Runs keep how many source rows they read and how many the template's filter or routing dropped,
so `p2c history` adds up: extracted = filtered out + every outcome.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("p2c_runs", sa.Column("extracted", sa.Integer, nullable=False, server_default="0"))
    op.add_column("p2c_runs", sa.Column("filtered_out", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("p2c_runs") as batch:
        batch.drop_column("filtered_out")
        batch.drop_column("extracted")
