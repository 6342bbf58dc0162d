"""The queue's clock: overdue tickets flagged, customers nobody claimed offered to leave contact details.

At a hand-off the customer is told at once when no agent is available (off hours, nobody signed in). This
sweep covers the other case of the issue: agents are there but nobody claimed the ticket within
``escalation.unclaimed_after_minutes``. It runs every ``interval_s`` in the app's lifespan (and once per call
of :func:`sweep_once`, which tests drive with a fake clock). Each conversation gets the offer once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from grounddesk.api.services import Services
from grounddesk.escalation import ConversationEventKind, TicketStatus, should_offer_contact

__all__ = ["SweepReport", "run_sweeper", "sweep_once"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did."""

    overdue_flagged: int
    contact_offered: int


def _offered(services: Services, conversation_id: str) -> bool:
    return any(
        event.kind == ConversationEventKind.SYSTEM and (event.payload or {}).get("type") == "no_agent"
        for event in services.conversations.events_after(conversation_id, 0, limit=500)
    )


def sweep_once(services: Services) -> SweepReport:
    """Flag overdue tickets; offer a contact form on open tickets nobody claimed in time (once each)."""
    now = services.clock()
    flagged = services.queue.flag_overdue(now)
    offered = 0
    for ticket in services.queue.list(status=[TicketStatus.OPEN], limit=500):
        if not should_offer_contact(ticket, now, services.escalation, services.presence.count):
            continue
        if _offered(services, ticket.conversation_id):
            continue
        services.conversations.append(
            ticket.conversation_id,
            ConversationEventKind.SYSTEM,
            services.escalation.no_agent_message,
            author="bot",
            payload={"type": "no_agent"},
        )
        offered += 1
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
