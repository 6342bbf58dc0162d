"""The audit trail in grounddesk's SQL store: append-only, hash-chained, erasable without breaking the chain.

Appending locks the chain head (one row, ``audit_head``) for the transaction: ``SELECT ... FOR UPDATE`` on
PostgreSQL, the write lock taken by ``BEGIN IMMEDIATE`` on SQLite (see :mod:`grounddesk.db.engine`). So events of
concurrent writers, in any number of processes, get consecutive seqs and each links to the one before it.

:meth:`AuditTrail.verify` re-walks the chain and reports every edited, inserted or deleted event by seq.
:meth:`AuditTrail.tombstone` erases the personal part of a customer's events (see :mod:`grounddesk.audit.types`)
and appends the erasure event that vouches for those tombstones, in the caller's transaction.

Example:
    >>> trail = AuditTrail(engine)
    >>> trail.record(AuditKind.KNOWLEDGE_APPROVED, {"doc_id": "refunds", "version": 2}, actor="sam").seq
    1
    >>> trail.verify().ok
    True
"""

from __future__ import annotations

import builtins
import logging
import secrets
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from grounddesk.audit.chain import (
    DEFAULT_KEY,
    GENESIS_HASH,
    jsonable,
    personal_hash,
    record_hash,
    seq_ranges,
)
from grounddesk.audit.context import current_scope
from grounddesk.audit.tables import audit_events, audit_head
from grounddesk.audit.types import (
    TOMBSTONE_KEY,
    AuditEvent,
    AuditKind,
    AuditSettings,
    VerifyReport,
)
from grounddesk.audit.verify import ChainWalk, stream_events
from grounddesk.db.engine import assert_engine_configured, read_only
from grounddesk.db.types import utc_now

__all__ = ["AuditTrail"]

logger = logging.getLogger(__name__)

#: Returns the current moment, timezone-aware.
Clock = Callable[[], datetime]

_MAX_ID = 64
_IN_CHUNK = 500
_MAX_PAGE = 10_000


