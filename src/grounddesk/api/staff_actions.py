"""What a support agent does to a ticket, applied to the queue, the agent's graph and the customer's transcript.

The agent's graph pauses at the escalation interrupt only until the first person acts: the first reply (or
hand-back) resumes it with ``Command(resume=...)``; after that the conversation is in mode ``human`` and later
replies are written into the graph's state directly, with the same update the escalate node applies on resume
(:func:`grounddesk.agent.nodes.escalate.apply_resume`), so both paths leave the same state.

Every function is synchronous (the routes run them in worker threads) and holds the conversation's lock while it
changes the graph, so a customer turn never interleaves with it.
"""

from __future__ import annotations

import logging
from pathlib import PurePath
from typing import Any

from langchain_core.runnables import RunnableConfig

from grounddesk.agent.nodes.escalate import apply_resume
from grounddesk.api.auth import StaffUser
from grounddesk.api.events import live_event
from grounddesk.api.services import Services
from grounddesk.audit import AuditKind, audit_scope, safe_record, text_digest
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.escalation import (
    ConversationEventKind,
    ConversationMode,
    Ticket,
    TicketConflict,
    TicketStatus,
    TicketTransitionError,
    conversation_channel,
    reply_resume,
    return_resume,
)
from grounddesk.knowledge.loaders import load_bytes, path_doc_id
from grounddesk.tools import ActionOrigin, VerifiedIdentity

__all__ = [
    "approve_action",
    "claim",
    "hand_back",
    "knowledge_correction",
    "reject_action",
    "release",
    "reply",
    "resolve",
    "return_to_bot",
    "send_human_message",
    "typing",
]

logger = logging.getLogger(__name__)

_HELD = (TicketStatus.ASSIGNED, TicketStatus.WAITING_ON_CUSTOMER)


def _display(user: StaffUser) -> str:
    return user.display_name or user.username


