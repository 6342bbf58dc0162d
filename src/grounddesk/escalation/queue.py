"""The human queue in grounddesk's SQL store (SQLite or PostgreSQL).

Concurrency: every change runs in one transaction that locks the ticket row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite transactions take the write lock at ``BEGIN IMMEDIATE``) and appends its ticket event in that
same transaction. A claim is one conditional ``UPDATE ... WHERE status = 'open'``: of agents claiming at the same
moment exactly one changes the row and the others get :class:`TicketConflict`. At most one active ticket per
conversation is enforced by a partial unique index, and :meth:`SqlTicketQueue.open_ticket` returns the active
ticket instead of opening a second one.

What the service does around the queue (the queue changes tickets only):

1. the agent's turn ends in an escalation: ``open_ticket_for(queue, conversation_id, result.escalation, ...)``
   (:mod:`grounddesk.escalation.handoff`), conversation mode ``pending_human``;
2. a support agent claims the ticket and replies: ``record_agent_reply``, then
   ``Agent.resume(conversation_id, reply_resume(agent, text))``, conversation mode ``human``;
3. customer messages while a person owns the conversation: ``record_customer_message``;
4. done: ``resolve`` or ``return_to_bot`` and ``Agent.resume(conversation_id, return_resume(summary))``.

Example:
    >>> queue = SqlTicketQueue(engine, EscalationSettings())
    >>> ticket = queue.open_ticket("conv-1", "fraud_or_security", payload, tier="premium")
    >>> queue.claim(ticket.id, "kim").status
    <TicketStatus.ASSIGNED: 'assigned'>
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, insert, select, update

from grounddesk.db.engine import assert_engine_configured, read_only
from grounddesk.db.types import utc_now
from grounddesk.db.unit import after_commit, writing
from grounddesk.escalation._sql import Clock, json_or_null
from grounddesk.escalation._ticket_rows import (
    HELD,
    active_ticket,
    check_change,
    load_ticket,
    log_event,
    ticket_from_row,
)
from grounddesk.escalation.hub import TICKETS_CHANNEL, EventHub
from grounddesk.escalation.policy import EscalationSettings, priority_for, priority_rank, sla_due
from grounddesk.escalation.tables import conversations, ticket_events, tickets
from grounddesk.escalation.types import (
    ContactDetails,
    ConversationNotFound,
    EscalationInputError,
    PendingAction,
    Priority,
    StatusFilter,
    Ticket,
    TicketConflict,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
)

__all__ = ["SqlTicketQueue"]

_log = logging.getLogger(__name__)

_OPEN = TicketStatus.OPEN
_ACTIVE = (TicketStatus.OPEN, *HELD)
_SLA_RUNNING = (TicketStatus.OPEN, TicketStatus.ASSIGNED)
_PRIORITY_ORDER = case({p.value: priority_rank(p) for p in Priority}, value=tickets.c.priority)
_MAX_PAGE = 500
_SIDE_EFFECT_STATUS = (TicketEventKind.AGENT_REPLY, TicketEventKind.CUSTOMER_MESSAGE)


class SqlTicketQueue:
    """:class:`~grounddesk.escalation.types.TicketQueue` on grounddesk's SQL store.

    Args:
        engine: An engine made by :func:`grounddesk.db.create_engine_for`, migrated to head.
        settings: Priorities and SLAs; defaults when None.
        clock: The current moment (tests pass a fake one).
        hub: When given, every change is published on the ``tickets`` channel after it commits.
    """

    def __init__(
        self,
        engine: Engine,
        settings: EscalationSettings | None = None,
        clock: Clock = utc_now,
        hub: EventHub | None = None,
    ) -> None:
        assert_engine_configured(engine)
        self._engine = engine
        self._read = read_only(engine)
        self.settings = settings or EscalationSettings()
        self._clock = clock
        self._hub = hub

    # -- opening and reading ---------------------------------------------------------------------------------

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
        """Open a ticket for a conversation, or return its active ticket unchanged (idempotent).

        Args:
            conversation_id: The conversation (must exist in the conversation store).
            reason: The escalation reason code; with ``tier`` it sets the priority.
            payload: The agent's escalation interrupt payload (masked transcript, sources, draft, ...).
            customer_id: The verified customer identity, if any.
            tier: The customer's tier (e.g. ``premium``).
            draft: The AI draft answer a person may edit and send.
            confidence: The agent's confidence in the draft.
            sources: The retrieved sources (``doc_id``, ``version``, ``title``, ...).
            pending_action: A write action waiting for a person's approval.

        Returns:
            The new ticket, or the conversation's active one.

        Raises:
            ConversationNotFound: No such conversation.
        """
        now = self._clock()
        priority = priority_for(reason, tier, self.settings)
        with writing(self._engine) as conn:
            # Locking the conversation row makes concurrent opens for one conversation take turns.
            locked = conn.execute(
                select(conversations.c.id).where(conversations.c.id == conversation_id).with_for_update(key_share=True)
            ).first()
            if locked is None:
                raise ConversationNotFound(f"No conversation {conversation_id!r}", conversation_id=conversation_id)
            existing = active_ticket(conn, conversation_id)
            if existing is not None:
                return existing
            ticket_id = str(uuid.uuid4())
            due = sla_due(now, priority, self.settings)
            conn.execute(
                insert(tickets).values(
                    id=ticket_id,
                    conversation_id=conversation_id,
                    reason=reason,
                    priority=priority.value,
                    status=_OPEN.value,
                    customer_id=customer_id,
                    customer_tier=tier,
                    created_at=now,
                    updated_at=now,
                    sla_due_at=due,
                    draft=draft,
                    confidence=confidence,
                    sources=list(sources),
                    payload=payload,
                    pending_action=json_or_null(pending_action and pending_action.model_dump(mode="json")),
                    contact=json_or_null(None),
                )
            )
            data = {"reason": reason, "priority": priority.value, "sla_due_at": due.isoformat()}
            if pending_action is not None:
                data["pending_action"] = pending_action.tool
            log_event(conn, ticket_id, now, "bot", TicketEventKind.CREATED, data)
            ticket = load_ticket(conn, ticket_id)
        _log.info("ticket opened", extra={"ticket_id": ticket_id, "reason": reason, "priority": priority.value})
        self._publish(ticket, TicketEventKind.CREATED)
        return ticket

    def get(self, ticket_id: str) -> Ticket:
        """The ticket.

        Raises:
            TicketNotFound: No ticket has this id.
        """
        with self._read.begin() as conn:
            return load_ticket(conn, ticket_id)

    def active_for_conversation(self, conversation_id: str) -> Ticket | None:
        """The conversation's open, assigned or waiting ticket, if any."""
        with self._read.begin() as conn:
            return active_ticket(conn, conversation_id)

    def list(
        self,
        *,
        status: StatusFilter = None,
        assignee: str | None = None,
        overdue_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Ticket]:
        """Tickets, most urgent first, then the earliest SLA due time, then the oldest.

        Args:
            status: One status, several, or None for all.
            assignee: Only tickets held by this support agent.
            overdue_only: Only tickets whose first human reply is late now.
            limit: Page size, 1 to 500.
            offset: Tickets to skip.

        Returns:
            One page of tickets.
        """
        if not 1 <= limit <= _MAX_PAGE or offset < 0:
            raise EscalationInputError(f"limit must be 1..{_MAX_PAGE} and offset >= 0", limit=limit, offset=offset)
        query = select(tickets)
        if status is not None:
            wanted = [status] if isinstance(status, TicketStatus) else list(status)
            query = query.where(tickets.c.status.in_([TicketStatus(s).value for s in wanted]))
        if assignee is not None:
            query = query.where(tickets.c.assignee == assignee)
        if overdue_only:
            query = query.where(
                tickets.c.status.in_([s.value for s in _SLA_RUNNING]),
                tickets.c.first_reply_at.is_(None),
                tickets.c.sla_due_at <= self._clock(),
            )
        query = query.order_by(_PRIORITY_ORDER, tickets.c.sla_due_at, tickets.c.created_at, tickets.c.id)
        with self._read.begin() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
        return [ticket_from_row(row) for row in rows]

    def events(self, ticket_id: str) -> builtins.list[TicketEvent]:
        """The ticket's history, oldest first.

        Raises:
            TicketNotFound: No ticket has this id.
        """
        with self._read.begin() as conn:
            load_ticket(conn, ticket_id)
            rows = conn.execute(
                select(ticket_events).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.id)
            ).mappings()
            return [TicketEvent.model_validate(dict(row)) for row in rows]

    # -- support agents ----------------------------------------------------------------------------------------

    def claim(self, ticket_id: str, agent: str) -> Ticket:
        """Take an open ticket. Claiming a ticket one already holds returns it unchanged.

        Args:
            ticket_id: The ticket.
            agent: The support agent's username.

        Returns:
            The ticket, assigned to ``agent``.

        Raises:
            TicketNotFound: No ticket has this id.
            TicketConflict: Another agent holds it (e.g. won a simultaneous claim).
            TicketTransitionError: The ticket is closed.
        """
        now = self._clock()
        with writing(self._engine) as conn:
            claimed = conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id, tickets.c.status == _OPEN.value)
                .values(status=TicketStatus.ASSIGNED.value, assignee=agent, claimed_at=now, updated_at=now)
            ).rowcount
            if claimed != 1:
                current = load_ticket(conn, ticket_id)
                if current.status in HELD and current.assignee == agent:
                    return current
                check_change(current, agent, "claim", allowed=_ACTIVE)  # raises: held by another, or closed
                # Released again between our UPDATE and this read: the claim did not happen.
                raise TicketConflict("The ticket changed while claiming it; try again", ticket_id=ticket_id)
            log_event(conn, ticket_id, now, agent, TicketEventKind.CLAIMED, {})
            ticket = load_ticket(conn, ticket_id)
        self._publish(ticket, TicketEventKind.CLAIMED)
        return ticket

    def release(self, ticket_id: str, agent: str, *, force: bool = False) -> Ticket:
        """Put a held ticket back in the queue, open for anyone to claim.

        Args:
            ticket_id: The ticket.
            agent: Who releases it.
            force: Release it even when another agent holds it (a supervisor's override).

        Raises:
            TicketNotFound, TicketConflict, TicketTransitionError: See :meth:`claim`.
        """

        def change(current: Ticket, now: datetime) -> dict[str, Any]:
            check_change(current, agent, "release", allowed=HELD, holder=not force)
            return {"status": _OPEN.value, "assignee": None}

        return self._change(ticket_id, agent, TicketEventKind.RELEASED, change, lambda t: {"previous": t.assignee})

    def record_agent_reply(self, ticket_id: str, agent: str, text: str, *, wait_for_customer: bool = False) -> Ticket:
        """Log a support agent's reply; the first reply stops the SLA clock.

        Args:
            ticket_id: The ticket, held by ``agent``.
            agent: The support agent's username.
            text: What they sent the customer.
            wait_for_customer: Also move the ticket to ``waiting_on_customer``.

        Raises:
            TicketNotFound, TicketConflict, TicketTransitionError: See :meth:`claim`.
        """
        if not text.strip():
            raise EscalationInputError("A reply needs a text")

        def change(current: Ticket, now: datetime) -> dict[str, Any]:
            check_change(current, agent, "reply", allowed=HELD)
            values: dict[str, Any] = {}
            if current.first_reply_at is None:
                values["first_reply_at"] = now
            if wait_for_customer:
                values["status"] = TicketStatus.WAITING_ON_CUSTOMER.value
            return values

        return self._change(ticket_id, agent, TicketEventKind.AGENT_REPLY, change, lambda _: {"text": text})

    def set_status(self, ticket_id: str, status: TicketStatus, *, actor: str) -> Ticket:
        """Move the ticket to ``status`` when the lifecycle allows it.

        ``open`` releases, ``assigned`` claims an open ticket (or ends waiting), ``resolved`` resolves and
        ``returned_to_bot`` returns the conversation; ``waiting_on_customer`` needs an assigned ticket.

        Raises:
            TicketNotFound, TicketConflict, TicketTransitionError: See :meth:`claim`.
        """
        status = TicketStatus(status)
        if status is TicketStatus.OPEN:
            return self.release(ticket_id, actor)
        if status is TicketStatus.RESOLVED:
            return self.resolve(ticket_id, actor)
        if status is TicketStatus.RETURNED_TO_BOT:
            return self.return_to_bot(ticket_id, actor)
        if status is TicketStatus.ASSIGNED and self.get(ticket_id).status is _OPEN:
            return self.claim(ticket_id, actor)
        source = TicketStatus.WAITING_ON_CUSTOMER if status is TicketStatus.ASSIGNED else TicketStatus.ASSIGNED

        def change(current: Ticket, now: datetime) -> dict[str, Any]:
            check_change(current, actor, f"set status {status.value}", allowed=(source,))
            return {"status": status.value}

        return self._change(
            ticket_id, actor, TicketEventKind.STATUS, change, lambda _: {"from": source.value, "to": status.value}
        )

    def resolve(self, ticket_id: str, agent: str, note: str | None = None) -> Ticket:
        """Close the ticket as resolved. A waiting action is dropped (and logged).

        Args:
            ticket_id: The ticket, open or held by ``agent``.
            agent: Who resolves it.
            note: The resolution, for the record.

        Raises:
            TicketNotFound, TicketConflict, TicketTransitionError: See :meth:`claim`.
        """
        return self._close(ticket_id, agent, TicketStatus.RESOLVED, TicketEventKind.RESOLVED, note, "note")

    def return_to_bot(self, ticket_id: str, agent: str, summary: str | None = None) -> Ticket:
        """Close the ticket and hand the conversation back to the bot with a summary of what was done.

        Args:
            ticket_id: The ticket, open or held by ``agent``.
            agent: Who hands it back.
            summary: What the person did; the bot keeps it (pass it to ``return_resume`` too).

        Raises:
            TicketNotFound, TicketConflict, TicketTransitionError: See :meth:`claim`.
        """
        return self._close(
            ticket_id, agent, TicketStatus.RETURNED_TO_BOT, TicketEventKind.RETURNED_TO_BOT, summary, "summary"
        )

    def approve_action(self, ticket_id: str, agent: str) -> PendingAction:
        """Approve the waiting write action: it is cleared and returned for the caller to execute.

        Execute it with its ``idempotency_key``, so a retry after a crash acts once.

        Raises:
            TicketNotFound, TicketTransitionError: See :meth:`claim`.
            TicketConflict: Another agent holds the ticket, or no action is waiting (e.g. approved already).
        """
        return self._decide_action(ticket_id, agent, TicketEventKind.ACTION_APPROVED, None)

    def reject_action(self, ticket_id: str, agent: str, reason: str | None = None) -> PendingAction:
        """Reject the waiting write action: it is cleared and returned, and must not be executed.

        Raises:
            TicketNotFound, TicketConflict, TicketTransitionError: See :meth:`approve_action`.
        """
        return self._decide_action(ticket_id, agent, TicketEventKind.ACTION_REJECTED, reason)

    def note(self, ticket_id: str, actor: str, text: str) -> TicketEvent:
        """Add an internal note (never shown to the customer) to the ticket's history.

        Raises:
            TicketNotFound: No ticket has this id.
        """
        now = self._clock()
        with writing(self._engine) as conn:
            load_ticket(conn, ticket_id, for_update=True)
            event_id = log_event(conn, ticket_id, now, actor, TicketEventKind.NOTE, {"text": text})
        return TicketEvent(
            id=event_id, ticket_id=ticket_id, at=now, actor=actor, kind=TicketEventKind.NOTE, data={"text": text}
        )

    # -- the customer ------------------------------------------------------------------------------------------

    def record_customer_message(self, ticket_id: str, text: str, *, seq: int | None = None) -> Ticket:
        """Log a customer message (already masked) that arrived while a person owns the conversation.

        A ticket waiting on the customer goes back to ``assigned``.

        Args:
            ticket_id: The active ticket.
            text: The masked message.
            seq: Its seq in the conversation's events.

        Raises:
            TicketNotFound: No ticket has this id.
            TicketTransitionError: The ticket is closed.
        """

        def change(current: Ticket, now: datetime) -> dict[str, Any]:
            check_change(current, "customer", "add a customer message", allowed=_ACTIVE, holder=False)
            if current.status is TicketStatus.WAITING_ON_CUSTOMER:
                return {"status": TicketStatus.ASSIGNED.value}
            return {}

        return self._change(
            ticket_id, "customer", TicketEventKind.CUSTOMER_MESSAGE, change, lambda _: {"text": text, "seq": seq}
        )

    def leave_contact(self, ticket_id: str, contact: ContactDetails) -> Ticket:
        """Store how the customer wants to be contacted (when nobody could take the conversation).

        The event records which fields were given, not their values.

        Raises:
            TicketNotFound: No ticket has this id.
            TicketTransitionError: The ticket is closed.
            EscalationInputError: No field was filled in.
        """
        if not contact.given():
            raise EscalationInputError("Leave at least one way to be contacted")

        def change(current: Ticket, now: datetime) -> dict[str, Any]:
            check_change(current, "customer", "leave contact details", allowed=_ACTIVE, holder=False)
            return {"contact": contact.model_dump(mode="json")}

        return self._change(
            ticket_id, "customer", TicketEventKind.CONTACT_LEFT, change, lambda _: {"fields": contact.given()}
        )

    # -- the clock -------------------------------------------------------------------------------------------------

    def flag_overdue(self, now: datetime | None = None) -> builtins.list[Ticket]:
        """Flag the tickets whose first human reply is late; each ticket is flagged once.

        Run it periodically (the service's background task). Concurrent runs flag each ticket once.

        Args:
            now: The moment to judge by; the clock's when None.

        Returns:
            The tickets flagged by this call.
        """
        now = now or self._clock()
        with writing(self._engine) as conn:
            flagged = conn.execute(
                update(tickets)
                .where(
                    tickets.c.status.in_([s.value for s in _SLA_RUNNING]),
                    tickets.c.first_reply_at.is_(None),
                    tickets.c.sla_breached_at.is_(None),
                    tickets.c.sla_due_at <= now,
                )
                .values(sla_breached_at=now)
                .returning(tickets.c.id)
            ).all()
            result = []
            for (ticket_id,) in flagged:
                ticket = load_ticket(conn, ticket_id)
                data = {"sla_due_at": ticket.sla_due_at.isoformat(), "priority": ticket.priority.value}
                log_event(conn, ticket_id, now, "system", TicketEventKind.SLA_BREACHED, data)
                result.append(ticket)
        for ticket in result:
            _log.warning("ticket SLA breached", extra={"ticket_id": ticket.id, "priority": ticket.priority.value})
            self._publish(ticket, TicketEventKind.SLA_BREACHED)
        return sorted(result, key=lambda t: (priority_rank(t.priority), t.sla_due_at, t.id))

    def awaiting_contact_offer(
        self, *, created_before: datetime | None = None, limit: int = _MAX_PAGE
    ) -> builtins.list[Ticket]:
        """Open tickets whose customer was neither offered to leave contact details nor left them, oldest first.

        One indexed query however long the queue is, so the sweep stays cheap with thousands of tickets open.

        Args:
            created_before: Only tickets opened before this moment (nobody claimed them in time); None for all
                (nobody can take a conversation now).
            limit: At most this many, 1 to 500.
        """
        if not 1 <= limit <= _MAX_PAGE:
            raise EscalationInputError(f"limit must be 1..{_MAX_PAGE}", limit=limit)
        query = select(tickets).where(
            tickets.c.status == _OPEN.value,
            tickets.c.contact_offered_at.is_(None),
            tickets.c.contact.is_(None),
        )
        if created_before is not None:
            query = query.where(tickets.c.created_at <= created_before)
        query = query.order_by(tickets.c.created_at, tickets.c.id).limit(limit)
        with self._read.begin() as conn:
            rows = conn.execute(query).mappings().all()
        return [ticket_from_row(row) for row in rows]

    def mark_contact_offered(self, ticket_id: str, now: datetime | None = None) -> bool:
        """Record that the customer was offered to leave contact details (show it once per ticket).

        Returns:
            True for the call that recorded it; False when it was recorded before.

        Raises:
            TicketNotFound: No ticket has this id.
        """
        now = now or self._clock()
        with writing(self._engine) as conn:
            load_ticket(conn, ticket_id, for_update=True)
            changed = conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id, tickets.c.contact_offered_at.is_(None))
                .values(contact_offered_at=now)
            ).rowcount
        return changed == 1

    # -- internals ---------------------------------------------------------------------------------------------

    def _close(
        self, ticket_id: str, agent: str, status: TicketStatus, kind: TicketEventKind, text: str | None, key: str
    ) -> Ticket:
        def change(current: Ticket, now: datetime) -> dict[str, Any]:
            check_change(current, agent, kind.value.replace("_", " "), allowed=_ACTIVE)
            values: dict[str, Any] = {
                "status": status.value,
                "resolved_at": now,
                "resolution_note": text,
                "pending_action": json_or_null(None),
            }
            if current.status is _OPEN:
                values["assignee"] = agent
            return values

        def data(before: Ticket) -> dict[str, Any]:
            out: dict[str, Any] = {key: text}
            if before.pending_action is not None:
                out["dropped_action"] = before.pending_action.model_dump(mode="json")
            return out

        return self._change(ticket_id, agent, kind, change, data)

    def _decide_action(self, ticket_id: str, agent: str, kind: TicketEventKind, reason: str | None) -> PendingAction:
        now = self._clock()
        with writing(self._engine) as conn:
            current = load_ticket(conn, ticket_id, for_update=True)
            check_change(current, agent, kind.value.replace("_", " "), allowed=HELD)
            action = current.pending_action
            if action is None:
                raise TicketConflict("No action is waiting for approval on this ticket", ticket_id=ticket_id)
            conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id)
                .values(pending_action=json_or_null(None), updated_at=now)
            )
            data: dict[str, Any] = {"action": action.model_dump(mode="json")}
            if reason is not None:
                data["reason"] = reason
            log_event(conn, ticket_id, now, agent, kind, data)
            ticket = load_ticket(conn, ticket_id)
        self._publish(ticket, kind)
        return action

    def _change(
        self,
        ticket_id: str,
        actor: str,
        kind: TicketEventKind,
        change: Callable[[Ticket, datetime], dict[str, Any]],
        event_data: Callable[[Ticket], dict[str, Any]],
    ) -> Ticket:
        """Lock the ticket, let ``change`` check it and say what to set, write it and its event together."""
        now = self._clock()
        with writing(self._engine) as conn:
            current = load_ticket(conn, ticket_id, for_update=True)
            values = dict(change(current, now))
            values["updated_at"] = now
            conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(**values))
            log_event(conn, ticket_id, now, actor, kind, event_data(current))
            if kind in _SIDE_EFFECT_STATUS and values.get("status", current.status.value) != current.status.value:
                # A reply that waits on the customer, or a customer message that ends the wait, also gets a
                # status event, so the history reads as a sequence of statuses too.
                data = {"from": current.status.value, "to": values["status"], "by": kind.value}
                log_event(conn, ticket_id, now, actor, TicketEventKind.STATUS, data)
            ticket = load_ticket(conn, ticket_id)
        self._publish(ticket, kind)
        return ticket

    def _publish(self, ticket: Ticket, kind: TicketEventKind) -> None:
        """Tell the consoles, once the change is committed (see :mod:`grounddesk.db.unit`)."""
        hub = self._hub
        if hub is None:
            return
        after_commit(self._engine, lambda: hub.publish(TICKETS_CHANNEL, _ticket_message(ticket, kind)))


def _ticket_message(ticket: Ticket, kind: TicketEventKind) -> dict[str, Any]:
    return {
        "type": "ticket",
        "event": kind.value,
        "ticket_id": ticket.id,
        "conversation_id": ticket.conversation_id,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "assignee": ticket.assignee,
    }
