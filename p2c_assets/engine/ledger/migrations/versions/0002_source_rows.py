"""Keep the last extracted rows of incrementally read sources.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "p2c_source_rows",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("row_id", sa.Text, primary_key=True),
        sa.Column("row", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("p2c_source_rows")
