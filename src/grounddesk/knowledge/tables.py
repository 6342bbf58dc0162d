"""SQL tables of the document registry (see :mod:`grounddesk.knowledge.registry`).

Their schema is created by the migration ``0001_documents``; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from grounddesk.db.base import JSONType, metadata
from grounddesk.db.types import UTCDateTime

__all__ = ["document_history", "document_versions", "documents", "knowledge_state"]

_STATUSES = "'draft', 'in_review', 'approved', 'retired'"

documents = Table(
    "documents",
    metadata,
    Column("doc_id", String(300), primary_key=True),
    Column("title", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

document_versions = Table(
    "document_versions",
    metadata,
    Column("doc_id", String(300), ForeignKey("documents.doc_id"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("owner", String(200), nullable=True),
    Column("audiences", JSONType, nullable=False),
    Column("effective_from", UTCDateTime, nullable=True),
    Column("effective_until", UTCDateTime, nullable=True),
    Column("source_uri", Text, nullable=False),
    Column("media_type", String(200), nullable=False),
    Column("content_hash", String(128), nullable=False),
    Column("metadata", JSONType, nullable=False),
    Column("stored_file", Text, nullable=True),
    Column("chunk_count", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(f"status IN ({_STATUSES})", name="status"),
    CheckConstraint("version >= 1", name="version_positive"),
    Index("ix_document_versions_status", "status"),
    # At most one approved version per document: the one searches see.
    Index(
        "uq_document_versions_one_approved",
        "doc_id",
        unique=True,
        sqlite_where=text("status = 'approved'"),
        postgresql_where=text("status = 'approved'"),
    ),
)

document_history = Table(
    "document_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String(300), ForeignKey("documents.doc_id"), nullable=False),
    Column("version", Integer, nullable=True),
    Column("action", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", JSONType, nullable=False),
    Index("ix_document_history_doc_id", "doc_id", "id"),
)

#: One row (id = 1): the knowledge generation that searches read (see :mod:`grounddesk.knowledge.types`).
knowledge_state = Table(
    "knowledge_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
    CheckConstraint("generation >= 1", name="generation_positive"),
)
