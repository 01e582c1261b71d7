"""billing: payments confirmed, statements and their lines (frozen), verification draws and
calls, contests, the append-only audit log; the salt of hashed numbers; whose contact lists

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _money() -> sa.Numeric:
    return sa.Numeric(precision=12, scale=2)


def upgrade() -> None:
    op.add_column("campaign_lists", sa.Column("client_id", sa.String(length=255), nullable=True))
    op.create_table(
        "number_salt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_salt")),
    )
    salt = sa.table("number_salt", sa.column("id", sa.Integer), sa.column("salt", sa.String))
    op.bulk_insert(salt, [{"id": 1, "salt": secrets.token_hex(32)}])
    op.create_table(
        "billing_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=255), nullable=False),
        sa.Column("confirmed_at", _time(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_payments")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_billing_payments_attempt_id")),
    )
    op.create_index(
        "ix_billing_payments_client", "billing_payments", ["client_id", "paid_on"], unique=False
    )
    op.create_table(
        "billing_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("issued_at", _time(), nullable=False),
        sa.Column("issued_by", sa.String(length=255), nullable=False),
        sa.Column("total", _money(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_statements")),
        sa.UniqueConstraint("client_id", "month", name=op.f("uq_billing_statements_client_id")),
    )
    op.create_table(
        "billing_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("of_month", sa.String(length=7), nullable=False),
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("result_key", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("recovered", _money(), nullable=True),
        sa.Column("price", _money(), nullable=False),
        sa.Column("band", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["billing_statements.id"],
            name=op.f("fk_billing_lines_statement_id_billing_statements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_lines")),
    )
    op.create_index(
        op.f("ix_billing_lines_statement_id"), "billing_lines", ["statement_id"], unique=False
    )
    op.create_index(
        "ix_billing_lines_result",
        "billing_lines",
        ["client_id", "of_month", "result_key"],
        unique=False,
    )
    op.create_table(
        "verification_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("minimum", sa.Integer(), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("drawn", sa.JSON(), nullable=False),
        sa.Column("drawn_at", _time(), nullable=False),
        sa.Column("drawn_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_draws")),
        sa.UniqueConstraint("client_id", "month", name=op.f("uq_verification_draws_client_id")),
    )
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=True),
        sa.Column("sampled", sa.Boolean(), nullable=False),
        sa.Column("contested", sa.Boolean(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("not_operator", sa.String(length=255), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("happened", sa.Boolean(), nullable=True),
        sa.Column("visited_at", _time(), nullable=True),
        sa.Column("spoke_with", sa.Text(), nullable=True),
        sa.Column("visit_outcome", sa.String(length=32), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("verified_by", sa.String(length=255), nullable=True),
        sa.Column("verified_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_verifications_appointment_id")),
    )
    op.create_index(
        "ix_verifications_client", "verifications", ["client_id", "created_at"], unique=False
    )
    op.create_table(
        "billing_contests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("result_key", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("of_month", sa.String(length=7), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("filed_by", sa.String(length=255), nullable=False),
        sa.Column("filed_at", _time(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("verdict_at", _time(), nullable=True),
        sa.Column("questioned_by", sa.Integer(), nullable=True),
        sa.Column("questioned_at", _time(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", _time(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_contests")),
        sa.UniqueConstraint("client_id", "result_key", name=op.f("uq_billing_contests_client_id")),
    )
    op.create_table(
        "billing_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("who", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("erased_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_audit")),
    )
    op.create_index("ix_billing_audit_client", "billing_audit", ["client_id", "at"], unique=False)
    _frozen_triggers(op.get_bind().dialect.name)


# -- frozen rows ---------------------------------------------------------------------------
#
# The audit log, issued statements and their lines are never deleted, and never changed but
# for an erasure of personal data: the audit's before/after emptied once (erased_at set), a
# line's label or a statement's shown data blanked. The database refuses anything else, so
# no code path (nor a hand-typed UPDATE) can rewrite what was billed or what was logged.

_KEEP = {
    "billing_audit": ("id", "at", "client_id", "who", "subject", "action"),
    "billing_statements": ("id", "client_id", "month", "issued_at", "issued_by", "total"),
    "billing_lines": (
        "id", "statement_id", "client_id", "of_month", "campaign_id", "result_key", "kind",
        "recovered", "price", "band",
    ),
}  # fmt: skip


def _changed(table: str, differ: str) -> str:
    parts = [f"NEW.{c} {differ} OLD.{c}" for c in _KEEP[table]]
    if table == "billing_audit":  # erased once: before and after emptied, never again
        parts += ["OLD.erased_at IS NOT NULL", "NEW.erased_at IS NULL"]
    return " OR ".join(parts)


def _frozen_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION billing_frozen() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            "RAISE EXCEPTION '% rows are kept as written (append-only)', TG_TABLE_NAME;\n"
            "END $$"
        )
        for table in _KEEP:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION billing_frozen()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} FOR EACH ROW "
                f"WHEN ({_changed(table, 'IS DISTINCT FROM')}) EXECUTE FUNCTION billing_frozen()"
            )
        return
    for table in _KEEP:
        message = f"{table} rows are kept as written (append-only)"
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"WHEN {_changed(table, 'IS NOT')} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in _KEEP:
        suffix = f" ON {table}" if dialect == "postgresql" else ""
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete{suffix}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update{suffix}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS billing_frozen()")
    op.drop_index("ix_billing_audit_client", table_name="billing_audit")
    op.drop_table("billing_audit")
    op.drop_table("billing_contests")
    op.drop_index("ix_verifications_client", table_name="verifications")
    op.drop_table("verifications")
    op.drop_table("verification_draws")
    op.drop_index("ix_billing_lines_result", table_name="billing_lines")
    op.drop_index(op.f("ix_billing_lines_statement_id"), table_name="billing_lines")
    op.drop_table("billing_lines")
    op.drop_table("billing_statements")
    op.drop_index("ix_billing_payments_client", table_name="billing_payments")
    op.drop_table("billing_payments")
    op.drop_table("number_salt")
    with op.batch_alter_table("campaign_lists") as batch:
        batch.drop_column("client_id")
