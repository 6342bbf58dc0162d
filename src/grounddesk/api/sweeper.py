"""The queue's clock: overdue tickets flagged, customers nobody claimed offered to leave contact details.

At a hand-off the customer is told at once when no agent is available (off hours, nobody signed in). This
sweep covers the other case of the issue: agents are there but nobody claimed the ticket within
``escalation.unclaimed_after_minutes``. It runs every ``interval_s`` in the app's lifespan (and once per call
of :func:`sweep_once`, which tests drive with a fake clock). Each ticket gets the offer once, recorded with it
in one transaction; the sweep also skips a conversation that shows an offer its ticket never recorded.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool

from grounddesk.api.services import Services
from grounddesk.db.unit import unit_of_work
from grounddesk.escalation import ConversationEventKind, Ticket, agents_available, should_offer_contact

__all__ = ["SweepReport", "run_sweeper", "show_contact_offer", "sweep_once"]

logger = logging.getLogger(__name__)
_BATCH = 200


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did."""

    overdue_flagged: int
    contact_offered: int


def _offered(services: Services, conversation_id: str) -> bool:
    """Whether the conversation already shows the offer (shown by a version that did not record it on the ticket)."""
    return any(
        event.kind == ConversationEventKind.SYSTEM and (event.payload or {}).get("type") == "no_agent"
        for event in services.conversations.events_after(conversation_id, 0, limit=500)
    )


def show_contact_offer(services: Services, ticket: Ticket, *, reply_to: str | None = None) -> None:
    """Show the customer the no-agent message with its contact form, and record it on the ticket, in one transaction.

    The caller holds the conversation's lock (``services.locks``), so a turn and the sweep never both offer.
    """
    with unit_of_work(services.engine):
        services.conversations.append(
            ticket.conversation_id,
            ConversationEventKind.SYSTEM,
            services.escalation.no_agent_message,
            author="bot",
            payload={"type": "no_agent"},
            reply_to=reply_to,
        )
        services.queue.mark_contact_offered(ticket.id)


def sweep_once(services: Services) -> SweepReport:
    """Flag overdue tickets; offer a contact form on open tickets nobody claimed in time (once each).

    Both are single indexed queries over the queue, then work only for the tickets that need it, so a sweep
    costs the same with ten open tickets or ten thousand.
    """
    now = services.clock()
    settings = services.escalation
    flagged = services.queue.flag_overdue(now)
    if agents_available(now, settings, services.presence.count):
        created_before: datetime | None = now - timedelta(minutes=settings.unclaimed_after_minutes)
    else:
        created_before = None  # nobody can take a conversation now: every waiting customer gets the offer
    offered = 0
    while True:
        batch = services.queue.awaiting_contact_offer(created_before=created_before, limit=_BATCH)
        progressed = False
        for ticket in batch:
            with services.locks.hold(ticket.conversation_id):
                current = services.queue.get(ticket.id)
                # Claimed meanwhile, or an agent signed in: not now (the ticket stays in the next sweep's query).
                if should_offer_contact(current, now, settings, services.presence.count):
                    if _offered(services, current.conversation_id):
                        services.queue.mark_contact_offered(current.id)
                    else:
                        show_contact_offer(services, current)
                        offered += 1
                    progressed = True
        if len(batch) < _BATCH or not progressed:
            break
    return SweepReport(overdue_flagged=len(flagged), contact_offered=offered)


async def run_sweeper(services: Services, interval_s: float) -> None:
    """Sweep every ``interval_s`` until cancelled; a failing sweep is logged and the next one runs."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            report = await run_in_threadpool(sweep_once, services)
        except Exception:
            logger.exception("queue sweep failed")
            continue
        if report.overdue_flagged or report.contact_offered:
            logger.info(
                "queue sweep",
                extra={"overdue_flagged": report.overdue_flagged, "contact_offered": report.contact_offered},
            )
