from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, func, select

from grounddesk.escalation import (
    ConversationEvent,
    ConversationEventKind,
    ConversationMode,
    ConversationNotFound,
    ConversationStore,
    EscalationInputError,
    EventHub,
    Rating,
    conversation_channel,
)
from grounddesk.escalation.tables import conversation_events, feedback
from grounddesk.testing.clock import FakeClock

T = TypeVar("T")


def _race(n: int, work: Callable[[int], T]) -> list[T | BaseException]:
    barrier = threading.Barrier(n)

    def run(i: int) -> T | BaseException:
        barrier.wait(timeout=60)
        try:
            return work(i)
        except Exception as exc:  # collected and asserted on by the caller
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_create_get_and_list(conversations: ConversationStore, clock: FakeClock) -> None:
    generated = conversations.create(customer_id="C-1001", audiences=["public", "customers"], channel="web")
    assert len(generated) == 32 and int(generated, 16) >= 0  # uuid4 hex
    clock.advance(minutes=1)
    conversations.create("conv-b", channel="cli")

    stored = conversations.get(generated)
    assert (stored.customer_id, stored.audiences, stored.channel) == ("C-1001", ["public", "customers"], "web")
    assert (stored.mode, stored.last_seq, stored.closed_at) == (ConversationMode.BOT, 0, None)
    assert stored.created_at == stored.last_activity_at == clock().replace(minute=0)
    assert [c.id for c in conversations.list()] == ["conv-b", generated]
    assert [c.id for c in conversations.list(customer_id="C-1001")] == [generated]
    with pytest.raises(ConversationNotFound) as caught:
        conversations.get("nope")
    assert caught.value.code == "conversation_not_found"
    with pytest.raises(EscalationInputError):
        conversations.create("x" * 65)


def test_create_with_an_existing_id_changes_nothing(conversations: ConversationStore) -> None:
    conversations.create("conv-1", customer_id="C-1001", channel="web")
    assert conversations.create("conv-1", customer_id="C-9999", channel="cli") == "conv-1"
    assert (conversations.get("conv-1").customer_id, conversations.get("conv-1").channel) == ("C-1001", "web")


def test_events_are_numbered_in_order_and_replayed(conversations: ConversationStore, clock: FakeClock) -> None:
    conversations.create("conv-1")
    first = conversations.append(
        "conv-1", "customer_message", "Where is order A1001?", author="customer", client_message_id="m-1"
    )
    clock.advance(seconds=2)
    answer = conversations.append(
        "conv-1",
        ConversationEventKind.ANSWER,
        "It is in transit with UPS [1].",
        author="bot",
        payload={"citations": [{"n": 1, "doc_id": "shipping", "version": 3}], "confidence": 0.82},
        reply_to="m-1",
    )
    conversations.append("conv-1", "system", "A support agent joined.", author="system")

    assert (first.seq, answer.seq) == (1, 2)
    assert (first.duplicate, answer.duplicate) == (False, False)
    assert answer.payload["confidence"] == 0.82
    assert [e.seq for e in conversations.events_after("conv-1")] == [1, 2, 3]
    assert [e.text for e in conversations.events_after("conv-1", 1)] == [
        "It is in transit with UPS [1].",
        "A support agent joined.",
    ]
    assert conversations.events_after("conv-1", 3) == []
    assert [e.seq for e in conversations.events_after("conv-1", 0, limit=2)] == [1, 2]
    assert conversations.get("conv-1").last_seq == 3
    assert conversations.get("conv-1").last_activity_at == clock()
    with pytest.raises(ConversationNotFound):
        conversations.events_after("nope")
    with pytest.raises(ConversationNotFound):
        conversations.append("nope", "system", "x", author="system")


def test_a_resent_customer_message_is_stored_once(engine: Engine, conversations: ConversationStore) -> None:
    conversations.create("conv-1")
    first = conversations.append("conv-1", "customer_message", "Hi", author="customer", client_message_id="m-1")
    again = conversations.append("conv-1", "customer_message", "Hi", author="customer", client_message_id="m-1")
    other = conversations.append("conv-1", "customer_message", "Hi", author="customer", client_message_id="m-2")
    no_id = conversations.append("conv-1", "customer_message", "Hi", author="customer")
    no_id_again = conversations.append("conv-1", "customer_message", "Hi", author="customer")

    assert again.duplicate and not first.duplicate
    assert again.model_dump(exclude={"duplicate"}) == first.model_dump(exclude={"duplicate"})
    assert [other.seq, no_id.seq, no_id_again.seq] == [2, 3, 4]
    assert _count(engine, conversation_events) == 4
    assert conversations.get("conv-1").last_seq == 4  # the duplicate used no seq


def test_racing_duplicates_are_stored_once(engine: Engine, conversations: ConversationStore) -> None:
    conversations.create("conv-1")
    for n in range(10):
        results = _race(
            2,
            lambda _i, n=n: conversations.append(
                "conv-1", "customer_message", f"message {n}", author="customer", client_message_id=f"m-{n}"
            ),
        )
        events = [r for r in results if isinstance(r, ConversationEvent)]
        assert len(events) == 2, results
        assert sorted(e.duplicate for e in events) == [False, True]
        assert events[0].seq == events[1].seq == n + 1
    assert _count(engine, conversation_events) == 10


