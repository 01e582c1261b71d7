"""web sessions and login failures (console and client area), the client area's users,
message states and notices, client versions and audit log, and the area's list index

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _t() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("realm", sa.String(16), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("created_at", _t(), nullable=False),
        sa.Column("seen_at", _t(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_realm_user", "web_sessions", ["realm", "user"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm", sa.String(16), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", _t(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_user", "login_failures", ["realm", "user", "at"])
    op.create_index("ix_login_failures_address", "login_failures", ["realm", "address", "at"])
    op.create_table(
        "area_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("totp_on", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("notify", sa.String(16), nullable=False),
        sa.Column("digest_at", sa.String(5), nullable=False),
        sa.Column("digest_sent_at", _t(), nullable=True),
        sa.Column("created_at", _t(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_area_users"),
        sa.UniqueConstraint("email", name="uq_area_users_email"),
    )
    op.create_index("ix_area_users_client_id", "area_users", ["client_id"])
    op.create_table(
        "area_reset_tokens",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _t(), nullable=False),
        sa.Column("expires_at", _t(), nullable=False),
        sa.Column("used_at", _t(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_area_reset_tokens"),
    )
    op.create_index("ix_area_reset_tokens_user_id", "area_reset_tokens", ["user_id"])
    op.create_table(
        "area_message_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("read_at", _t(), nullable=True),
        sa.Column("read_by", sa.String(255), nullable=True),
        sa.Column("handled_at", _t(), nullable=True),
        sa.Column("handled_by", sa.String(255), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_area_message_state"),
        sa.UniqueConstraint("linkedid", name="uq_area_message_state_linkedid"),
    )
    op.create_table(
        "area_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("at", _t(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_area_notices"),
        sa.UniqueConstraint("user_id", "linkedid", name="uq_area_notices_user_linkedid"),
    )
    op.create_index("ix_area_notices_at", "area_notices", ["at"])
    op.create_table(
        "client_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("at", _t(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_client_versions"),
        sa.UniqueConstraint("client_id", "kind", "key", "version", name="uq_client_versions_v"),
    )
    op.create_table(
        "client_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("at", _t(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_client_audit"),
    )
    op.create_index("ix_client_audit_client_at", "client_audit", ["client_id", "at"])
    op.create_index("ix_calls_client_arrived", "calls", ["client_id", "arrived_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_calls_client_arrived", table_name="calls")
    op.drop_index("ix_client_audit_client_at", table_name="client_audit")
    op.drop_table("client_audit")
    op.drop_table("client_versions")
    op.drop_index("ix_area_notices_at", table_name="area_notices")
    op.drop_table("area_notices")
    op.drop_table("area_message_state")
    op.drop_index("ix_area_reset_tokens_user_id", table_name="area_reset_tokens")
    op.drop_table("area_reset_tokens")
    op.drop_index("ix_area_users_client_id", table_name="area_users")
    op.drop_table("area_users")
    op.drop_index("ix_login_failures_address", table_name="login_failures")
    op.drop_index("ix_login_failures_user", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_web_sessions_realm_user", table_name="web_sessions")
    op.drop_table("web_sessions")
