"""web sessions and login failures (console and client area), the client area's users,
message states and notices, client versions and audit log, the area's list index, the
area's search and unread table kept by triggers (with SQLite FTS5 / PostgreSQL pg_trgm), and
the outbox

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
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
        sa.Column("totp_step", sa.BigInteger(), nullable=True),
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
        sa.Column("sent_at", _t(), nullable=True),
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
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", _t(), nullable=False),
        sa.Column("due_at", _t(), nullable=False),
        sa.Column("taken_by", sa.String(128), nullable=True),
        sa.Column("taken_until", _t(), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("done_at", _t(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("topic", "key", name="uq_outbox_topic_key"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["topic", "due_at"],
        sqlite_where=sa.text("done_at IS NULL"),
        postgresql_where=sa.text("done_at IS NULL"),
    )
    op.create_table(
        "area_calls",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("arrived_at", _t(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("unread", sa.Boolean(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_area_calls"),
    )
    op.create_index(
        "ix_area_calls_unread", "area_calls", ["client_id", "unread", "arrived_at"]
    )
    op.create_index(
        "ix_area_calls_urgent", "area_calls", ["client_id", "urgent", "arrived_at", "call_id"]
    )
    dialect = op.get_bind().dialect.name
    # The calls stored before this revision, in one statement; the indexes after them.
    op.execute(
        "INSERT INTO area_calls (call_id, client_id, arrived_at, body, unread, urgent) "
        + _AREA_ROW.format(nl=_NL[dialect], where="true")
    )
    if dialect == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


# -- area_calls: what the area searches and counts, kept by the database -------------------
#
# One row per call, written by triggers in the same transaction as the call, its outcome or
# its read state: every writer (the AMI events, an AGI script, the console, an erasure) keeps
# it up to date without knowing of it. `body` is what a client may search, one value per
# line; `unread` is "a message the client has not opened", so the unread count on every page
# is an index range instead of a join over all the client's calls; `urgent` is the operator's
# urgent flag or a ladder started for the call (the caller chose an emergency).

_NL = {"sqlite": "char(10)", "postgresql": "chr(10)"}
_AREA_ROW = """
SELECT c.id, c.client_id, c.arrived_at,
       coalesce(c.caller_name, '') || {nl} || coalesce(c.caller_number, '') || {nl}
       || coalesce(o.caller_name, '') || {nl} || coalesce(o.callback, '') || {nl}
       || coalesce(o.message, ''),
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
# (table, event, the linkedid the row is refreshed for)
_SOURCES = (
    ("calls", "INSERT", "new"),
    ("calls", "UPDATE OF client_id, arrived_at, caller_name, caller_number, message_path", "new"),
    ("call_outcomes", "INSERT", "new"),
    ("call_outcomes", "UPDATE OF linkedid, caller_name, callback, message, urgent", "new"),
    ("call_outcomes", "DELETE", "old"),
    ("area_message_state", "INSERT", "new"),
    ("area_message_state", "UPDATE OF linkedid, client_id, read_at", "new"),
    ("area_message_state", "DELETE", "old"),
    # A ladder started for the call: the caller chose an emergency, or the operator urgent.
    ("escalation_runs", "INSERT", "new"),
)
_SOURCE_TRIGGERS = [f"area_calls_{table}_{event.split()[0].lower()}" for table, event, _ in _SOURCES]
_SQLITE_TRIGGERS = [
    *_SOURCE_TRIGGERS,
    "area_calls_calls_delete",
    "area_calls_fts_insert",
    "area_calls_fts_delete",
    "area_calls_fts_update",
]


