"""In-process publish/subscribe for live updates: the widget's and the console's sockets listen here.

Channels are plain strings; grounddesk uses ``conversation:<id>`` (new :class:`ConversationEvent` of one
conversation) and ``tickets`` (any change to the queue). Publishing is thread-safe and never blocks: the
service's synchronous code (the agent, the SQL stores) publishes from worker threads, and each subscriber
receives the messages in its own asyncio loop, in publishing order.

A subscriber that falls more than ``maxsize`` messages behind is dropped and marked ``lagged``; it should
reconnect and replay what it missed from the database (:meth:`ConversationStore.events_after`). The database is
the source of truth; the hub only says "something new is there".

One process only: with several API replicas, a customer's socket may be held by another replica than the one
that stored the event. Such deployments would carry the same messages over PostgreSQL ``LISTEN``/``NOTIFY``
(see ARCHITECTURE.md, "Scaling out"); that bridge is not built here.

Example:
    >>> hub = EventHub()
    >>> async def listen() -> None:
    ...     async with hub.subscribe("tickets") as sub:
    ...         async for message in sub:
    ...             ...
    >>> hub.publish("tickets", {"type": "ticket", "ticket_id": "..."})  # from any thread
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

__all__ = ["TICKETS_CHANNEL", "EventHub", "Subscription", "conversation_channel"]

_log = logging.getLogger(__name__)

#: The channel of all ticket changes.
TICKETS_CHANNEL = "tickets"

_CLOSED = object()


def conversation_channel(conversation_id: str) -> str:
    """The channel of one conversation's events."""
    return f"conversation:{conversation_id}"


class Subscription:
    """One subscriber's inbox on one channel: an async iterator of the messages published after it subscribed.

    Create it with :meth:`EventHub.subscribe`; close it (or leave its ``async with`` block) to stop receiving.
    """

    def __init__(self, hub: EventHub, channel: str, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self.channel = channel
        self.loop = loop
        self.lagged = False
        self.closed = False
        self._hub = hub
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=maxsize + 1)  # one slot kept for the close mark
        self._maxsize = maxsize

    async def get(self) -> Any:
        """The next message.

        Raises:
            StopAsyncIteration: The subscription was closed (check ``lagged`` to see whether it fell behind).
        """
        if self.closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _CLOSED:
            raise StopAsyncIteration
        return item

    def get_nowait(self) -> Any | None:
        """The next message if one is waiting, else None."""
        try:
            item = self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None
        return None if item is _CLOSED else item

    def close(self) -> None:
        """Stop receiving; a pending :meth:`get` ends with ``StopAsyncIteration``. Idempotent, thread-safe."""
        self._hub._remove(self)
        try:
            self.loop.call_soon_threadsafe(self._finish)
        except RuntimeError:  # the loop is already closed: nobody is waiting
            self.closed = True

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self.get()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # The methods below run in the subscriber's loop (scheduled with call_soon_threadsafe).

    def _deliver(self, message: Any) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= self._maxsize:
            _log.warning("subscriber lagged; dropping it", extra={"channel": self.channel, "maxsize": self._maxsize})
            self.lagged = True
            self._hub._remove(self)
            self._finish()
            return
        self._queue.put_nowait(message)

    def _finish(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(_CLOSED)


class EventHub:
    """Fan-out of messages to asyncio subscribers, published from any thread.

    Args:
        maxsize: How many undelivered messages a subscriber may hold before it is dropped as lagged.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[Subscription]] = {}

    def subscribe(self, channel: str, *, loop: asyncio.AbstractEventLoop | None = None) -> Subscription:
        """Start receiving what is published on ``channel`` from now on.

        Args:
            channel: e.g. ``"tickets"`` or :func:`conversation_channel` of an id.
            loop: The loop the subscriber reads in; by default the running loop (call it from a coroutine).

        Returns:
            The subscription; close it when done.
        """
        subscription = Subscription(self, channel, loop or asyncio.get_running_loop(), self._maxsize)
        with self._lock:
            self._subscribers.setdefault(channel, []).append(subscription)
        return subscription

    def publish(self, channel: str, message: Any) -> int:
        """Send ``message`` to every subscriber of ``channel``. Thread-safe; never blocks.

        Args:
            channel: The channel name.
            message: Any object; grounddesk publishes JSON-ready dicts.

        Returns:
            How many subscribers it was handed to.
        """
        with self._lock:
            subscribers = list(self._subscribers.get(channel, ()))
        sent = 0
        for subscription in subscribers:
            try:
                subscription.loop.call_soon_threadsafe(subscription._deliver, message)
                sent += 1
            except RuntimeError:  # the subscriber's loop has closed without closing the subscription
                self._remove(subscription)
        return sent

    def subscriber_count(self, channel: str) -> int:
        """How many subscribers ``channel`` has now."""
        with self._lock:
            return len(self._subscribers.get(channel, ()))

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscription.channel)
            if subscribers and subscription in subscribers:
                subscribers.remove(subscription)
                if not subscribers:
                    del self._subscribers[subscription.channel]
