"""indexes on the numbers the legal floor looks up at every dial: every campaign's calls to a
number (its rest after an abandoned call) and every campaign's contacts with that number (put
off until the rest ends)

Revision ID: 0015_number_indexes
Revises: 0014_node_heartbeats
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015_number_indexes"
down_revision: str | None = "0014_node_heartbeats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_campaign_attempts_number", "campaign_attempts", ["number"])
    op.create_index("ix_campaign_contacts_number", "campaign_contacts", ["number"])


def downgrade() -> None:
    op.drop_index("ix_campaign_contacts_number", table_name="campaign_contacts")
    op.drop_index("ix_campaign_attempts_number", table_name="campaign_attempts")
