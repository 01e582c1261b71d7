"""client_webhooks and webhook_deliveries: each client's own system that its messages are
posted to, and every delivery tried with the receiver's answer; on_call_periods: who is on
call over some days, as the client's admin says in the area

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_webhooks",
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(255), nullable=False),
        sa.Column("set_by", sa.String(255), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_client_webhooks"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_client_at", "webhook_deliveries", ["client_id", "at"]
    )
    op.create_table(
        "on_call_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("person_id", sa.String(255), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(255), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_on_call_periods"),
    )
    op.create_index(
        "ix_on_call_periods_client_ends", "on_call_periods", ["client_id", "ends_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_on_call_periods_client_ends", table_name="on_call_periods")
    op.drop_table("on_call_periods")
    op.drop_index("ix_webhook_deliveries_client_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("client_webhooks")