def test_concurrent_appends_get_gap_free_unique_seqs(conversations: ConversationStore) -> None:
    conversations.create("conv-1")

    def write(worker: int) -> list[int]:
        return [conversations.append("conv-1", "system", f"w{worker}-{i}", author="system").seq for i in range(20)]

    results = _race(2, write)
    assert not [r for r in results if isinstance(r, BaseException)], results
    seqs = sorted(s for r in results if isinstance(r, list) for s in r)
    assert seqs == list(range(1, 41))
    for r in results:  # each writer saw its own appends in increasing order
        assert isinstance(r, list) and r == sorted(r)
    replay = conversations.events_after("conv-1")
    assert [e.seq for e in replay] == list(range(1, 41))
    assert [e.id for e in replay] == sorted(e.id for e in replay)


def test_find_reply_gives_the_answer_to_a_client_message(conversations: ConversationStore) -> None:
    conversations.create("conv-1")
    conversations.append("conv-1", "customer_message", "Refund?", author="customer", client_message_id="m-1")
    reply = conversations.append("conv-1", "answer", "Refunds take 5 days [1].", author="bot", reply_to="m-1")
    conversations.append("conv-1", "customer_message", "Talk to a human", author="customer", client_message_id="m-2")

    assert conversations.find_reply("conv-1", "m-1") == reply
    assert conversations.find_reply("conv-1", "m-2") is None
    handoff = conversations.append("conv-1", "handoff", "Passing you to our team.", author="bot", reply_to="m-2")
    conversations.append("conv-1", "agent_message", "Hi, Kim here.", author="agent:kim", reply_to="m-2")
    assert conversations.find_reply("conv-1", "m-2") == handoff  # the first reply


def test_mode_touch_and_close(conversations: ConversationStore, clock: FakeClock) -> None:
    conversations.create("conv-1")
    clock.advance(minutes=5)
    assert conversations.set_mode("conv-1", "pending_human").mode is ConversationMode.PENDING_HUMAN
    assert [c.id for c in conversations.list(mode=ConversationMode.PENDING_HUMAN)] == ["conv-1"]
    assert conversations.list(mode=ConversationMode.BOT) == []
    clock.advance(minutes=5)
    assert conversations.touch("conv-1").last_activity_at == clock()
    closed = conversations.close("conv-1")
    clock.advance(minutes=5)
    assert conversations.close("conv-1").closed_at == closed.closed_at == clock().replace(minute=10)
    with pytest.raises(ConversationNotFound):
        conversations.set_mode("nope", "human")
    with pytest.raises(ValueError):
        conversations.set_mode("conv-1", "robot")


def test_feedback_is_upserted_per_event(engine: Engine, conversations: ConversationStore, clock: FakeClock) -> None:
    conversations.create("conv-1")
    conversations.append("conv-1", "customer_message", "Refund?", author="customer", client_message_id="m-1")
    conversations.append("conv-1", "answer", "Refunds take 5 days [1].", author="bot", reply_to="m-1")

    first = conversations.feedback("conv-1", 2, "down", "Too vague")
    clock.advance(minutes=1)
    second = conversations.feedback("conv-1", 2, Rating.UP)

    assert (second.id, second.rating, second.comment) == (first.id, Rating.UP, None)
    assert second.created_at == first.created_at
    assert second.updated_at == clock()
    assert conversations.feedback_for("conv-1") == [second]
    assert _count(engine, feedback) == 1
    with pytest.raises(EscalationInputError):
        conversations.feedback("conv-1", 1, "up")  # the customer's own message
    with pytest.raises(EscalationInputError):
        conversations.feedback("conv-1", 99, "up")
    with pytest.raises(ConversationNotFound):
        conversations.feedback("nope", 1, "up")


def test_new_events_are_published_to_the_conversation_channel(engine: Engine, clock: FakeClock) -> None:
    hub = EventHub()
    store = ConversationStore(engine, clock, hub=hub)
    store.create("conv-1")

    async def scenario() -> list[dict[str, Any]]:
        async with hub.subscribe(conversation_channel("conv-1")) as sub:
            await asyncio.to_thread(
                store.append, "conv-1", "customer_message", "Hi", author="customer", client_message_id="m-1"
            )
            await asyncio.to_thread(  # a duplicate publishes nothing
                store.append, "conv-1", "customer_message", "Hi", author="customer", client_message_id="m-1"
            )
            await asyncio.to_thread(store.append, "conv-1", "answer", "Hello!", author="bot", reply_to="m-1")
            received = [await asyncio.wait_for(sub.get(), 10) for _ in range(2)]
            assert sub.get_nowait() is None
            return received

    messages = asyncio.run(scenario())
    assert [(m["seq"], m["kind"], m["text"]) for m in messages] == [
        (1, "customer_message", "Hi"),
        (2, "answer", "Hello!"),
    ]
    assert messages[0]["created_at"].startswith("2026-11-20T12:00:00")
