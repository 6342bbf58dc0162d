"""Document registry: documents, their versions, their history, and the knowledge generation.

Revision ID: 0001_documents
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_documents"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_AWARE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("doc_id", sa.String(300), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("created_at", _AWARE, nullable=False),
        sa.PrimaryKeyConstraint("doc_id", name=op.f("pk_documents")),
    )
    op.create_table(
        "document_versions",
        sa.Column("doc_id", sa.String(300), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("audiences", _JSON, nullable=False),
        sa.Column("effective_from", _AWARE, nullable=True),
        sa.Column("effective_until", _AWARE, nullable=True),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("metadata", _JSON, nullable=False),
        sa.Column("stored_file", sa.Text(), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _AWARE, nullable=False),
        sa.Column("updated_at", _AWARE, nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'in_review', 'approved', 'retired')", name=op.f("ck_document_versions_status")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_document_versions_version_positive")),
        sa.ForeignKeyConstraint(["doc_id"], ["documents.doc_id"], name=op.f("fk_document_versions_doc_id_documents")),
        sa.PrimaryKeyConstraint("doc_id", "version", name=op.f("pk_document_versions")),
    )
    op.create_index(op.f("ix_document_versions_status"), "document_versions", ["status"])
    op.create_index(
        op.f("uq_document_versions_one_approved"),
        "document_versions",
        ["doc_id"],
        unique=True,
        sqlite_where=sa.text("status = 'approved'"),
        postgresql_where=sa.text("status = 'approved'"),
    )
    op.create_table(
        "document_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("doc_id", sa.String(300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", _AWARE, nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        sa.ForeignKeyConstraint(["doc_id"], ["documents.doc_id"], name=op.f("fk_document_history_doc_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_history")),
    )
    op.create_index(op.f("ix_document_history_doc_id"), "document_history", ["doc_id", "id"])
    knowledge_state = op.create_table(
        "knowledge_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_knowledge_state_single_row")),
        sa.CheckConstraint("generation >= 1", name=op.f("ck_knowledge_state_generation_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_state")),
    )
    op.bulk_insert(knowledge_state, [{"id": 1, "generation": 1}])


def downgrade() -> None:
    op.drop_table("knowledge_state")
    op.drop_index(op.f("ix_document_history_doc_id"), table_name="document_history")
    op.drop_table("document_history")
    op.drop_index(op.f("uq_document_versions_one_approved"), table_name="document_versions")
    op.drop_index(op.f("ix_document_versions_status"), table_name="document_versions")
    op.drop_table("document_versions")
    op.drop_table("documents")
