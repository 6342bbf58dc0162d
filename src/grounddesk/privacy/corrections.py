"""Knowledge corrections drafted from a customer's tickets: traced, then deleted or flagged for review.

A support agent may turn a ticket into a knowledge correction (``POST /v1/tickets/{id}/knowledge-correction``):
a draft document ``corrections/<slug>`` whose text may quote the customer. Erasure traces these through the
ticket's history note (``Proposed a knowledge correction: doc@version``) and the audit event
``ticket.knowledge_correction``. A correction whose every version came from the erased customer's tickets and that
was never approved is deleted; anything else (approved: it is company knowledge now, reviewed by a person; or
mixing other tickets' versions) is listed in the report for a person to review.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Connection, select

from grounddesk.audit.tables import audit_events
from grounddesk.audit.types import AuditKind
from grounddesk.errors import DocumentNotFound
from grounddesk.escalation.tables import ticket_events, tickets

__all__ = ["KnowledgeCorrections", "plan_corrections", "traced_corrections"]

_NOTE = re.compile(r"Proposed a knowledge correction: (\S+)@(\d+)")
_IN_CHUNK = 500


def traced_corrections(conn: Connection, conversation_ids: Collection[str]) -> dict[str, set[int]]:
    """The correction versions (``doc_id -> versions``) proposed from tickets of these conversations."""
    found: dict[str, set[int]] = {}
    ids = sorted(conversation_ids)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        notes = conn.execute(
            select(ticket_events.c.data)
            .join(tickets, tickets.c.id == ticket_events.c.ticket_id)
            .where(tickets.c.conversation_id.in_(chunk), ticket_events.c.kind == "note")
        ).scalars()
        for data in notes:
            text = str(data.get("text") or "") if isinstance(data, dict) else ""
            for doc_id, version in _NOTE.findall(text):
                found.setdefault(doc_id, set()).add(int(version))
        audited = conn.execute(
            select(audit_events.c.payload).where(
                audit_events.c.conversation_id.in_(chunk),
                audit_events.c.kind == AuditKind.TICKET_KNOWLEDGE_CORRECTION.value,
            )
        ).scalars()
        for payload in audited:
            if isinstance(payload, dict) and payload.get("doc_id") and isinstance(payload.get("version"), int):
                found.setdefault(str(payload["doc_id"]), set()).add(int(payload["version"]))
    return found


def plan_corrections(
    traced: dict[str, set[int]], versions_of: Callable[[str], dict[int, str]]
) -> tuple[list[str], list[str]]:
    """Split traced corrections into documents to delete and ``doc_id@version`` items to review.

    Args:
        traced: What :func:`traced_corrections` found.
        versions_of: A document's versions and statuses (empty when it no longer exists).

    Returns:
        ``(delete, review)``.
    """
    delete: list[str] = []
    review: list[str] = []
    for doc_id, proposed in sorted(traced.items()):
        versions = versions_of(doc_id)
        if not versions:
            continue
        reviewed = {v for v, status in versions.items() if status in ("approved", "retired")}
        if set(versions) <= proposed and not reviewed:
            delete.append(doc_id)
        else:
            review.extend(f"{doc_id}@{v}" for v in sorted(proposed & set(versions)))
    return delete, review


class KnowledgeCorrections:
    """:class:`~grounddesk.privacy.types.CorrectionStore` over a knowledge base opened only when needed.

    Args:
        open_kb: Returns the :class:`grounddesk.knowledge.service.KnowledgeBase` (called at most once).
        close: Close the knowledge base in :meth:`close` (the CLI opens its own; the service shares its one).
    """

    def __init__(self, open_kb: Callable[[], Any], *, close: bool = False) -> None:
        self._open = open_kb
        self._kb: Any = None
        self._close = close

    def _base(self) -> Any:
        if self._kb is None:
            self._kb = self._open()
        return self._kb

    def versions(self, doc_id: str) -> dict[int, str]:
        """The document's versions and statuses; empty when it does not exist."""
        try:
            info = self._base().registry.get(doc_id)
        except DocumentNotFound:
            return {}
        return {v.version: str(v.status) for v in info.versions}

    def delete(self, doc_id: str, actor: str) -> None:
        """Erase the document (vectors, files, SQL rows); :meth:`compact` then clears the vector store's files."""
        self._base().delete(doc_id, actor=actor)

    def compact(self) -> None:
        """Rewrite the vector store's files from its live points, when the store can (Qdrant edge).

        Qdrant drops deleted points at once for every reader, but keeps their bytes in its segment files and
        write-ahead log until they happen to be rewritten; after an erasure nothing of them may remain.
        """
        from grounddesk.knowledge.types import Rewritable

        store = self._base().store
        if isinstance(store, Rewritable):
            store.rewrite()

    def close(self) -> None:
        """Close the knowledge base if this object opened and owns it."""
        if self._kb is not None and self._close:
            self._kb.close()
        self._kb = None