class AuditTrail:
    """Audit events in grounddesk's SQL store (SQLite or PostgreSQL).

    Args:
        engine: An engine made by :func:`grounddesk.db.create_engine_for`, migrated to head.
        key: HMAC key of the hashes; None uses a fixed public key (anyone with write access could then rebuild
            the whole chain: keep a real key outside the database to rule that out).
        clock: The current moment (tests pass a fake one).

    Raises:
        ConfigurationError: A SQLite engine not built by ``create_engine_for``.
    """

    def __init__(self, engine: Engine, *, key: bytes | None = None, clock: Clock = utc_now) -> None:
        assert_engine_configured(engine)
        self._engine = engine
        self._read = read_only(engine)
        self._key = key or DEFAULT_KEY
        self._clock = clock

    @classmethod
    def from_settings(cls, engine: Engine, settings: AuditSettings, *, clock: Clock = utc_now) -> AuditTrail:
        """The trail with the configured key."""
        key = settings.key.get_secret_value().encode("utf-8") if settings.key is not None else None
        return cls(engine, key=key, clock=clock)

    # -- appending ---------------------------------------------------------------------------------------------

    def record(
        self,
        kind: AuditKind | str,
        payload: Mapping[str, Any],
        *,
        actor: str | None = None,
        subject: str | None = None,
        conversation_id: str | None = None,
    ) -> AuditEvent:
        """Append one event in its own transaction (see :class:`~grounddesk.audit.types.AuditSink`).

        Values left None are taken from the current :func:`~grounddesk.audit.context.audit_scope`.

        Returns:
            The stored event.
        """
        with self._engine.begin() as conn:
            return self.append(conn, kind, payload, actor=actor, subject=subject, conversation_id=conversation_id)

    def append(
        self,
        conn: Connection,
        kind: AuditKind | str,
        payload: Mapping[str, Any],
        *,
        actor: str | None = None,
        subject: str | None = None,
        conversation_id: str | None = None,
    ) -> AuditEvent:
        """Like :meth:`record`, inside the caller's transaction (the event commits or rolls back with it)."""
        scope = current_scope()
        head = self._lock_head(conn)
        return self._append(
            conn,
            head,
            str(kind),
            payload,
            actor=actor or scope.actor or "system",
            subject=subject if subject is not None else scope.subject,
            conversation_id=conversation_id if conversation_id is not None else scope.conversation_id,
        )

    def _append(
        self,
        conn: Connection,
        head: tuple[int, str],
        kind: str,
        payload: Mapping[str, Any],
        *,
        actor: str,
        subject: str | None,
        conversation_id: str | None,
    ) -> AuditEvent:
        seq, prev_hash = head[0] + 1, head[1]
        body = jsonable(dict(payload))
        subject = subject[:_MAX_ID] if subject else None
        conversation_id = conversation_id[:_MAX_ID] if conversation_id else None
        salt = secrets.token_hex(16)
        payload_hash = personal_hash(self._key, salt, subject, conversation_id, body)
        at = self._clock()
        actor = actor[:200]
        digest = record_hash(
            self._key, seq=seq, at=at, actor=actor, kind=kind, payload_hash=payload_hash, prev_hash=prev_hash
        )
        values = {
            "seq": seq,
            "at": at,
            "actor": actor,
            "kind": kind,
            "subject": subject,
            "conversation_id": conversation_id,
            "payload": body,
            "salt": salt,
            "payload_hash": payload_hash,
            "prev_hash": prev_hash,
            "hash": digest,
        }
        conn.execute(insert(audit_events).values(**values))
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
        return AuditEvent.model_validate(values)

    @staticmethod
    def _lock_head(conn: Connection) -> tuple[int, str]:
        query = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
        row = conn.execute(query).first()
        if row is None:  # the migration inserts it; only a hand-edited database lacks it
            conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS_HASH))
            row = conn.execute(query).one()
        return int(row.seq), str(row.hash)

    # -- erasing -----------------------------------------------------------------------------------------------

    def tombstone(
        self,
        conn: Connection,
        *,
        subjects: Collection[str] = (),
        conversation_ids: Collection[str] = (),
        older_than: datetime | None = None,
        kind: AuditKind = AuditKind.ERASED,
        actor: str = "system",
        summary: Mapping[str, Any] | None = None,
    ) -> tuple[AuditEvent, list[int]]:
        """Erase the personal part of every event about ``subjects`` or in ``conversation_ids``.

        Their payload becomes ``{"_tombstone": {"by_seq": N}}`` and subject, conversation and salt become NULL;
        event ``N``, appended here (``kind`` ``privacy.erased`` or ``privacy.purged``), lists the tombstoned seqs
        and ``summary`` (counts, never the customer's identity). Runs in the caller's transaction.

        Args:
            conn: The caller's transaction.
            subjects: Customer ids.
            conversation_ids: Conversations.
            older_than: Also every event about a customer or a conversation recorded before this moment.
            kind: ``privacy.erased`` or ``privacy.purged``.
            actor: Who erases.
            summary: What else the erasure event says (counts per store).

        Returns:
            The erasure event and the seqs tombstoned.
        """
        head = self._lock_head(conn)
        by_seq = head[0] + 1
        marker = {TOMBSTONE_KEY: {"by_seq": by_seq}}
        seqs: set[int] = set()
        personal = audit_events.c.salt.is_not(None)
        for column, values in ((audit_events.c.subject, subjects), (audit_events.c.conversation_id, conversation_ids)):
            for chunk in _chunks(sorted({v[:_MAX_ID] for v in values if v})):
                rows = conn.execute(select(audit_events.c.seq).where(column.in_(chunk), personal)).scalars()
                seqs.update(int(s) for s in rows)
        if older_than is not None:
            about_someone = or_(audit_events.c.subject.is_not(None), audit_events.c.conversation_id.is_not(None))
            rows = conn.execute(
                select(audit_events.c.seq).where(audit_events.c.at < older_than, personal, about_someone)
            ).scalars()
            seqs.update(int(s) for s in rows)
        for chunk in _chunks(sorted(seqs)):
            conn.execute(
                update(audit_events)
                .where(audit_events.c.seq.in_(chunk))
                .values(payload=marker, salt=None, subject=None, conversation_id=None)
            )
        payload = {**(summary or {}), "tombstoned": seq_ranges(seqs)}
        event = self._append(conn, head, kind.value, payload, actor=actor, subject=None, conversation_id=None)
        return event, sorted(seqs)

    # -- reading -----------------------------------------------------------------------------------------------

    def events(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        kind: AuditKind | str | None = None,
        subject: str | None = None,
        conversation_id: str | None = None,
    ) -> builtins.list[AuditEvent]:
        """Events with a seq above ``after``, oldest first, optionally filtered.

        Args:
            after: The last seq the caller has.
            limit: At most this many, 1 to 10000.
            kind: Only this kind.
            subject: Only events about this customer.
            conversation_id: Only events of this conversation.
        """
        limit = max(1, min(limit, _MAX_PAGE))
        query = select(audit_events).where(audit_events.c.seq > after)
        if kind is not None:
            query = query.where(audit_events.c.kind == str(kind))
        if subject is not None:
            query = query.where(audit_events.c.subject == subject)
        if conversation_id is not None:
            query = query.where(audit_events.c.conversation_id == conversation_id)
        with self._read.begin() as conn:
            rows = conn.execute(query.order_by(audit_events.c.seq).limit(limit)).mappings()
            return [_event(row) for row in rows]

    def conversations_of(self, subjects: Collection[str]) -> set[str]:
        """The conversations in which events about ``subjects`` were recorded (for erasure)."""
        found: set[str] = set()
        with self._read.begin() as conn:
            for chunk in _chunks(sorted(set(subjects))):
                rows = conn.execute(
                    select(audit_events.c.conversation_id)
                    .where(audit_events.c.subject.in_(chunk), audit_events.c.conversation_id.is_not(None))
                    .distinct()
                ).scalars()
                found.update(str(r) for r in rows)
        return found

    def head(self) -> tuple[int, str]:
        """The seq and hash of the newest event (``(0, GENESIS_HASH)`` when empty)."""
        with self._read.begin() as conn:
            row = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
        return (int(row.seq), str(row.hash)) if row is not None else (0, GENESIS_HASH)

    # -- verifying ---------------------------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Walk the whole chain and report every event that was edited, inserted or deleted.

        Reads one consistent snapshot (a deferred transaction on SQLite, ``REPEATABLE READ`` on PostgreSQL), so
        appends going on meanwhile are neither missed halfway nor reported.

        Returns:
            ``ok`` and the problems found, each with its seq.
        """
        engine = self._read
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        with engine.begin() as conn:
            head_row = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
            walk = ChainWalk(self._key)
            for row in stream_events(conn):
                walk.visit(row)
        head = (int(head_row.seq), str(head_row.hash)) if head_row is not None else None
        problems = walk.finish(head)
        head_seq, head_hash = head if head is not None else (0, GENESIS_HASH)
        report = VerifyReport(
            ok=not problems,
            events=walk.count,
            erased=len(walk.tombstones),
            head_seq=head_seq,
            head_hash=head_hash,
            problems=problems,
        )
        if problems:
            logger.warning(
                "audit chain verification failed",
                extra={"problems": len(problems), "first_bad_seq": report.first_bad_seq},
            )
        return report


def _event(row: RowMapping) -> AuditEvent:
    return AuditEvent.model_validate({k: v for k, v in row.items() if k != "salt"})


def _chunks(values: builtins.list[Any]) -> Iterator[builtins.list[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]
