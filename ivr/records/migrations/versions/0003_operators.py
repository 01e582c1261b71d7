"""call_outcomes and queue_events (the operator console and the supervisor's figures)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("operator", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("caller_name", sa.String(255), nullable=False),
        sa.Column("callback", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("escalation", sa.Text(), nullable=True),
        sa.Column("saved_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_outcomes"),
        sa.UniqueConstraint("linkedid", name="uq_call_outcomes_linkedid"),
    )
    op.create_table(
        "queue_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(255), nullable=True),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("operator", sa.String(255), nullable=True),
        sa.Column("caller_number", sa.String(255), nullable=True),
        sa.Column("wait", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queue_events"),
        sa.UniqueConstraint("dedupe_key", name="uq_queue_events_dedupe_key"),
    )
    op.create_index("ix_queue_events_at", "queue_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_queue_events_at", table_name="queue_events")
    op.drop_table("queue_events")
    op.drop_table("call_outcomes")
