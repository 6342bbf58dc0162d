"""Erasure of one customer, and retention: the same cascade over every store grounddesk keeps.

For a set of conversations, in an order that can simply be run again if interrupted:

1. knowledge corrections drafted from their tickets (deleted when still unapproved drafts, else listed for review);
2. their LangGraph checkpoints (``delete_thread``);
3. in one SQL transaction: idempotency-ledger rows whose results hold the customer's data (found by the
   customer's identifiers, and by the keys of the tickets' pending actions), tickets and their history (deleted, or
   anonymised with ``privacy.keep_ticket_stats``), feedback, events and the conversations; the audit events about
   the customer or in those conversations keep their record but lose their personal part (a tombstone), and a
   ``privacy.erased`` / ``privacy.purged`` audit event with the counts vouches for the tombstones;
4. on SQLite, ``VACUUM`` so that freed pages and old row copies are overwritten too.

Example:
    >>> eraser = Eraser(engine, AuditTrail(engine), checkpointer=saver, crm=crm)
    >>> eraser.erase(customer_id="C-1001", actor="admin").counts.conversations
    3
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import datetime, timedelta
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import Connection, Engine, delete, insert, select, update

from grounddesk.audit.trail import AuditTrail
from grounddesk.audit.types import AuditKind
from grounddesk.connectors.ledger import connector_ledger
from grounddesk.connectors.types import CRMConnector
from grounddesk.db.engine import assert_engine_configured, read_only
from grounddesk.db.types import utc_now
from grounddesk.escalation.tables import (
    CLOSED_TICKET_STATUSES,
    conversation_events,
    conversations,
    feedback,
    ticket_events,
    tickets,
)
from grounddesk.privacy.checkpoints import CheckpointThreads
from grounddesk.privacy.corrections import plan_corrections, traced_corrections
from grounddesk.privacy.finder import find_conversations, resolve_subject, search_text
from grounddesk.privacy.types import CorrectionStore, ErasureReport, PrivacySettings, PurgeReport, StoreCounts

__all__ = ["Eraser"]

logger = logging.getLogger(__name__)

_IN_CHUNK = 500
Hold = Callable[[str], AbstractContextManager[Any]]


class Eraser:
    """Erases customers and purges old conversations from every store grounddesk keeps.

    Args:
        engine: grounddesk's SQL store (migrated).
        audit: The audit trail (tombstones and the erasure's own event); needed even with auditing switched off,
            since earlier events may hold the customer's data.
        checkpointer: The agent's LangGraph checkpointer; None leaves checkpoints alone (tests of SQL only).
        crm: The configured CRM, to resolve an email to a customer id and back.
        corrections: The knowledge base's corrections; None lists every traced correction for review.
        settings: Retention and anonymisation settings.
        clock: The current moment.
        hold: A per-conversation lock (the service's ``ConversationLocks.hold``) so no turn runs meanwhile.
    """

    def __init__(
        self,
        engine: Engine,
        audit: AuditTrail,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        crm: CRMConnector | None = None,
        corrections: CorrectionStore | None = None,
        settings: PrivacySettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        hold: Hold | None = None,
    ) -> None:
        assert_engine_configured(engine)
        self._engine = engine
        self._read = read_only(engine)
        self._audit = audit
        self._threads = CheckpointThreads(checkpointer) if checkpointer is not None else None
        self._crm = crm
        self._corrections = corrections
        self.settings = settings or PrivacySettings()
        self._clock = clock
        self._hold = hold

    # -- erasure -----------------------------------------------------------------------------------------------

    def erase(
        self, *, customer_id: str | None = None, email: str | None = None, actor: str = "system"
    ) -> ErasureReport:
        """Erase everything grounddesk holds about one customer. Running it again finds nothing more.

        Args:
            customer_id: The customer number.
            email: An email address (resolved to the customer id through the CRM, and matched against the contact
                details left on tickets).
            actor: Who asked (recorded in the audit event).

        Returns:
            What was removed, per store.

        Raises:
            GrounddeskError: ``invalid_input`` for a malformed request.
            ConnectorError: The CRM failed; nothing was erased (retry).
        """
        subject = resolve_subject(customer_id=customer_id, email=email, crm=self._crm)
        with self._read.begin() as conn:
            found = find_conversations(conn, subject, self._threads)
        with self._holding(found):
            counts, audit_seq, review = self._cascade(
                found,
                subjects=subject.customer_ids,
                needles=subject.identifiers,
                kind=AuditKind.ERASED,
                actor=actor,
            )
        self._compact()
        logger.info(
            "customer erased",
            extra={"conversations": counts.conversations, "audit_seq": audit_seq, "by": subject.requested_by},
        )
        return ErasureReport(
            requested_by="email" if subject.requested_by == "email" else "customer",
            customer_ids=sorted(subject.customer_ids),
            conversations_found=len(found),
            counts=counts,
            audit_seq=audit_seq,
            corrections_to_review=review,
        )

    # -- retention ---------------------------------------------------------------------------------------------

    def purge(self, *, now: datetime | None = None, actor: str = "system") -> PurgeReport:
        """Delete conversations whose last activity is older than ``privacy.retention_days``, with the cascade.

        Conversations with a ticket still open are kept (a person has yet to answer). Threads that exist only as
        checkpoints (CLI chats) go by their newest checkpoint's time. Audit events about a customer or a
        conversation older than the cutoff lose their personal part; idempotency-ledger rows older than it go.

        Returns:
            What was purged; nothing when no retention is configured.
        """
        days = self.settings.retention_days
        if days is None:
            return PurgeReport(retention_days=None, cutoff=None)
        cutoff = (now or self._clock()) - timedelta(days=days)
        report = PurgeReport(retention_days=days, cutoff=cutoff)
        old, report.skipped_active = self._old_conversations(cutoff)
        old += self._old_threads(cutoff, known=set(old))
        batch = self.settings.purge_batch
        for start in range(0, len(old), batch):
            ids = set(old[start : start + batch])
            with self._holding(ids):
                counts, seq, _ = self._cascade(ids, subjects=(), needles=(), kind=AuditKind.PURGED, actor=actor)
            report.counts.add(counts)
            report.audit_seqs.append(seq)
        with self._engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA secure_delete = ON")
            leftovers = StoreCounts()
            leftovers.connector_ledger = conn.execute(
                delete(connector_ledger).where(
                    connector_ledger.c.updated_at < cutoff, connector_ledger.c.status != "pending"
                )
            ).rowcount
            summary = {"connector_ledger": leftovers.connector_ledger, "cutoff": cutoff.isoformat()}
            event, seqs = self._audit.tombstone(
                conn, older_than=cutoff, kind=AuditKind.PURGED, actor=actor, summary=summary
            )
            leftovers.audit_events_erased = len(seqs)
        report.counts.add(leftovers)
        report.audit_seqs.append(event.seq)
        report.conversations_purged = len(old)
        self._compact()
        logger.info("retention purge", extra={"conversations": len(old), "cutoff": cutoff.isoformat()})
        return report

    def _old_conversations(self, cutoff: datetime) -> tuple[list[str], int]:
        with self._read.begin() as conn:
            old = [
                str(v)
                for v in conn.execute(
                    select(conversations.c.id)
                    .where(conversations.c.last_activity_at < cutoff)
                    .order_by(conversations.c.last_activity_at, conversations.c.id)
                ).scalars()
            ]
            active: set[str] = set()
            for chunk in _chunks(old):
                active.update(
                    str(v)
                    for v in conn.execute(
                        select(tickets.c.conversation_id).where(
                            tickets.c.conversation_id.in_(chunk), tickets.c.status.not_in(CLOSED_TICKET_STATUSES)
                        )
                    ).scalars()
                )
        return [c for c in old if c not in active], len(active)

    def _old_threads(self, cutoff: datetime, known: set[str]) -> list[str]:
        """Checkpoint-only threads (no conversation row) whose newest checkpoint is older than ``cutoff``."""
        if self._threads is None:
            return []
        candidates = sorted(self._threads.thread_ids() - known)
        with self._read.begin() as conn:
            rows: set[str] = set()
            for chunk in _chunks(candidates):
                rows.update(
                    str(v)
                    for v in conn.execute(select(conversations.c.id).where(conversations.c.id.in_(chunk))).scalars()
                )
        old = []
        for thread_id in candidates:
            if thread_id in rows:
                continue
            last = self._threads.last_activity(thread_id)
            if last is not None and last < cutoff:
                old.append(thread_id)
        return old

    # -- the cascade -------------------------------------------------------------------------------------------

    def _cascade(
        self,
        conversation_ids: Collection[str],
        *,
        subjects: Collection[str],
        needles: Collection[str],
        kind: AuditKind,
        actor: str,
    ) -> tuple[StoreCounts, int, list[str]]:
        counts = StoreCounts()
        review = self._erase_corrections(conversation_ids, actor, counts)
        if self._threads is not None:
            counts.checkpoint_threads = self._threads.delete(conversation_ids)
        with self._engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA secure_delete = ON")
            ids = sorted(conversation_ids)
            keys = _pending_action_keys(conn, ids) | search_text(
                conn, connector_ledger, connector_ledger.c.idempotency_key, needles
            )
            for chunk in _chunks(sorted(keys)):
                counts.connector_ledger += conn.execute(
                    delete(connector_ledger).where(connector_ledger.c.idempotency_key.in_(chunk))
                ).rowcount
            for chunk in _chunks(ids):
                self._remove_tickets(conn, chunk, counts)
                counts.feedback += conn.execute(delete(feedback).where(feedback.c.conversation_id.in_(chunk))).rowcount
                counts.conversation_events += conn.execute(
                    delete(conversation_events).where(conversation_events.c.conversation_id.in_(chunk))
                ).rowcount
                counts.conversations += conn.execute(
                    delete(conversations).where(conversations.c.id.in_(chunk))
                ).rowcount
            summary = counts.model_dump(exclude={"audit_events_erased"})
            event, seqs = self._audit.tombstone(
                conn, subjects=subjects, conversation_ids=ids, kind=kind, actor=actor, summary=summary
            )
            counts.audit_events_erased = len(seqs)
        return counts, event.seq, review

    def _remove_tickets(self, conn: Connection, conversation_ids: list[str], counts: StoreCounts) -> None:
        rows = conn.execute(
            select(tickets.c.id, tickets.c.conversation_id).where(tickets.c.conversation_id.in_(conversation_ids))
        ).all()
        if not rows:
            return
        ticket_ids = [str(r.id) for r in rows]
        if not self.settings.keep_ticket_stats:
            counts.ticket_events += conn.execute(
                delete(ticket_events).where(ticket_events.c.ticket_id.in_(ticket_ids))
            ).rowcount
            counts.tickets_deleted += conn.execute(delete(tickets).where(tickets.c.id.in_(ticket_ids))).rowcount
            return
        now = self._clock()
        stubs: dict[str, str] = {}
        for row in rows:
            source = str(row.conversation_id)
            if source not in stubs:
                stubs[source] = f"erased-{uuid.uuid4().hex}"
                channel = conn.execute(select(conversations.c.channel).where(conversations.c.id == source)).scalar()
                conn.execute(
                    insert(conversations).values(
                        id=stubs[source],
                        created_at=now,
                        last_activity_at=now,
                        customer_id=None,
                        audiences=[],
                        channel=channel or "web",
                        mode="bot",
                        last_seq=0,
                        closed_at=now,
                    )
                )
            sources = conn.execute(select(tickets.c.sources).where(tickets.c.id == row.id)).scalar()
            conn.execute(
                update(tickets)
                .where(tickets.c.id == row.id)
                .values(
                    conversation_id=stubs[source],
                    customer_id=None,
                    draft=None,
                    payload={},
                    sources=_bare_sources(sources),
                    pending_action=None,
                    contact=None,
                    resolution_note=None,
                )
            )
        counts.ticket_events += conn.execute(
            update(ticket_events).where(ticket_events.c.ticket_id.in_(ticket_ids)).values(data={})
        ).rowcount
        counts.tickets_anonymised += len(ticket_ids)

    def _erase_corrections(self, conversation_ids: Collection[str], actor: str, counts: StoreCounts) -> list[str]:
        with self._read.begin() as conn:
            traced = traced_corrections(conn, conversation_ids)
        if not traced:
            return []
        if self._corrections is None:
            return [f"{doc}@{v}" for doc, versions in sorted(traced.items()) for v in sorted(versions)]
        to_delete, review = plan_corrections(traced, self._corrections.versions)
        for doc_id in to_delete:
            self._corrections.delete(doc_id, actor)
            counts.knowledge_corrections += 1
        if to_delete:
            self._corrections.compact()  # the vector store's files too, not only its readers
        return review

    # -- helpers -----------------------------------------------------------------------------------------------

    @contextmanager
    def _holding(self, conversation_ids: Collection[str]) -> Iterator[None]:
        """Hold every conversation's lock (in sorted order, so two erasures never deadlock)."""
        with ExitStack() as stack:
            if self._hold is not None:
                for conversation_id in sorted(conversation_ids):
                    stack.enter_context(self._hold(conversation_id))
            yield

    def _compact(self) -> None:
        """On SQLite, rewrite the file so nothing deleted lingers in free pages or the WAL."""
        if self._engine.dialect.name != "sqlite" or not self.settings.vacuum_sqlite:
            return
        raw = self._engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            driver.execute("VACUUM")
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:  # another connection is busy: the pages are reused and overwritten later
            logger.warning("VACUUM after erasure did not run")
        finally:
            raw.close()


def _pending_action_keys(conn: Connection, conversation_ids: list[str]) -> set[str]:
    """Idempotency keys of the write actions waiting on (or approved from) these conversations' tickets."""
    keys: set[str] = set()
    for chunk in _chunks(conversation_ids):
        rows = conn.execute(
            select(tickets.c.pending_action, tickets.c.payload).where(tickets.c.conversation_id.in_(chunk))
        )
        for pending, payload in rows:
            for action in (pending, (payload or {}).get("pending_action") if isinstance(payload, dict) else None):
                if isinstance(action, dict) and action.get("idempotency_key"):
                    keys.add(str(action["idempotency_key"]))
    return keys


def _bare_sources(sources: Any) -> list[dict[str, Any]]:
    """A ticket's sources reduced to document and version."""
    if not isinstance(sources, list):
        return []
    return [{"doc_id": s.get("doc_id"), "version": s.get("version")} for s in sources if isinstance(s, dict)]


def _chunks(values: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start : start + _IN_CHUNK]