def _sqlite_triggers() -> None:
    for (table, event, which), name in zip(_SOURCES, _SOURCE_TRIGGERS, strict=True):
        row = _AREA_ROW.format(nl=_NL["sqlite"], where=f"c.linkedid = {which}.linkedid")
        upsert = _UPSERT.format(row=row).replace("IS DISTINCT FROM", "IS NOT")
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {upsert}; END")
    op.execute(
        "CREATE TRIGGER area_calls_calls_delete AFTER DELETE ON calls BEGIN "
        "DELETE FROM area_calls WHERE call_id = old.id; END"
    )
    # A trigram index (SQLite 3.34+): any substring of three characters or more is found
    # through it, as LIKE '%...%' would find it, in any case.
    op.execute(
        "CREATE VIRTUAL TABLE area_calls_fts USING fts5(body, content='area_calls', "
        "content_rowid='call_id', tokenize='trigram')"
    )
    op.execute(
        "CREATE TRIGGER area_calls_fts_insert AFTER INSERT ON area_calls BEGIN "
        "INSERT INTO area_calls_fts (rowid, body) VALUES (new.call_id, new.body); END"
    )
    op.execute(
        "CREATE TRIGGER area_calls_fts_delete AFTER DELETE ON area_calls BEGIN "
        "INSERT INTO area_calls_fts (area_calls_fts, rowid, body) "
        "VALUES ('delete', old.call_id, old.body); END"
    )
    op.execute(
        "CREATE TRIGGER area_calls_fts_update AFTER UPDATE OF body ON area_calls "
        "WHEN old.body IS NOT new.body BEGIN "
        "INSERT INTO area_calls_fts (area_calls_fts, rowid, body) "
        "VALUES ('delete', old.call_id, old.body); "
        "INSERT INTO area_calls_fts (rowid, body) VALUES (new.call_id, new.body); END"
    )
    op.execute("INSERT INTO area_calls_fts (area_calls_fts) VALUES ('rebuild')")
    # A search of common words reads one client's calls newest first: with the words in the
    # index, no row is fetched until one matches.
    op.execute(
        "CREATE INDEX ix_area_calls_search ON area_calls (client_id, arrived_at, call_id, body)"
    )


def _postgresql_triggers() -> None:
    # pg_trgm is a trusted extension: the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    row = _AREA_ROW.format(nl=_NL["postgresql"], where="c.linkedid = lid")
    # The call's row is locked first: two transactions refreshing the same call (its outcome
    # saved while an event updates it) take turns, and the second reads what the first wrote.
    op.execute(
        "CREATE FUNCTION area_calls_refresh(lid text) RETURNS void LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "PERFORM 1 FROM calls WHERE linkedid = lid FOR UPDATE;\n"
        f"{_UPSERT.format(row=row)};\n"
        "END $$"
    )
    op.execute(
        "CREATE FUNCTION area_calls_sync() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "IF TG_TABLE_NAME = 'calls' AND TG_OP = 'DELETE' THEN\n"
        "  DELETE FROM area_calls WHERE call_id = OLD.id;\n"
        "ELSIF TG_OP = 'DELETE' THEN\n"
        "  PERFORM area_calls_refresh(OLD.linkedid);\n"
        "ELSE\n"
        "  PERFORM area_calls_refresh(NEW.linkedid);\n"
        "END IF;\n"
        "RETURN NULL;\n"
        "END $$"
    )
    events: dict[str, list[str]] = {"calls": ["INSERT", "DELETE"]}
    for table, event, _ in _SOURCES:
        if event != "INSERT" or table != "calls":
            events.setdefault(table, []).append(event)
    for table, kinds in events.items():
        op.execute(
            f"CREATE TRIGGER area_calls_sync AFTER {' OR '.join(kinds)} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION area_calls_sync()"
        )
    op.execute("CREATE INDEX ix_area_calls_body ON area_calls USING gin (body gin_trgm_ops)")
    # Not the words: a B-tree entry holds at most ~2.7 kB, a message may be longer.
    op.execute("CREATE INDEX ix_area_calls_search ON area_calls (client_id, arrived_at, call_id)")


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("calls", "call_outcomes", "area_message_state", "escalation_runs"):
            op.execute(f"DROP TRIGGER IF EXISTS area_calls_sync ON {table}")
        op.execute("DROP FUNCTION IF EXISTS area_calls_sync()")
        op.execute("DROP FUNCTION IF EXISTS area_calls_refresh(text)")
        op.execute("DROP INDEX IF EXISTS ix_area_calls_body")
    op.execute("DROP INDEX IF EXISTS ix_area_calls_search")
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS area_calls_fts")


def downgrade() -> None:
    _drop_triggers()
    op.drop_index("ix_area_calls_urgent", table_name="area_calls")
    op.drop_index("ix_area_calls_unread", table_name="area_calls")
    op.drop_table("area_calls")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
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
