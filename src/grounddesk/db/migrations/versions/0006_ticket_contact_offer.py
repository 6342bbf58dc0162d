"""Tickets remember when the customer was offered to leave contact details.

The queue's sweep used to find out by reading every open ticket's conversation events on every run; with a
column it asks one indexed question, however long the queue.

Revision ID: 0006_ticket_contact_offer
Revises: 0005_audit_privacy
Create Date: 2025-01-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_ticket_contact_offer"
down_revision: str | None = "0005_audit_privacy"
branch_labels: str | None = None
depends_on: str | None = None

_AWARE = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("contact_offered_at", _AWARE, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("contact_offered_at")
