"""Connector ledger: one row per idempotency key of a CRM/ERP write.

Revision ID: 0002_connector_ledger
Revises: 0001_documents
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_connector_ledger"
down_revision: str | None = "0001_documents"
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_AWARE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connector_ledger",
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("connector", sa.String(50), nullable=False),
        sa.Column("operation", sa.String(50), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", _JSON, nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("created_at", _AWARE, nullable=False),
        sa.Column("updated_at", _AWARE, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'done', 'failed')", name=op.f("ck_connector_ledger_status")),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_connector_ledger")),
    )


def downgrade() -> None:
    op.drop_table("connector_ledger")
