"""Data shapes, the :class:`TicketQueue` seam and the errors of the escalation component.

A ticket is the human side of a paused conversation: the agent's escalation interrupt (reason, confidence, masked
transcript, sources, draft answer) becomes a :class:`Ticket`; support agents claim it, reply, approve or reject a
waiting write action, and finally resolve it or return the conversation to the bot. Every change is recorded as a
:class:`TicketEvent`. The customer-facing transcript is a separate, numbered stream of :class:`ConversationEvent`.

Ticket lifecycle (any other change raises :class:`TicketTransitionError`):

- ``open`` -> ``assigned`` (claim), ``resolved`` or ``returned_to_bot``;
- ``assigned`` -> ``waiting_on_customer`` (a reply that waits), ``open`` (release), ``resolved``, ``returned_to_bot``;
- ``waiting_on_customer`` -> ``assigned`` (the customer wrote back), ``open``, ``resolved``, ``returned_to_bot``;
- ``resolved`` and ``returned_to_bot`` are final: the conversation's next escalation opens a new ticket.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = [
    "ACTIVE_STATUSES",
    "ContactDetails",
    "Conversation",
    "ConversationEvent",
    "ConversationEventKind",
    "ConversationMode",
    "ConversationNotFound",
    "EscalationError",
    "EscalationInputError",
    "Feedback",
    "PendingAction",
    "Priority",
    "Rating",
    "StatusFilter",
    "Ticket",
    "TicketConflict",
    "TicketEvent",
    "TicketEventKind",
    "TicketNotFound",
    "TicketQueue",
    "TicketStatus",
    "TicketTransitionError",
]


class Priority(StrEnum):
    """How soon a person must answer; the queue lists the most urgent first."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class TicketStatus(StrEnum):
    """Where a ticket is in its lifecycle (see the module docstring)."""

    OPEN = "open"
    ASSIGNED = "assigned"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    RETURNED_TO_BOT = "returned_to_bot"


#: Statuses of a ticket that a person still has to deal with (at most one such ticket per conversation).
ACTIVE_STATUSES: frozenset[TicketStatus] = frozenset(
    {TicketStatus.OPEN, TicketStatus.ASSIGNED, TicketStatus.WAITING_ON_CUSTOMER}
)


class TicketEventKind(StrEnum):
    """What a :class:`TicketEvent` records."""

    CREATED = "created"
    CLAIMED = "claimed"
    RELEASED = "released"
    AGENT_REPLY = "agent_reply"
    CUSTOMER_MESSAGE = "customer_message"
    STATUS = "status"
    ACTION_APPROVED = "action_approved"
    ACTION_REJECTED = "action_rejected"
    RESOLVED = "resolved"
    RETURNED_TO_BOT = "returned_to_bot"
    CONTACT_LEFT = "contact_left"
    SLA_BREACHED = "sla_breached"
    NOTE = "note"


class ConversationMode(StrEnum):
    """Who speaks for the company in a conversation (mirrors the agent's checkpointed ``mode``)."""

    BOT = "bot"
    PENDING_HUMAN = "pending_human"
    HUMAN = "human"


class ConversationEventKind(StrEnum):
    """What a :class:`ConversationEvent` is."""

    CUSTOMER_MESSAGE = "customer_message"
    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"
    AGENT_MESSAGE = "agent_message"
    SYSTEM = "system"
    RETURNED_TO_BOT = "returned_to_bot"


class Rating(StrEnum):
    """A customer's thumbs up or down on a reply."""

    UP = "up"
    DOWN = "down"


class PendingAction(BaseModel):
    """A write tool call of an approval tier that needs a person's yes before it runs."""

    model_config = ConfigDict(frozen=True)

    tool: str = Field(min_length=1, description="The tool name, e.g. 'create_return'")
    args: dict[str, Any] = Field(default_factory=dict)
    summary: str = Field(description="What the action does, in words a support agent checks")
    idempotency_key: str = Field(min_length=1, description="Passed to the connector so a retry acts once")


