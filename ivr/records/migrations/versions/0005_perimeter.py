"""escalation_runs: the calling number and why a ladder was refused (rate limits)

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("escalation_runs") as batch:
        batch.add_column(sa.Column("caller_number", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.create_index("ix_escalation_runs_started_at", ["started_at"])


def downgrade() -> None:
    with op.batch_alter_table("escalation_runs") as batch:
        batch.drop_index("ix_escalation_runs_started_at")
        batch.drop_column("reason")
        batch.drop_column("caller_number")
