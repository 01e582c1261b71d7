"""outbound campaigns: campaign state, contact lists, contacts, attempts, refusals,
do-not-call numbers, appointments, dialer engines

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign_appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("salesperson", sa.String(length=255), nullable=False),
        sa.Column("starts_at", _time(), nullable=False),
        sa.Column("ends_at", _time(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("booked_by", sa.String(length=255), nullable=False),
        sa.Column("booked_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_appointments")),
        sa.UniqueConstraint(
            "client_id", "salesperson", "starts_at", name=op.f("uq_campaign_appointments_client_id")
        ),
    )
    op.create_table(
        "campaign_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("imported_at", _time(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("merged", sa.Integer(), nullable=False),
        sa.Column("bad", sa.Integer(), nullable=False),
        sa.Column("register_checked_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_lists")),
    )
    op.create_index(
        op.f("ix_campaign_lists_campaign_id"), "campaign_lists", ["campaign_id"], unique=False
    )
    op.create_table(
        "campaign_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_refusals")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_campaign_refusals_dedupe_key")),
    )
    op.create_index(
        op.f("ix_campaign_refusals_campaign_id"), "campaign_refusals", ["campaign_id"], unique=False
    )
    op.create_table(
        "campaign_state",
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=True),
        sa.Column("changed_at", _time(), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_state")),
    )
    op.create_table(
        "dialer_engines",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("seen_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialer_engines")),
    )
    op.create_table(
        "do_not_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("added_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_do_not_call")),
        sa.UniqueConstraint("scope", "number", name=op.f("uq_do_not_call_scope")),
    )
    op.create_index("ix_do_not_call_number", "do_not_call", ["number"], unique=False)
    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("debtor", sa.String(length=255), nullable=True),
        sa.Column("amount_due", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("invoice", sa.String(length=255), nullable=True),
        sa.Column("company", sa.String(length=255), nullable=True),
        sa.Column("contact_person", sa.String(length=255), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", _time(), nullable=False),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("refusal", sa.String(length=32), nullable=True),
        sa.Column("in_register", sa.Boolean(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["campaign_lists.id"],
            name=op.f("fk_campaign_contacts_list_id_campaign_lists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_contacts")),
        sa.UniqueConstraint("campaign_id", "number", name=op.f("uq_campaign_contacts_campaign_id")),
    )
    op.create_index(
        "ix_campaign_contacts_due",
        "campaign_contacts",
        ["campaign_id", "status", "next_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_campaign_contacts_list_id"), "campaign_contacts", ["list_id"], unique=False
    )
    op.create_table(
        "campaign_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("operator", sa.String(length=255), nullable=True),
        sa.Column("placed_at", _time(), nullable=False),
        sa.Column("answered_at", _time(), nullable=True),
        sa.Column("amd", sa.String(length=32), nullable=True),
        sa.Column("connected_at", _time(), nullable=True),
        sa.Column("dropped_at", _time(), nullable=True),
        sa.Column("ended_at", _time(), nullable=True),
        sa.Column("system_outcome", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("recording_path", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("outcome_by", sa.String(length=255), nullable=True),
        sa.Column("outcome_at", _time(), nullable=True),
        sa.Column("promise_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("promise_date", sa.Date(), nullable=True),
        sa.Column("callback_at", _time(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["campaign_contacts.id"],
            name=op.f("fk_campaign_attempts_contact_id_campaign_contacts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_attempts")),
        sa.UniqueConstraint("contact_id", "seq", name=op.f("uq_campaign_attempts_contact_id")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_campaign_attempts_linkedid")),
    )
    op.create_index(
        op.f("ix_campaign_attempts_contact_id"), "campaign_attempts", ["contact_id"], unique=False
    )
    op.create_index("ix_campaign_attempts_open", "campaign_attempts", ["ended_at"], unique=False)
    op.create_index(
        "ix_campaign_attempts_placed",
        "campaign_attempts",
        ["campaign_id", "placed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_attempts_placed", table_name="campaign_attempts")
    op.drop_index("ix_campaign_attempts_open", table_name="campaign_attempts")
    op.drop_index(op.f("ix_campaign_attempts_contact_id"), table_name="campaign_attempts")
    op.drop_table("campaign_attempts")
    op.drop_index(op.f("ix_campaign_contacts_list_id"), table_name="campaign_contacts")
    op.drop_index("ix_campaign_contacts_due", table_name="campaign_contacts")
    op.drop_table("campaign_contacts")
    op.drop_index("ix_do_not_call_number", table_name="do_not_call")
    op.drop_table("do_not_call")
    op.drop_table("dialer_engines")
    op.drop_table("campaign_state")
    op.drop_index(op.f("ix_campaign_refusals_campaign_id"), table_name="campaign_refusals")
    op.drop_table("campaign_refusals")
    op.drop_index(op.f("ix_campaign_lists_campaign_id"), table_name="campaign_lists")
    op.drop_table("campaign_lists")
    op.drop_table("campaign_appointments")