class ContactDetails(BaseModel):
    """How a customer asked to be contacted when no support agent was available."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    message: str | None = Field(default=None, max_length=4000, description="Anything else the customer wrote")

    def given(self) -> list[str]:
        """The names of the fields the customer filled in (logged instead of the values)."""
        return [name for name, value in self.model_dump().items() if value]


class Ticket(BaseModel):
    """One escalated conversation in the human queue."""

    id: str
    conversation_id: str
    reason: str = Field(description="The agent's escalation reason code, e.g. 'fraud_or_security'")
    priority: Priority
    status: TicketStatus
    assignee: str | None = None
    customer_id: str | None = Field(default=None, description="The verified customer identity, if any")
    customer_tier: str | None = None
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None = None
    first_reply_at: datetime | None = Field(default=None, description="When a person first replied")
    sla_due_at: datetime = Field(description="When the first human reply is due")
    sla_breached_at: datetime | None = Field(default=None, description="When the queue flagged the breach")
    resolved_at: datetime | None = None
    draft: str | None = Field(default=None, description="The AI draft a person may edit and send")
    confidence: float | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict, description="The escalation interrupt payload")
    pending_action: PendingAction | None = None
    contact: ContactDetails | None = None
    contact_offered_at: datetime | None = Field(
        default=None, description="When the customer was offered to leave contact details (nobody could take over)"
    )
    resolution_note: str | None = None

    @property
    def is_active(self) -> bool:
        """Whether a person still has to deal with the ticket."""
        return self.status in ACTIVE_STATUSES

    def is_overdue(self, now: datetime) -> bool:
        """Whether the first human reply is late at ``now``."""
        return (
            self.status in (TicketStatus.OPEN, TicketStatus.ASSIGNED)
            and self.first_reply_at is None
            and self.sla_due_at <= now
        )


class TicketEvent(BaseModel):
    """One entry of a ticket's append-only history."""

    id: int
    ticket_id: str
    at: datetime
    actor: str = Field(description="'bot', 'customer', 'system' or the support agent's username")
    kind: TicketEventKind
    data: dict[str, Any] = Field(default_factory=dict)


class Conversation(BaseModel):
    """A conversation as the service lists it."""

    id: str
    created_at: datetime
    last_activity_at: datetime
    customer_id: str | None = None
    audiences: list[str] = Field(default_factory=lambda: ["public"])
    channel: str
    mode: ConversationMode
    last_seq: int = Field(description="The seq of the newest event (0 when there is none)")
    closed_at: datetime | None = None


class ConversationEvent(BaseModel):
    """One numbered entry of a conversation's transcript, as the widget replays it."""

    id: int
    conversation_id: str
    seq: int = Field(ge=1, description="1, 2, ... per conversation, in the order the events were stored")
    kind: ConversationEventKind
    client_message_id: str | None = None
    reply_to: str | None = Field(default=None, description="The client message id this event answers")
    author: str = Field(description="'customer', 'bot', 'system' or 'agent:<username>'")
    text: str = Field(description="Masked for customer messages")
    payload: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    duplicate: bool = Field(default=False, description="True when this append found the event already stored")


class Feedback(BaseModel):
    """A customer's rating of one event of a conversation."""

    id: int
    conversation_id: str
    event_seq: int
    rating: Rating
    comment: str | None = None
    created_at: datetime
    updated_at: datetime


class EscalationError(GrounddeskError):
    """Root of the escalation component's errors."""

    code = ErrorCode.INTERNAL


class TicketNotFound(EscalationError):
    """No ticket has this id."""

    code = ErrorCode.TICKET_NOT_FOUND


class TicketConflict(EscalationError):
    """Another support agent holds the ticket, or a concurrent change got there first."""

    code = ErrorCode.TICKET_CONFLICT


class TicketTransitionError(EscalationError):
    """A change the ticket lifecycle does not allow from the ticket's status (e.g. replying to a resolved one)."""

    code = ErrorCode.INVALID_TRANSITION


class ConversationNotFound(EscalationError):
    """No conversation has this id."""

    code = ErrorCode.CONVERSATION_NOT_FOUND


