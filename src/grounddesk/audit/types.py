"""Data shapes and the :class:`AuditSink` seam of the audit trail.

An audit event says who did what, when, about whom: every answer the agent gave (masked question, sources with
their versions, confidence, decision), every tool call, every ticket action and every knowledge approval.

Each event has two parts. The *record* (``seq``, ``at``, ``actor``, ``kind``, ``payload_hash``, ``prev_hash``)
is chained: ``hash`` covers it and the previous event's hash, so editing, inserting or deleting an event breaks
the chain. The *personal part* (``subject``, ``conversation_id``, ``payload``) is hashed separately, with a random
salt, into ``payload_hash``. Erasing a customer replaces their personal parts by a tombstone and drops the salt:
the record, and so the chain, stays intact and verifiable, while nothing of the customer remains (not even a
hash that could be matched against a guess, since the salt is gone).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "ERASING_KINDS",
    "TOMBSTONE_KEY",
    "AuditEvent",
    "AuditKind",
    "AuditSettings",
    "AuditSink",
    "ProblemKind",
    "VerifyProblem",
    "VerifyReport",
]

#: The key of the payload that replaces an erased event's payload: ``{"_tombstone": {"by_seq": N}}``.
TOMBSTONE_KEY = "_tombstone"


class AuditKind(StrEnum):
    """What an audit event records."""

    ANSWER = "answer"
    TOOL_CALL = "tool_call"
    TICKET_OPENED = "ticket.opened"
    TICKET_CLAIMED = "ticket.claimed"
    TICKET_RELEASED = "ticket.released"
    TICKET_REPLY = "ticket.reply"
    TICKET_ACTION_APPROVED = "ticket.action_approved"
    TICKET_ACTION_REJECTED = "ticket.action_rejected"
    TICKET_RESOLVED = "ticket.resolved"
    TICKET_RETURNED = "ticket.returned_to_bot"
    TICKET_KNOWLEDGE_CORRECTION = "ticket.knowledge_correction"
    KNOWLEDGE_APPROVED = "knowledge.approved"
    KNOWLEDGE_RETIRED = "knowledge.retired"
    KNOWLEDGE_DELETED = "knowledge.deleted"
    ERASED = "privacy.erased"
    PURGED = "privacy.purged"


#: Events whose payload lists the seqs they tombstoned.
ERASING_KINDS = frozenset({AuditKind.ERASED.value, AuditKind.PURGED.value})


class AuditSettings(BaseModel):
    """The audit trail (nested in Settings as ``audit``: ``GROUNDDESK_AUDIT_ENABLED``...)."""

    enabled: bool = Field(default=True, description="Record answers, tool calls, ticket actions, knowledge changes")
    key: SecretStr | None = Field(
        default=None,
        description="Secret for HMAC-SHA256 event hashes: without it the chain uses a fixed public key, so someone "
        "with write access to the database could rebuild the whole chain; with it they cannot. Keep it out of "
        "the database; verification needs the same key.",
    )


@runtime_checkable
class AuditSink(Protocol):
    """Where hooks send audit events (the SQL :class:`~grounddesk.audit.trail.AuditTrail`, or a test double)."""

    def record(
        self,
        kind: AuditKind | str,
        payload: Mapping[str, Any],
        *,
        actor: str | None = None,
        subject: str | None = None,
        conversation_id: str | None = None,
    ) -> object:
        """Append one event.

        Args:
            kind: What happened.
            payload: The details (JSON-able); personal data goes here, never in ``actor`` or ``kind``.
            actor: Who did it (``bot``, ``customer``, a staff username, ``cli``); None: the current scope's.
            subject: The verified customer id the event is about; None: the current scope's.
            conversation_id: The conversation; None: the current scope's.
        """
        ...


class AuditEvent(BaseModel):
    """One stored audit event."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    actor: str
    kind: str
    subject: str | None = None
    conversation_id: str | None = None
    payload: dict[str, Any]
    payload_hash: str
    prev_hash: str
    hash: str

    @property
    def erased(self) -> bool:
        """True when the personal part was replaced by a tombstone."""
        return TOMBSTONE_KEY in self.payload


ProblemKind = Literal[
    "missing",
    "unexpected",
    "broken_link",
    "hash_mismatch",
    "payload_mismatch",
    "bad_tombstone",
    "head_mismatch",
]


class VerifyProblem(BaseModel):
    """One thing :meth:`~grounddesk.audit.trail.AuditTrail.verify` found wrong.

    ``missing``: the event ``seq`` was deleted; ``unexpected``: an event that the chain head does not cover
    (inserted); ``broken_link``: its ``prev_hash`` is not the previous event's hash; ``hash_mismatch``: its record
    was edited; ``payload_mismatch``: its personal part (subject, conversation, payload) was edited;
    ``bad_tombstone``: a tombstone no erasure event vouches for; ``head_mismatch``: the chain head disagrees with
    the last event.
    """

    seq: int
    problem: ProblemKind
    detail: str


class VerifyReport(BaseModel):
    """What ``grounddesk audit verify --json`` prints."""

    ok: bool
    events: int = Field(description="Events read")
    erased: int = Field(description="Events whose personal part was erased (tombstones)")
    head_seq: int
    head_hash: str = Field(description="Record it elsewhere: a later verify proves nothing before it was rewritten")
    problems: list[VerifyProblem] = Field(default_factory=list)

    @property
    def first_bad_seq(self) -> int | None:
        """The lowest seq with a problem."""
        return min((p.seq for p in self.problems), default=None)
