"""escalation_runs and escalation_attempts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "escalation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("client_name", sa.String(255), nullable=True),
        sa.Column("ladder", sa.String(255), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("message_path", sa.Text(), nullable=True),
        sa.Column("caller_name", sa.String(255), nullable=True),
        sa.Column("callback", sa.String(64), nullable=True),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ended_at", _time(), nullable=True),
        sa.Column("acknowledged_at", _time(), nullable=True),
        sa.Column("acknowledged_by", sa.String(255), nullable=True),
        sa.Column("mailed_at", _time(), nullable=True),
        sa.Column("mail_result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_escalation_runs"),
        sa.UniqueConstraint("key", name="uq_escalation_runs_key"),
    )
    op.create_index("ix_escalation_runs_linkedid", "escalation_runs", ["linkedid"])
    op.create_index("ix_escalation_runs_status", "escalation_runs", ["status"])
    op.create_table(
        "escalation_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("contact", sa.Integer(), nullable=False),
        sa.Column("try", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(255), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("placed_at", _time(), nullable=False),
        sa.Column("answered_at", _time(), nullable=True),
        sa.Column("ended_at", _time(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["escalation_runs.id"],
            name="fk_escalation_attempts_run_id_escalation_runs",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_escalation_attempts"),
        sa.UniqueConstraint(
            "run_id", "round", "contact", "try", name="uq_escalation_attempts_run_id"
        ),
    )
    op.create_index("ix_escalation_attempts_run_id", "escalation_attempts", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_escalation_attempts_run_id", table_name="escalation_attempts")
    op.drop_table("escalation_attempts")
    op.drop_index("ix_escalation_runs_status", table_name="escalation_runs")
    op.drop_index("ix_escalation_runs_linkedid", table_name="escalation_runs")
    op.drop_table("escalation_runs")