class EscalationInputError(EscalationError):
    """A request that refers to something that cannot be used (e.g. feedback on a customer's own message)."""

    code = ErrorCode.INVALID_INPUT


#: A status filter of :meth:`TicketQueue.list`: one status, several, or None for all.
StatusFilter = TicketStatus | Sequence[TicketStatus] | None


@runtime_checkable
class TicketQueue(Protocol):
    """The persistent queue of escalated conversations.

    Every method that changes a ticket appends a :class:`TicketEvent` in the same transaction and returns the
    ticket as stored afterwards. Support agents act only on tickets that are open or that they hold; acting on a
    ticket someone else holds raises :class:`TicketConflict`.
    """

    def open_ticket(
        self,
        conversation_id: str,
        reason: str,
        payload: dict[str, Any],
        *,
        customer_id: str | None = None,
        tier: str | None = None,
        draft: str | None = None,
        confidence: float | None = None,
        sources: Sequence[dict[str, Any]] = (),
        pending_action: PendingAction | None = None,
    ) -> Ticket:
        """Open a ticket, or return the conversation's active one (idempotent)."""
        ...

    def get(self, ticket_id: str) -> Ticket:
        """The ticket; raises :class:`TicketNotFound`."""
        ...

    def active_for_conversation(self, conversation_id: str) -> Ticket | None:
        """The conversation's open, assigned or waiting ticket, if any."""
        ...

    def list(
        self,
        *,
        status: StatusFilter = None,
        assignee: str | None = None,
        overdue_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Ticket]:
        """Tickets, most urgent first, then by SLA due time."""
        ...

    def claim(self, ticket_id: str, agent: str) -> Ticket:
        """Take an open ticket; exactly one of two racing agents wins."""
        ...

    def release(self, ticket_id: str, agent: str, *, force: bool = False) -> Ticket:
        """Put a held ticket back in the queue."""
        ...

    def record_agent_reply(self, ticket_id: str, agent: str, text: str, *, wait_for_customer: bool = False) -> Ticket:
        """Log a support agent's reply to the customer."""
        ...

    def record_customer_message(self, ticket_id: str, text: str, *, seq: int | None = None) -> Ticket:
        """Log a (masked) customer message that arrived while a person owns the conversation."""
        ...

    def set_status(self, ticket_id: str, status: TicketStatus, *, actor: str) -> Ticket:
        """Move the ticket to ``status`` if the lifecycle allows it."""
        ...

    def resolve(self, ticket_id: str, agent: str, note: str | None = None) -> Ticket:
        """Close the ticket as resolved by a person."""
        ...

    def return_to_bot(self, ticket_id: str, agent: str, summary: str | None = None) -> Ticket:
        """Close the ticket and hand the conversation back to the bot."""
        ...

    def approve_action(self, ticket_id: str, agent: str) -> PendingAction:
        """Clear the waiting action and return it for the caller to execute."""
        ...

    def reject_action(self, ticket_id: str, agent: str, reason: str | None = None) -> PendingAction:
        """Clear the waiting action without executing it."""
        ...

    def leave_contact(self, ticket_id: str, contact: ContactDetails) -> Ticket:
        """Store how the customer wants to be contacted."""
        ...

    def note(self, ticket_id: str, actor: str, text: str) -> TicketEvent:
        """Add an internal note to the ticket's history."""
        ...

    def flag_overdue(self, now: datetime | None = None) -> builtins.list[Ticket]:
        """Mark tickets whose first reply is late; each is flagged once."""
        ...

    def awaiting_contact_offer(
        self, *, created_before: datetime | None = None, limit: int = 500
    ) -> builtins.list[Ticket]:
        """Open tickets whose customer was not offered to leave contact details yet, oldest first."""
        ...

    def mark_contact_offered(self, ticket_id: str, now: datetime | None = None) -> bool:
        """Record that the customer was offered to leave contact details; False when it was recorded before."""
        ...

    def events(self, ticket_id: str) -> builtins.list[TicketEvent]:
        """The ticket's history, oldest first."""
        ...
