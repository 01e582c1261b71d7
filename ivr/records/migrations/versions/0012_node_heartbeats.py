"""node heartbeats: the last moment each node of a cluster was known alive

Revision ID: 0012_node_heartbeats
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_node_heartbeats"
down_revision: str | None = "0010"
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
        sa.Column("closed_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_node_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("node_heartbeats")
