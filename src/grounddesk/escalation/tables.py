"""SQL tables of conversations and of the human escalation queue.

Their schema is created by the migration ``0003_escalation``; a test compares the two.

- ``conversations``: one row per conversation (the agent's LangGraph ``thread_id``), with its mode mirrored for
  listing and ``last_seq``, the counter from which each new event takes its sequence number.
- ``conversation_events``: the transcript the widget replays (customer messages masked, bot and agent replies,
  hand-offs), numbered ``seq`` 1, 2, ... per conversation.
- ``feedback``: a thumbs up or down on one event.
- ``tickets``: the human queue; at most one open ticket per conversation, enforced by a partial unique index.
- ``ticket_events``: the append-only history of every ticket.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from grounddesk.db.base import JSONType, metadata
from grounddesk.db.types import UTCDateTime

__all__ = [
    "CLOSED_TICKET_STATUSES",
    "CONVERSATION_EVENT_KINDS",
    "CONVERSATION_MODES",
    "TICKET_EVENT_KINDS",
    "TICKET_PRIORITIES",
    "TICKET_STATUSES",
    "conversation_events",
    "conversations",
    "feedback",
    "ticket_events",
    "tickets",
]

CONVERSATION_MODES = ("bot", "pending_human", "human")
CONVERSATION_EVENT_KINDS = (
    "customer_message",
    "answer",
    "clarify",
    "handoff",
    "agent_message",
    "system",
    "returned_to_bot",
)
TICKET_PRIORITIES = ("urgent", "high", "normal", "low")
TICKET_STATUSES = ("open", "assigned", "waiting_on_customer", "resolved", "returned_to_bot")
#: Statuses after which a conversation may get a new ticket.
CLOSED_TICKET_STATUSES = ("resolved", "returned_to_bot")
TICKET_EVENT_KINDS = (
    "created",
    "claimed",
    "released",
    "agent_reply",
    "customer_message",
    "status",
    "action_approved",
    "action_rejected",
    "resolved",
    "returned_to_bot",
    "contact_left",
    "sla_breached",
    "note",
)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


conversations = Table(
    "conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_activity_at", UTCDateTime, nullable=False),
    Column("customer_id", String(64), nullable=True),
    Column("audiences", JSONType, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    CheckConstraint(f"mode IN ({_in(CONVERSATION_MODES)})", name="mode"),
    CheckConstraint("last_seq >= 0", name="last_seq_not_negative"),
    Index("ix_conversations_last_activity_at", "last_activity_at"),
    Index("ix_conversations_customer_id", "customer_id"),
)

conversation_events = Table(
    "conversation_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("client_message_id", String(128), nullable=True),
    # The client message id of the customer message this event answers (bot answer, clarification, hand-off).
    Column("reply_to", String(128), nullable=True),
    Column("author", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("payload", JSONType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(f"kind IN ({_in(CONVERSATION_EVENT_KINDS)})", name="kind"),
    CheckConstraint("seq >= 1", name="seq_positive"),
    UniqueConstraint("conversation_id", "seq", name="uq_conversation_events_seq"),
    # NULL client ids are distinct on both back-ends: only messages that carry an id are de-duplicated.
    UniqueConstraint("conversation_id", "kind", "client_message_id", name="uq_conversation_events_client_message"),
    Index("ix_conversation_events_reply_to", "conversation_id", "reply_to"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("event_seq", Integer, nullable=False),
    Column("rating", String(8), nullable=False),
    Column("comment", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("rating IN ('up', 'down')", name="rating"),
    UniqueConstraint("conversation_id", "event_seq", name="uq_feedback_event"),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("assignee", String(200), nullable=True),
    Column("customer_id", String(64), nullable=True),
    Column("customer_tier", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("first_reply_at", UTCDateTime, nullable=True),
    Column("sla_due_at", UTCDateTime, nullable=False),
    Column("sla_breached_at", UTCDateTime, nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("draft", Text, nullable=True),
    Column("confidence", Float, nullable=True),
    Column("sources", JSONType, nullable=False),
    Column("payload", JSONType, nullable=False),
    Column("pending_action", JSONType, nullable=True),
    Column("contact", JSONType, nullable=True),
    Column("resolution_note", Text, nullable=True),
    Column("contact_offered_at", UTCDateTime, nullable=True),
    CheckConstraint(f"priority IN ({_in(TICKET_PRIORITIES)})", name="priority"),
    CheckConstraint(f"status IN ({_in(TICKET_STATUSES)})", name="status"),
    Index("ix_tickets_status", "status", "sla_due_at"),
    Index("ix_tickets_assignee", "assignee"),
    Index("ix_tickets_conversation_id", "conversation_id"),
    # At most one ticket per conversation that a human still has to deal with.
    Index(
        "uq_tickets_one_open_per_conversation",
        "conversation_id",
        unique=True,
        sqlite_where=text(f"status NOT IN ({_in(CLOSED_TICKET_STATUSES)})"),
        postgresql_where=text(f"status NOT IN ({_in(CLOSED_TICKET_STATUSES)})"),
    ),
)

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(36), ForeignKey("tickets.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", JSONType, nullable=False),
    CheckConstraint(f"kind IN ({_in(TICKET_EVENT_KINDS)})", name="kind"),
    Index("ix_ticket_events_ticket_id", "ticket_id", "id"),
)
