"""Row-level helpers of :class:`~grounddesk.escalation.queue.SqlTicketQueue`: load, lock, check, log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from grounddesk.escalation._sql import inserted_id
from grounddesk.escalation.tables import ticket_events, tickets
from grounddesk.escalation.types import (
    ACTIVE_STATUSES,
    Ticket,
    TicketConflict,
    TicketEventKind,
    TicketNotFound,
    TicketStatus,
    TicketTransitionError,
)

__all__ = ["HELD", "active_ticket", "check_change", "load_ticket", "log_event", "ticket_from_row"]

#: Statuses in which a support agent holds the ticket.
HELD = (TicketStatus.ASSIGNED, TicketStatus.WAITING_ON_CUSTOMER)


def ticket_from_row(row: Any) -> Ticket:
    """A ticket from a ``tickets`` row mapping."""
    return Ticket.model_validate(dict(row))


def load_ticket(conn: Connection, ticket_id: str, *, for_update: bool = False) -> Ticket:
    """Read a ticket, optionally locking its row until the transaction ends.

    Raises:
        TicketNotFound: No ticket has this id.
    """
    query = select(tickets).where(tickets.c.id == ticket_id)
    # FOR NO KEY UPDATE: writers of this row take turns, inserts that only reference it (FKs) do not wait.
    row = conn.execute(query.with_for_update(key_share=True) if for_update else query).mappings().first()
    if row is None:
        raise TicketNotFound(f"No ticket {ticket_id!r}", ticket_id=ticket_id)
    return ticket_from_row(row)


def active_ticket(conn: Connection, conversation_id: str) -> Ticket | None:
    """The conversation's open, assigned or waiting ticket (the partial unique index allows one)."""
    row = (
        conn.execute(
            select(tickets).where(
                tickets.c.conversation_id == conversation_id,
                tickets.c.status.in_([s.value for s in ACTIVE_STATUSES]),
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else ticket_from_row(row)


def check_change(
    current: Ticket, actor: str, action: str, *, allowed: Sequence[TicketStatus], holder: bool = True
) -> None:
    """Refuse a change the lifecycle does not allow, or one by someone who does not hold the ticket.

    Args:
        current: The ticket as locked.
        actor: Who asks for the change.
        action: The change in words, for the error message.
        allowed: The statuses the change may start from.
        holder: Whether a held ticket may only be changed by its assignee.

    Raises:
        TicketTransitionError: ``current.status`` is not in ``allowed``.
        TicketConflict: Someone else holds the ticket.
    """
    if current.status not in allowed:
        raise TicketTransitionError(
            f"Cannot {action} a ticket that is {current.status.value}",
            ticket_id=current.id,
            status=current.status.value,
        )
    if holder and current.status in HELD and current.assignee != actor:
        raise TicketConflict(f"Ticket is held by {current.assignee}", ticket_id=current.id, assignee=current.assignee)


def log_event(
    conn: Connection, ticket_id: str, at: datetime, actor: str, kind: TicketEventKind, data: dict[str, Any]
) -> int:
    """Append a ticket event; return its id."""
    return inserted_id(
        conn.execute(insert(ticket_events).values(ticket_id=ticket_id, at=at, actor=actor, kind=kind.value, data=data))
    )
