from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from grounddesk.escalation import EventHub, conversation_channel


def test_messages_published_from_threads_arrive_in_order() -> None:
    hub = EventHub()

    async def scenario() -> tuple[list[Any], list[Any]]:
        first = hub.subscribe("tickets")
        second = hub.subscribe("tickets")
        other = hub.subscribe(conversation_channel("conv-1"))
        assert hub.subscriber_count("tickets") == 2

        def producer() -> None:
            for n in range(50):
                hub.publish("tickets", {"n": n})

        thread = threading.Thread(target=producer)
        thread.start()
        got_first = [await asyncio.wait_for(first.get(), 10) for _ in range(50)]
        got_second = [await asyncio.wait_for(second.get(), 10) for _ in range(50)]
        await asyncio.to_thread(thread.join)
        assert other.get_nowait() is None  # another channel hears nothing
        for sub in (first, second, other):
            sub.close()
        return got_first, got_second

    got_first, got_second = asyncio.run(scenario())
    assert got_first == got_second == [{"n": n} for n in range(50)]
    assert hub.subscriber_count("tickets") == 0


def test_closing_ends_iteration_and_stops_delivery() -> None:
    hub = EventHub()

    async def scenario() -> list[Any]:
        received: list[Any] = []
        async with hub.subscribe("tickets") as sub:
            hub.publish("tickets", "a")
            hub.publish("tickets", "b")

            async def consume() -> None:
                async for message in sub:
                    received.append(message)

            task = asyncio.create_task(consume())
            await asyncio.to_thread(threading.Thread(target=sub.close).run)  # closed from another thread
            await asyncio.wait_for(task, 10)
        assert hub.publish("tickets", "c") == 0
        return received

    assert asyncio.run(scenario()) == ["a", "b"]


def test_a_subscriber_that_falls_behind_is_dropped_as_lagged() -> None:
    hub = EventHub(maxsize=3)

    async def scenario() -> tuple[list[Any], bool]:
        sub = hub.subscribe("tickets")
        for n in range(5):
            hub.publish("tickets", n)
        received = [message async for message in sub]
        return received, sub.lagged

    received, lagged = asyncio.run(scenario())
    assert received == [0, 1, 2]
    assert lagged
    assert hub.subscriber_count("tickets") == 0


def test_publishing_to_a_closed_loop_drops_the_subscriber() -> None:
    hub = EventHub()
    loop = asyncio.new_event_loop()
    hub.subscribe("tickets", loop=loop)
    loop.close()
    assert hub.publish("tickets", "x") == 0
    assert hub.subscriber_count("tickets") == 0
    with pytest.raises(ValueError):
        EventHub(maxsize=0)
