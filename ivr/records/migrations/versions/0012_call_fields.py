"""call_fields: the answers a client's script collected on a call, one row per field; the
area's search reads them too (area_calls.body gets the answers, one per line)

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("shown", sa.Text(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_fields"),
        sa.UniqueConstraint("linkedid", "field", name="uq_call_fields_linkedid"),
    )
    op.create_index("ix_call_fields_client_id", "call_fields", ["client_id"])
    _area_triggers(with_fields=True)


def downgrade() -> None:
    _area_triggers(with_fields=False)
    op.drop_index("ix_call_fields_client_id", table_name="call_fields")
    op.drop_table("call_fields")


# -- area_calls.body: the searchable words of a call, now with its answers -----------------
# The row revision 0006 keeps by triggers, with one more part: the answers as people read
# them (a choice's label), one per line. The triggers are those of 0006, rewritten with it.

_NL = {"sqlite": "char(10)", "postgresql": "chr(10)"}
_FIELDS = {
    "sqlite": "(SELECT group_concat(f.shown, char(10)) FROM call_fields f"
    " WHERE f.linkedid = c.linkedid)",
    "postgresql": "(SELECT string_agg(f.shown, chr(10) ORDER BY f.position) FROM call_fields f"
    " WHERE f.linkedid = c.linkedid)",
}
_AREA_ROW = """
SELECT c.id, c.client_id, c.arrived_at,
       coalesce(c.caller_name, '') || {nl} || coalesce(c.caller_number, '') || {nl}
       || coalesce(o.caller_name, '') || {nl} || coalesce(o.callback, '') || {nl}
       || coalesce(o.message, ''){fields},
       (o.id IS NOT NULL OR c.message_path IS NOT NULL) AND s.read_at IS NULL
       AND c.arrived_at IS NOT NULL,
       coalesce(o.urgent, false)
       OR EXISTS (SELECT 1 FROM escalation_runs r WHERE r.linkedid = c.linkedid)
FROM calls c
LEFT JOIN call_outcomes o ON o.linkedid = c.linkedid
LEFT JOIN area_message_state s ON s.linkedid = c.linkedid AND s.client_id = c.client_id
WHERE {where}
"""
_UPSERT = """
INSERT INTO area_calls (call_id, client_id, arrived_at, body, unread, urgent)
{row}
ON CONFLICT (call_id) DO UPDATE SET client_id = excluded.client_id,
    arrived_at = excluded.arrived_at, body = excluded.body, unread = excluded.unread,
    urgent = excluded.urgent
WHERE area_calls.client_id IS DISTINCT FROM excluded.client_id
   OR area_calls.arrived_at IS DISTINCT FROM excluded.arrived_at
   OR area_calls.body IS DISTINCT FROM excluded.body
   OR area_calls.unread IS DISTINCT FROM excluded.unread
   OR area_calls.urgent IS DISTINCT FROM excluded.urgent
"""
_SOURCES = (
    ("calls", "INSERT", "new"),
    ("calls", "UPDATE OF client_id, arrived_at, caller_name, caller_number, message_path", "new"),
    ("call_outcomes", "INSERT", "new"),
    ("call_outcomes", "UPDATE OF linkedid, caller_name, callback, message, urgent", "new"),
    ("call_outcomes", "DELETE", "old"),
    ("area_message_state", "INSERT", "new"),
    ("area_message_state", "UPDATE OF linkedid, client_id, read_at", "new"),
    ("area_message_state", "DELETE", "old"),
    ("escalation_runs", "INSERT", "new"),
)
_FIELD_SOURCES = (("call_fields", "INSERT", "new"), ("call_fields", "DELETE", "old"))


def _row(dialect: str, with_fields: bool, where: str) -> str:
    nl = _NL[dialect]
    # No answers: no line at all (a NULL joined to a line break stays NULL).
    fields = f" || coalesce({nl} || {_FIELDS[dialect]}, '')" if with_fields else ""
    return _AREA_ROW.format(nl=nl, fields=fields, where=where)


def _area_triggers(with_fields: bool) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        row = _row(dialect, with_fields, "c.linkedid = lid")
        op.execute(
            "CREATE OR REPLACE FUNCTION area_calls_refresh(lid text) RETURNS void"
            " LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            "PERFORM 1 FROM calls WHERE linkedid = lid FOR UPDATE;\n"
            f"{_UPSERT.format(row=row)};\n"
            "END $$"
        )
        op.execute("DROP TRIGGER IF EXISTS area_calls_sync ON call_fields")
        if with_fields:
            op.execute(
                "CREATE TRIGGER area_calls_sync AFTER INSERT OR DELETE ON call_fields "
                "FOR EACH ROW EXECUTE FUNCTION area_calls_sync()"
            )
    else:
        sources = (*_SOURCES, *_FIELD_SOURCES)
        for table, event, _ in sources:
            op.execute(f"DROP TRIGGER IF EXISTS area_calls_{table}_{event.split()[0].lower()}")
        for table, event, which in (*_SOURCES, *(_FIELD_SOURCES if with_fields else ())):
            name = f"area_calls_{table}_{event.split()[0].lower()}"
            row = _row(dialect, with_fields, f"c.linkedid = {which}.linkedid")
            upsert = _UPSERT.format(row=row).replace("IS DISTINCT FROM", "IS NOT")
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {upsert}; END")
