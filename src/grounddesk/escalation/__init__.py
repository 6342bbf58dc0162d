"""When to escalate, the persistent human queue, and hand-back to the bot.

- :mod:`~grounddesk.escalation.policy`: priorities, SLAs and business hours (pure functions);
- :class:`SqlTicketQueue`: the :class:`TicketQueue` on grounddesk's SQL store;
- :class:`ConversationStore`: conversations, their numbered events and feedback;
- :class:`EventHub`: in-process live updates for sockets;
- :mod:`~grounddesk.escalation.handoff`: the agent's interrupt payload to a ticket, a person's action to a resume.
"""

from grounddesk.escalation.conversations import ConversationStore
from grounddesk.escalation.handoff import HandoffRequest, open_ticket_for, reply_resume, return_resume
from grounddesk.escalation.hub import TICKETS_CHANNEL, EventHub, Subscription, conversation_channel
from grounddesk.escalation.policy import (
    DEFAULT_REASON_PRIORITIES,
    BusinessHours,
    EscalationSettings,
    agents_available,
    next_business_opening,
    priority_for,
    priority_rank,
    should_offer_contact,
    sla_due,
    within_business_hours,
)
from grounddesk.escalation.queue import SqlTicketQueue
from grounddesk.escalation.types import (
    ACTIVE_STATUSES,
    ContactDetails,
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    ConversationMode,
    ConversationNotFound,
    EscalationError,
    EscalationInputError,
    Feedback,
    PendingAction,
    Priority,
    Rating,
    Ticket,
    TicketConflict,
    TicketEvent,
    TicketEventKind,
    TicketNotFound,
    TicketQueue,
    TicketStatus,
    TicketTransitionError,
)

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_REASON_PRIORITIES",
    "TICKETS_CHANNEL",
    "BusinessHours",
    "ContactDetails",
    "Conversation",
    "ConversationEvent",
    "ConversationEventKind",
    "ConversationMode",
    "ConversationNotFound",
    "ConversationStore",
    "EscalationError",
    "EscalationInputError",
    "EscalationSettings",
    "EventHub",
    "Feedback",
    "HandoffRequest",
    "PendingAction",
    "Priority",
    "Rating",
    "SqlTicketQueue",
    "Subscription",
    "Ticket",
    "TicketConflict",
    "TicketEvent",
    "TicketEventKind",
    "TicketNotFound",
    "TicketQueue",
    "TicketStatus",
    "TicketTransitionError",
    "agents_available",
    "conversation_channel",
    "next_business_opening",
    "open_ticket_for",
    "priority_for",
    "priority_rank",
    "reply_resume",
    "return_resume",
    "should_offer_contact",
    "sla_due",
    "within_business_hours",
]
