"""calls and call_events

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    # ivr.records.models.UTCDateTime stores through this type; migrations stay self-contained.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(255), nullable=True),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("client_name", sa.String(255), nullable=True),
        sa.Column("called", sa.Text(), nullable=True),
        sa.Column("caller_number", sa.Text(), nullable=True),
        sa.Column("caller_name", sa.Text(), nullable=True),
        sa.Column("arrived_at", _time(), nullable=True),
        sa.Column("answered_at", _time(), nullable=True),
        sa.Column("ended_at", _time(), nullable=True),
        sa.Column("operator", sa.String(255), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("message_path", sa.Text(), nullable=True),
        sa.Column("message_at", _time(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("failed_at", _time(), nullable=True),
        sa.Column("route", sa.String(32), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        sa.UniqueConstraint("linkedid", name="uq_calls_linkedid"),
    )
    op.create_index("ix_calls_arrived_at", "calls", ["arrived_at"])
    op.create_index("ix_calls_client_caller", "calls", ["client_id", "caller_number", "arrived_at"])
    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_events"),
        sa.UniqueConstraint("dedupe_key", name="uq_call_events_dedupe_key"),
    )
    op.create_index("ix_call_events_linkedid", "call_events", ["linkedid"])


def downgrade() -> None:
    op.drop_index("ix_call_events_linkedid", table_name="call_events")
    op.drop_table("call_events")
    op.drop_index("ix_calls_client_caller", table_name="calls")
    op.drop_index("ix_calls_arrived_at", table_name="calls")
    op.drop_table("calls")
