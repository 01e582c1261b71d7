"""calls completed from Asterisk's own account (rebuilt, end_inferred) and its cursor

Revision ID: 0004
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(
            sa.Column("rebuilt", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("end_inferred", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_calls_ended_at", "calls", ["ended_at"])
    op.create_table(
        "account_cursors",
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_account_cursors"),
    )


def downgrade() -> None:
    op.drop_table("account_cursors")
    op.drop_index("ix_calls_ended_at", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("end_inferred")
        batch.drop_column("rebuilt")