def _config(conversation_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": conversation_id}}


def _audit(services: Services, kind: AuditKind, ticket: Ticket, user: StaffUser, **payload: Any) -> None:
    """Record a person's ticket action in the audit trail (about the ticket's customer and conversation)."""
    safe_record(
        services.audit,
        kind,
        {"ticket_id": ticket.id, **payload},
        actor=user.username,
        subject=ticket.customer_id,
        conversation_id=ticket.conversation_id,
    )


def claim(services: Services, ticket_id: str, user: StaffUser) -> Ticket:
    """Take an open ticket.

    Raises:
        TicketNotFound: No such ticket.
        TicketConflict: Someone else holds it.
    """
    ticket = services.queue.claim(ticket_id, user.username)
    _audit(services, AuditKind.TICKET_CLAIMED, ticket, user)
    return ticket


def release(services: Services, ticket_id: str, user: StaffUser, *, force: bool = False) -> Ticket:
    """Put a held ticket back in the queue (``force``: an admin releases anyone's).

    Raises:
        TicketNotFound: No such ticket.
        TicketConflict: Someone else holds it and ``force`` is off.
    """
    ticket = services.queue.release(ticket_id, user.username, force=force)
    _audit(services, AuditKind.TICKET_RELEASED, ticket, user, forced=force)
    return ticket


def _require_holder(ticket: Ticket, user: StaffUser) -> None:
    if ticket.status not in _HELD:
        raise TicketTransitionError(
            f"Claim the ticket first: it is {ticket.status.value}", ticket_id=ticket.id, status=ticket.status.value
        )
    if ticket.assignee != user.username:
        raise TicketConflict(f"Ticket is held by {ticket.assignee}", ticket_id=ticket.id, assignee=ticket.assignee)


def send_human_message(services: Services, ticket: Ticket, user: StaffUser, text: str, **payload: Any) -> None:
    """Put a support agent's message into the graph's transcript and the customer's events (caller holds the lock).

    The first message resumes the paused escalation; later ones update the stored state the same way.
    """
    agent = services.agent
    conversation_id = ticket.conversation_id
    value = reply_resume(user.username, text)
    if agent.pending_escalation(conversation_id) is not None:
        agent.resume(conversation_id, value)
    else:
        agent.graph.update_state(_config(conversation_id), apply_resume(value), as_node="escalate")
    services.conversations.append(
        conversation_id,
        ConversationEventKind.AGENT_MESSAGE,
        text,
        author=f"agent:{user.username}",
        payload={"agent_name": _display(user), "ticket_id": ticket.id, **payload},
    )
    services.conversations.set_mode(conversation_id, ConversationMode.HUMAN)


def hand_back(services: Services, ticket: Ticket, user: StaffUser, summary: str | None, message: str) -> None:
    """Give the conversation back to the bot with ``summary`` and tell the customer (caller holds the lock)."""
    agent = services.agent
    conversation_id = ticket.conversation_id
    value = return_resume(summary)
    if agent.pending_escalation(conversation_id) is not None:
        agent.resume(conversation_id, value)
    else:
        agent.graph.update_state(_config(conversation_id), apply_resume(value), as_node="escalate")
    services.conversations.append(
        conversation_id,
        ConversationEventKind.RETURNED_TO_BOT,
        message,
        author=f"agent:{user.username}",
        payload={"agent_name": _display(user), "ticket_id": ticket.id, "status": ticket.status.value},
    )
    services.conversations.set_mode(conversation_id, ConversationMode.BOT)


def reply(services: Services, ticket_id: str, user: StaffUser, text: str, source: str) -> Ticket:
    """Send the customer a support agent's reply (the AI draft, an edited draft, or the agent's own words).

    Raises:
        TicketNotFound: No such ticket.
        TicketConflict: Another agent holds it.
        TicketTransitionError: The ticket is not held (claim it first) or is closed.
    """
    conversation_id = services.queue.get(ticket_id).conversation_id
    with services.locks.hold(conversation_id):
        ticket = services.queue.record_agent_reply(ticket_id, user.username, text)
        send_human_message(services, ticket, user, text, source=source)
    _audit(services, AuditKind.TICKET_REPLY, ticket, user, source=source, text=text_digest(text))
    logger.info("agent replied", extra={"ticket_id": ticket_id, "source": source})
    return ticket


def typing(services: Services, ticket_id: str, user: StaffUser) -> None:
    """Show the customer that the support agent holding the ticket is typing (a live-only event)."""
    ticket = services.queue.get(ticket_id)
    _require_holder(ticket, user)
    event = live_event("typing", author="agent", agent_name=_display(user))
    services.hub.publish(conversation_channel(ticket.conversation_id), event)


def approve_action(services: Services, ticket_id: str, user: StaffUser, note: str | None) -> Ticket:
    """Run the write action waiting on the ticket, then tell the customer its outcome.

    The action runs before the queue clears it, with its idempotency key: if the back-end fails the action stays
    waiting and approving again acts once.

    Raises:
        TicketConflict: Another agent holds the ticket, or no action is waiting.
        GrounddeskError: ``connector_unavailable`` without back-ends; connector errors of the action itself.
    """
    ticket = services.queue.get(ticket_id)
    _require_holder(ticket, user)
    action = ticket.pending_action
    if action is None:
        raise TicketConflict("No action is waiting for approval on this ticket", ticket_id=ticket_id)
    toolbox = services.agent.toolbox
    if toolbox is None:
        raise GrounddeskError(
            "No CRM/ERP back-end is configured, so the action cannot run", code=ErrorCode.CONNECTOR_UNAVAILABLE
        )
    pending = ticket.payload.get("pending_action") or {}
    customer_id = ticket.customer_id or pending.get("customer_id")
    identity = VerifiedIdentity(customer_id=customer_id, method="staff") if customer_id else None
    # The tool call is audited inside the ticket's scope: its conversation, the approving person as the actor.
    with audit_scope(conversation_id=ticket.conversation_id, subject=customer_id, actor=user.username):
        outcome = toolbox.run(
            action.tool,
            action.args,
            identity=identity,
            origin=ActionOrigin.HUMAN_APPROVED,
            idempotency_key=action.idempotency_key,
        )
    with services.locks.hold(ticket.conversation_id):
        services.queue.approve_action(ticket_id, user.username)
        services.queue.note(ticket_id, user.username, f"Action {action.tool} ran: {outcome.text}" + _suffix(note))
        if outcome.text:
            ticket = services.queue.record_agent_reply(ticket_id, user.username, outcome.text)
            send_human_message(services, ticket, user, outcome.text, source="action", tool=action.tool)
    _audit(
        services, AuditKind.TICKET_ACTION_APPROVED, ticket, user, tool=action.tool, ok=outcome.ok, note=_digest(note)
    )
    logger.info("pending action approved", extra={"ticket_id": ticket_id, "tool": action.tool, "ok": outcome.ok})
    return services.queue.get(ticket_id)


def reject_action(services: Services, ticket_id: str, user: StaffUser, note: str | None) -> Ticket:
    """Drop the write action waiting on the ticket without running it.

    Raises:
        TicketConflict: Another agent holds the ticket, or no action is waiting.
    """
    action = services.queue.reject_action(ticket_id, user.username, note)
    ticket = services.queue.get(ticket_id)
    _audit(services, AuditKind.TICKET_ACTION_REJECTED, ticket, user, tool=action.tool, note=_digest(note))
    return ticket


def resolve(services: Services, ticket_id: str, user: StaffUser, note: str) -> Ticket:
    """Close the ticket as resolved; the bot takes the conversation again, knowing the resolution note."""
    conversation_id = services.queue.get(ticket_id).conversation_id
    with services.locks.hold(conversation_id):
        ticket = services.queue.resolve(ticket_id, user.username, note)
        hand_back(services, ticket, user, note, services.service.resolved_message)
    _audit(services, AuditKind.TICKET_RESOLVED, ticket, user, note=_digest(note))
    return ticket


def return_to_bot(services: Services, ticket_id: str, user: StaffUser, summary: str | None) -> Ticket:
    """Close the ticket and hand the conversation back to the bot with a summary of what was done."""
    conversation_id = services.queue.get(ticket_id).conversation_id
    with services.locks.hold(conversation_id):
        ticket = services.queue.return_to_bot(ticket_id, user.username, summary)
        hand_back(services, ticket, user, summary, services.service.returned_message)
    _audit(services, AuditKind.TICKET_RETURNED, ticket, user, summary=_digest(summary))
    return ticket


def knowledge_correction(services: Services, ticket_id: str, user: StaffUser, title: str, text: str) -> dict[str, Any]:
    """Propose corrected knowledge from a ticket: a new draft document (or draft version) for review.

    Nothing becomes searchable until a knowledge manager approves it.

    Raises:
        TicketNotFound: No such ticket.
        GrounddeskError: The text could not be imported.
    """
    ticket = services.queue.get(ticket_id)
    slug = path_doc_id(PurePath(title.strip()))
    doc_id = f"corrections/{slug}"
    results = load_bytes(f"# {title.strip()}\n\n{text.strip()}\n".encode(), filename=f"{slug}.md", doc_id=doc_id)
    report = services.knowledge.import_results(results, owner=user.username, actor=user.username, approve=False)
    if report.errors:
        error = report.errors[0]
        raise GrounddeskError(error.detail, code=ErrorCode(error.code))
    item = (report.imported or report.unchanged)[0]
    services.queue.note(ticket_id, user.username, f"Proposed a knowledge correction: {item.doc_id}@{item.version}")
    # Traced by erasure: a correction drafted from a customer's ticket may quote them.
    _audit(
        services,
        AuditKind.TICKET_KNOWLEDGE_CORRECTION,
        ticket,
        user,
        doc_id=item.doc_id,
        version=item.version,
        status=item.status,
    )
    return {"doc_id": item.doc_id, "version": item.version, "status": item.status}


def _digest(text: str | None) -> dict[str, Any] | None:
    return text_digest(text) if text else None


def _suffix(note: str | None) -> str:
    return f" (note: {note})" if note else ""
