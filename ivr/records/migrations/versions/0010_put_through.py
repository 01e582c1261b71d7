"""put_throughs and person_presence: putting callers through to the client's people

Revision ID: 0010
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def UTCDateTime() -> sa.DateTime:  # noqa: N802  (timezone-aware, as every time column)
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "put_throughs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("operator", sa.String(255), nullable=True),
        sa.Column("person_id", sa.String(255), nullable=False),
        sa.Column("person_name", sa.String(255), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("number", sa.String(64), nullable=True),
        sa.Column("tried", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("held_seconds", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_put_throughs"),
        sa.UniqueConstraint("dedupe_key", name="uq_put_throughs_dedupe_key"),
    )
    op.create_index("ix_put_throughs_linkedid", "put_throughs", ["linkedid"])
    op.create_table(
        "person_presence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("person_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(255), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_person_presence"),
        sa.UniqueConstraint("client_id", "person_id", name="uq_person_presence_client_id"),
    )


def downgrade() -> None:
    op.drop_table("person_presence")
    op.drop_index("ix_put_throughs_linkedid", table_name="put_throughs")
    op.drop_table("put_throughs")
