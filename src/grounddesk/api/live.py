"""Live streams for sockets: a conversation's events (widget) and the queue's changes (console).

A conversation stream subscribes to the hub *before* it replays the stored events after ``after``, so nothing
published in between is missed; stored events already sent are skipped by seq, and a gap in the seqs (two
events published out of order by two threads) is filled from the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from grounddesk.api.events import ApiEvent, api_event, hub_message_to_event
from grounddesk.api.schemas import ticket_json
from grounddesk.api.services import Services
from grounddesk.escalation import TICKETS_CHANNEL, Subscription, TicketNotFound, conversation_channel

__all__ = ["Lagged", "conversation_events", "run_until_first_ends", "staff_frames"]

_PAGE = 500

logger = logging.getLogger(__name__)


class Lagged(Exception):
    """The socket fell too far behind the hub; the client should reconnect and replay from its last seq."""


async def _next(subscription: Subscription, keepalive_s: float | None) -> Any:
    if keepalive_s is None:
        return await subscription.get()
    try:
        return await asyncio.wait_for(subscription.get(), keepalive_s)
    except TimeoutError:
        return None


async def _stored_after(services: Services, conversation_id: str, seq: int) -> list[ApiEvent]:
    out: list[ApiEvent] = []
    while True:
        page = await run_in_threadpool(services.conversations.events_after, conversation_id, seq, limit=_PAGE)
        out.extend(api_event(e) for e in page)
        if len(page) < _PAGE:
            return out
        seq = page[-1].seq


async def conversation_events(
    services: Services, conversation_id: str, after: int = 0, *, keepalive_s: float | None = None
) -> AsyncIterator[ApiEvent | None]:
    """The conversation's stored events after ``after``, then its live ones, in seq order.

    Args:
        services: The service's objects.
        conversation_id: The conversation (must exist).
        after: The last seq the client has.
        keepalive_s: When set, ``None`` is yielded after this long without an event (for keep-alive lines).

    Yields:
        Events in the API shape (``token``/``typing`` ones without a seq), or None when idle.

    Raises:
        ConversationNotFound: No such conversation.
        Lagged: The client fell behind; it should reconnect.
    """
    subscription = services.hub.subscribe(conversation_channel(conversation_id))
    try:
        last = after
        for stored in await _stored_after(services, conversation_id, after):
            last = max(last, stored.seq or last)
            yield stored
        while True:
            try:
                message = await _next(subscription, keepalive_s)
            except StopAsyncIteration:
                break
            if message is None:
                yield None
                continue
            event = hub_message_to_event(message)
            if event is None:
                continue
            if event.seq is None:
                yield event
                continue
            if event.seq <= last:
                continue
            if event.seq > last + 1:
                missed = await _stored_after(services, conversation_id, last)
            else:
                missed = [event]
            for item in missed:
                if item.seq is not None and item.seq > last:
                    last = item.seq
                    yield item
        if subscription.lagged:
            raise Lagged("the connection fell behind; reconnect")
    finally:
        subscription.close()


async def staff_frames(services: Services, ready: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The console's live frames: ``ticket_created`` / ``ticket_updated`` with the ticket, ``customer_message``.

    Args:
        services: The service's objects.
        ready: The first frame, sent once the subscription is in place (nothing published later is missed).

    Raises:
        Lagged: The console fell behind; it should reconnect and reload its queue.
    """
    subscription = services.hub.subscribe(TICKETS_CHANNEL)
    try:
        yield ready
        async for message in subscription:
            if not isinstance(message, dict):
                continue
            if message.get("type") == "customer_message":
                yield {key: message.get(key) for key in ("type", "ticket_id", "conversation_id", "text")}
                continue
            if message.get("type") != "ticket" or not message.get("ticket_id"):
                continue
            try:
                ticket = await run_in_threadpool(services.queue.get, str(message["ticket_id"]))
            except TicketNotFound:
                continue
            kind = "ticket_created" if message.get("event") == "created" else "ticket_updated"
            yield {"type": kind, "event": message.get("event"), "ticket": ticket_json(ticket, services.clock())}
        if subscription.lagged:
            raise Lagged("the connection fell behind; reconnect")
    finally:
        subscription.close()


async def run_until_first_ends(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run a socket's jobs (e.g. sending events, reading frames) until one ends; then stop the others.

    A client that went away (``WebSocketDisconnect``) is the normal end; any other failure is logged.
    """
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        error = None if task.cancelled() else task.exception()
        if error is not None and not isinstance(error, WebSocketDisconnect):
            logger.error("socket job failed", exc_info=error)
