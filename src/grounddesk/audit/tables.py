"""SQL tables of the audit trail; created by the migration ``0005_audit_privacy`` (a test compares the two).

- ``audit_events``: the append-only, hash-chained events (see :mod:`grounddesk.audit.types`).
- ``audit_head``: one row, the seq and hash of the last event. Appends lock it (``SELECT ... FOR UPDATE`` on
  PostgreSQL, the write lock of ``BEGIN IMMEDIATE`` on SQLite), so events get consecutive seqs in chain order; and
  it makes deleting the newest events detectable.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, String, Table

from grounddesk.db.base import JSONType, metadata
from grounddesk.db.types import UTCDateTime

__all__ = ["audit_events", "audit_head"]

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("kind", String(64), nullable=False),
    # The personal part: NULLed (subject, conversation, salt) or tombstoned (payload) by an erasure.
    Column("subject", String(64), nullable=True),
    Column("conversation_id", String(64), nullable=True),
    Column("payload", JSONType, nullable=False),
    Column("salt", String(32), nullable=True),
    Column("payload_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("seq >= 1", name="seq_positive"),
    Index("ix_audit_events_subject", "subject"),
    Index("ix_audit_events_conversation_id", "conversation_id"),
    Index("ix_audit_events_at", "at"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)
