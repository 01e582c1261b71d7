"""node heartbeats (the last moment each node of a cluster was known alive) and the
overrides and recorded messages shared by every engine

Revision ID: 0014_node_heartbeats
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_node_heartbeats"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def UTCDateTime() -> sa.DateTime:  # noqa: N802  (timezone-aware, as every time column)
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "node_heartbeats",
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("engine", sa.String(length=128), nullable=False),
        sa.Column("alive_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.Column("closed_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_node_heartbeats")),
    )


    op.create_table(
        "overrides",
        sa.Column("client", sa.String(length=255), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("client", name=op.f("pk_overrides")),
    )


    op.create_table(
        "recordings",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_recordings")),
    )


def downgrade() -> None:
    op.drop_table("recordings")
    op.drop_table("overrides")
    op.drop_table("node_heartbeats")
