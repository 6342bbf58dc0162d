from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from grounddesk.escalation import (
    ContactDetails,
    ConversationNotFound,
    ConversationStore,
    EscalationInputError,
    EscalationSettings,
    EventHub,
    PendingAction,
    Priority,
    SqlTicketQueue,
    TicketConflict,
    TicketEventKind,
    TicketNotFound,
    TicketStatus,
    TicketTransitionError,
)
from grounddesk.escalation.tables import ticket_events, tickets
from grounddesk.testing.clock import FakeClock

T = TypeVar("T")

PAYLOAD: dict[str, Any] = {
    "reason": "fraud_or_security",
    "confidence": 0.31,
    "confidence_reasons": ["only one approved source", "the question mentions fraud"],
    "transcript": [
        {"speaker": "customer", "text": "There is a charge on my card I did not make. Email me at <EMAIL_ADDRESS>"},
        {"speaker": "bot", "text": "I'm passing this to a member of our team."},
    ],
    "sources": [{"doc_id": "refunds", "version": 2, "title": "Refunds", "text": "Refunds take 5 days.", "score": 0.4}],
    "draft_answer": "Refunds take 5 days [1].",
    "citations": [],
    "guard": {"injection": [], "topics": ["fraud_or_security"], "wants_human": False},
}

REFUND = PendingAction(
    tool="create_return",
    args={"order_id": "A1001", "reason": "charger stopped working"},
    summary="Open a return for order A1001 (charger)",
    idempotency_key="conv-1:create_return:A1001",
)


def _race(n: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``work(i)`` in ``n`` threads released together by a barrier; return results or exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T | BaseException:
        barrier.wait(timeout=60)
        try:
            return work(i)
        except Exception as exc:  # collected and asserted on by the caller
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _open(queue: SqlTicketQueue, conversations: ConversationStore, cid: str = "conv-1", **kw: Any) -> Any:
    conversations.create(cid, customer_id="C-1001", channel="web")
    kw.setdefault("customer_id", "C-1001")
    kw.setdefault("tier", "premium")
    return queue.open_ticket(
        cid, kw.pop("reason", "fraud_or_security"), PAYLOAD, draft="Refunds take 5 days [1].", **kw
    )


def _kinds(queue: SqlTicketQueue, ticket_id: str) -> list[str]:
    return [e.kind.value for e in queue.events(ticket_id)]


def test_open_ticket_sets_priority_sla_and_logs_creation(
    queue: SqlTicketQueue, conversations: ConversationStore, clock: FakeClock
) -> None:
    ticket = _open(queue, conversations, pending_action=REFUND, confidence=0.31, sources=[{"doc_id": "refunds"}])

    assert ticket.status is TicketStatus.OPEN
    assert ticket.priority is Priority.URGENT
    assert ticket.sla_due_at == clock() + timedelta(minutes=15)
    assert ticket.created_at == clock()
    assert ticket.payload == PAYLOAD
    assert ticket.pending_action == REFUND
    assert ticket.confidence == pytest.approx(0.31)
    assert ticket.sources == [{"doc_id": "refunds"}]
    assert ticket.contact is None
    assert queue.get(ticket.id) == ticket
    events = queue.events(ticket.id)
    assert [e.kind for e in events] == [TicketEventKind.CREATED]
    assert events[0].data["priority"] == "urgent"
    assert events[0].data["pending_action"] == "create_return"


def test_open_ticket_is_idempotent_per_conversation(queue: SqlTicketQueue, conversations: ConversationStore) -> None:
    first = _open(queue, conversations)
    again = queue.open_ticket("conv-1", "low_confidence", {"reason": "low_confidence"})

    assert again.id == first.id
    assert again.reason == "fraud_or_security"
    assert queue.active_for_conversation("conv-1") == first
    assert _kinds(queue, first.id) == ["created"]


def test_a_closed_ticket_lets_the_conversation_escalate_again(
    queue: SqlTicketQueue, conversations: ConversationStore
) -> None:
    first = _open(queue, conversations)
    queue.claim(first.id, "kim")
    queue.return_to_bot(first.id, "kim", "Card frozen, refund started")

    second = queue.open_ticket("conv-1", "low_confidence", PAYLOAD)

    assert second.id != first.id
    assert queue.active_for_conversation("conv-1") == second
    assert queue.get(first.id).status is TicketStatus.RETURNED_TO_BOT


def test_the_database_refuses_two_active_tickets_for_one_conversation(
    engine: Engine, queue: SqlTicketQueue, conversations: ConversationStore, clock: FakeClock
) -> None:
    first = _open(queue, conversations)
    row = {
        "id": "00000000-0000-4000-8000-00000000beef",
        "conversation_id": "conv-1",
        "reason": "low_confidence",
        "priority": "normal",
        "status": "assigned",
        "created_at": clock(),
        "updated_at": clock(),
        "sla_due_at": clock(),
        "sources": [],
        "payload": {},
    }
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(tickets).values(**row))
    with engine.begin() as conn:  # a closed one is fine
        conn.execute(insert(tickets).values(**{**row, "status": "resolved"}))
    assert queue.active_for_conversation("conv-1") == first


def test_concurrent_opens_make_one_ticket_per_conversation(
    engine: Engine, queue: SqlTicketQueue, conversations: ConversationStore
) -> None:
    for n in range(8):
        conversations.create(f"conv-{n}")
        results = _race(2, lambda _i, cid=f"conv-{n}": queue.open_ticket(cid, "customer_requested_human", PAYLOAD))
        ids = {r.id for r in results if not isinstance(r, BaseException)}
        assert not [r for r in results if isinstance(r, BaseException)]
        assert len(ids) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tickets)).scalar_one() == 8
        created = conn.execute(
            select(func.count()).select_from(ticket_events).where(ticket_events.c.kind == "created")
        ).scalar_one()
    assert created == 8


def test_open_ticket_needs_a_known_conversation(queue: SqlTicketQueue) -> None:
    with pytest.raises(ConversationNotFound) as caught:
        queue.open_ticket("nope", "low_confidence", PAYLOAD)
    assert caught.value.code == "conversation_not_found"


def test_claim_race_has_exactly_one_winner_per_ticket(queue: SqlTicketQueue, conversations: ConversationStore) -> None:
    ids = [_open(queue, conversations, f"conv-{n}").id for n in range(20)]
    agents = ("kim", "lee")
    barrier = threading.Barrier(2)
    outcomes: dict[str, list[str]] = {ticket_id: [] for ticket_id in ids}

    def work(agent: str) -> None:
        for ticket_id in ids:
            barrier.wait(timeout=60)
            try:
                queue.claim(ticket_id, agent)
                outcomes[ticket_id].append(agent)
            except TicketConflict:
                outcomes[ticket_id].append("conflict")
            except Exception as exc:  # reported by the assertion below instead of hanging the other thread
                outcomes[ticket_id].append(repr(exc))

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, agents))

    for ticket_id in ids:
        assert sorted(outcomes[ticket_id]) in (["conflict", "kim"], ["conflict", "lee"])
        winner = next(o for o in outcomes[ticket_id] if o != "conflict")
        ticket = queue.get(ticket_id)
        assert (ticket.status, ticket.assignee) == (TicketStatus.ASSIGNED, winner)
        assert _kinds(queue, ticket_id) == ["created", "claimed"]
        assert queue.events(ticket_id)[1].actor == winner


def test_claim_by_the_holder_is_idempotent_and_others_conflict(
    queue: SqlTicketQueue, conversations: ConversationStore, clock: FakeClock
) -> None:
    ticket = _open(queue, conversations)
    claimed = queue.claim(ticket.id, "kim")
    clock.advance(minutes=1)

    assert queue.claim(ticket.id, "kim") == claimed
    with pytest.raises(TicketConflict) as caught:
        queue.claim(ticket.id, "lee")
    assert caught.value.code == "ticket_conflict"
    assert caught.value.fields["assignee"] == "kim"
    assert claimed.claimed_at == claimed.updated_at
    assert _kinds(queue, ticket.id) == ["created", "claimed"]
    with pytest.raises(TicketNotFound) as missing:
        queue.claim("00000000-0000-4000-8000-000000000000", "kim")
    assert missing.value.code == "ticket_not_found"


def test_lifecycle_appends_an_event_for_every_change(
    queue: SqlTicketQueue, conversations: ConversationStore, clock: FakeClock
) -> None:
    ticket = _open(queue, conversations)
    queue.claim(ticket.id, "kim")
    clock.advance(minutes=3)
    replied = queue.record_agent_reply(
        ticket.id, "kim", "I have frozen the card. Can you confirm the amount?", wait_for_customer=True
    )
    assert replied.status is TicketStatus.WAITING_ON_CUSTOMER
    assert replied.first_reply_at == clock()

    clock.advance(minutes=2)
    back = queue.record_customer_message(ticket.id, "It was 49.99", seq=5)
    assert back.status is TicketStatus.ASSIGNED
    clock.advance(minutes=1)
    again = queue.record_agent_reply(ticket.id, "kim", "Thanks, refund started.")
    assert again.first_reply_at == replied.first_reply_at  # the SLA clock stopped at the first reply
    queue.note(ticket.id, "kim", "customer verified by last four digits")
    resolved = queue.resolve(ticket.id, "kim", "Card frozen and refund of 49.99 started")

    assert resolved.status is TicketStatus.RESOLVED
    assert resolved.resolved_at == clock()
    assert resolved.resolution_note == "Card frozen and refund of 49.99 started"
    assert queue.active_for_conversation("conv-1") is None
    events = queue.events(ticket.id)
    assert [e.kind.value for e in events] == [
        "created",
        "claimed",
        "agent_reply",
        "status",
        "customer_message",
        "status",
        "agent_reply",
        "note",
        "resolved",
    ]
    assert events[3].data == {"from": "assigned", "to": "waiting_on_customer", "by": "agent_reply"}
    assert events[4].data == {"text": "It was 49.99", "seq": 5}
    assert events[4].actor == "customer"
    assert events[5].data == {"from": "waiting_on_customer", "to": "assigned", "by": "customer_message"}
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_only_the_holder_acts_and_closed_tickets_refuse_changes(
    queue: SqlTicketQueue, conversations: ConversationStore
) -> None:
    ticket = _open(queue, conversations)
    with pytest.raises(TicketTransitionError) as not_claimed:
        queue.record_agent_reply(ticket.id, "kim", "hello")
    assert not_claimed.value.code == "invalid_transition"
    queue.claim(ticket.id, "kim")
    with pytest.raises(TicketConflict):
        queue.record_agent_reply(ticket.id, "lee", "hello")
    with pytest.raises(TicketConflict):
        queue.resolve(ticket.id, "lee")
    with pytest.raises(TicketConflict):
        queue.release(ticket.id, "lee")
    with pytest.raises(EscalationInputError):
        queue.record_agent_reply(ticket.id, "kim", "   ")

    queue.return_to_bot(ticket.id, "kim", "Explained the refund policy")
    for attempt in (
        lambda: queue.claim(ticket.id, "kim"),
        lambda: queue.record_agent_reply(ticket.id, "kim", "hello"),
        lambda: queue.record_customer_message(ticket.id, "anyone?"),
        lambda: queue.resolve(ticket.id, "kim"),
        lambda: queue.leave_contact(ticket.id, ContactDetails(email="alex.morgan@example.com")),
        lambda: queue.set_status(ticket.id, TicketStatus.WAITING_ON_CUSTOMER, actor="kim"),
    ):
        with pytest.raises(TicketTransitionError):
            attempt()
    assert _kinds(queue, ticket.id) == ["created", "claimed", "returned_to_bot"]


def test_release_puts_the_ticket_back_and_force_overrides(
    queue: SqlTicketQueue, conversations: ConversationStore
) -> None:
    ticket = _open(queue, conversations)
    queue.claim(ticket.id, "kim")
    released = queue.release(ticket.id, "kim")
    assert (released.status, released.assignee) == (TicketStatus.OPEN, None)
    queue.claim(ticket.id, "lee")
    forced = queue.release(ticket.id, "supervisor", force=True)
    assert forced.status is TicketStatus.OPEN
    events = queue.events(ticket.id)
    assert [e.kind.value for e in events] == ["created", "claimed", "released", "claimed", "released"]
    assert events[-1].data == {"previous": "lee"}
    assert events[-1].actor == "supervisor"
    with pytest.raises(TicketTransitionError):
        queue.release(ticket.id, "kim")


def test_set_status_follows_the_lifecycle(queue: SqlTicketQueue, conversations: ConversationStore) -> None:
    ticket = _open(queue, conversations)
    with pytest.raises(TicketTransitionError):
        queue.set_status(ticket.id, TicketStatus.WAITING_ON_CUSTOMER, actor="kim")
    assert queue.set_status(ticket.id, TicketStatus.ASSIGNED, actor="kim").assignee == "kim"
    assert queue.set_status(ticket.id, TicketStatus.WAITING_ON_CUSTOMER, actor="kim").status.value == (
        "waiting_on_customer"
    )
    with pytest.raises(TicketConflict):
        queue.set_status(ticket.id, TicketStatus.ASSIGNED, actor="lee")
    assert queue.set_status(ticket.id, TicketStatus.ASSIGNED, actor="kim").status is TicketStatus.ASSIGNED
    assert queue.set_status(ticket.id, TicketStatus.OPEN, actor="kim").status is TicketStatus.OPEN
    assert queue.set_status(ticket.id, TicketStatus.RESOLVED, actor="lee").assignee == "lee"  # straight from open
    assert _kinds(queue, ticket.id) == ["created", "claimed", "status", "status", "released", "resolved"]


def test_approve_and_reject_actions(queue: SqlTicketQueue, conversations: ConversationStore) -> None:
    ticket = _open(queue, conversations, pending_action=REFUND)
    with pytest.raises(TicketTransitionError):
        queue.approve_action(ticket.id, "kim")  # claim first
    queue.claim(ticket.id, "kim")
    with pytest.raises(TicketConflict):
        queue.approve_action(ticket.id, "lee")

    approved = queue.approve_action(ticket.id, "kim")

    assert approved == REFUND
    assert queue.get(ticket.id).pending_action is None
    with pytest.raises(TicketConflict, match="No action"):
        queue.approve_action(ticket.id, "kim")
    with pytest.raises(TicketConflict, match="No action"):
        queue.reject_action(ticket.id, "kim")
    event = queue.events(ticket.id)[-1]
    assert event.kind is TicketEventKind.ACTION_APPROVED
    assert event.data["action"]["idempotency_key"] == "conv-1:create_return:A1001"

    other = _open(queue, conversations, "conv-2", pending_action=REFUND)
    queue.claim(other.id, "lee")
    assert queue.reject_action(other.id, "lee", "order is outside the return window") == REFUND
    assert queue.get(other.id).pending_action is None
    rejected = queue.events(other.id)[-1]
    assert (rejected.kind, rejected.data["reason"]) == (
        TicketEventKind.ACTION_REJECTED,
        "order is outside the return window",
    )


def test_concurrent_approvals_hand_the_action_out_once(queue: SqlTicketQueue, conversations: ConversationStore) -> None:
    ticket = _open(queue, conversations, pending_action=REFUND)
    queue.claim(ticket.id, "kim")
    results = _race(2, lambda _i: queue.approve_action(ticket.id, "kim"))
    assert sum(1 for r in results if r == REFUND) == 1
    assert sum(1 for r in results if isinstance(r, TicketConflict)) == 1
    assert _kinds(queue, ticket.id).count("action_approved") == 1


def test_resolving_drops_a_waiting_action_on_the_record(
    queue: SqlTicketQueue, conversations: ConversationStore
) -> None:
    ticket = _open(queue, conversations, pending_action=REFUND)
    queue.claim(ticket.id, "kim")
    resolved = queue.resolve(ticket.id, "kim", "Customer withdrew the request")
    assert resolved.pending_action is None
    assert queue.events(ticket.id)[-1].data["dropped_action"]["tool"] == "create_return"


def test_leave_contact_stores_details_and_logs_only_field_names(
    queue: SqlTicketQueue, conversations: ConversationStore
) -> None:
    ticket = _open(queue, conversations)
    contact = ContactDetails(name="Alex Morgan", email="alex.morgan@example.com", message="Call after 5pm")
    stored = queue.leave_contact(ticket.id, contact)
    assert stored.contact == contact
    assert queue.get(ticket.id).contact == contact
    event = queue.events(ticket.id)[-1]
    assert (event.kind, event.data) == (TicketEventKind.CONTACT_LEFT, {"fields": ["name", "email", "message"]})
    assert "alex.morgan@example.com" not in str(queue.events(ticket.id))
    with pytest.raises(EscalationInputError):
        queue.leave_contact(ticket.id, ContactDetails())


def test_list_orders_by_priority_then_sla_and_filters(
    queue: SqlTicketQueue, conversations: ConversationStore, clock: FakeClock
) -> None:
    low = _open(queue, conversations, "c-low", reason="out_of_scope", tier=None)
    clock.advance(minutes=1)
    normal_late = _open(queue, conversations, "c-normal-2", reason="low_confidence", tier=None)
    urgent = _open(queue, conversations, "c-urgent", reason="self_harm", tier=None)
    high = _open(queue, conversations, "c-high", reason="low_confidence", tier="premium")
    clock.advance(minutes=5)
    normal_later = _open(queue, conversations, "c-normal-3", reason="customer_requested_human", tier=None)
    queue.claim(high.id, "kim")

    assert [t.id for t in queue.list()] == [urgent.id, high.id, normal_late.id, normal_later.id, low.id]
    assert [t.id for t in queue.list(status=TicketStatus.OPEN)] == [urgent.id, normal_late.id, normal_later.id, low.id]
    assert [t.id for t in queue.list(status=[TicketStatus.ASSIGNED, TicketStatus.RESOLVED])] == [high.id]
    assert [t.id for t in queue.list(assignee="kim")] == [high.id]
    assert [t.id for t in queue.list(limit=2, offset=1)] == [high.id, normal_late.id]
    with pytest.raises(EscalationInputError):
        queue.list(limit=0)


def test_overdue_tickets_are_flagged_once(engine: Engine, conversations: ConversationStore, clock: FakeClock) -> None:
    hub = EventHub()
    queue = SqlTicketQueue(engine, EscalationSettings(), clock, hub=hub)
    urgent = _open(queue, conversations, "c-urgent", reason="fraud_or_security", tier=None)  # due in 15 min
    answered = _open(queue, conversations, "c-answered", reason="self_harm", tier=None)  # due in 15 min
    normal = _open(queue, conversations, "c-normal", reason="low_confidence", tier=None)  # due in 4 h
    queue.claim(answered.id, "kim")
    queue.record_agent_reply(answered.id, "kim", "I'm here. You are not alone.")

    clock.advance(minutes=14)
    assert queue.flag_overdue() == []
    assert queue.list(overdue_only=True) == []

    clock.advance(minutes=1)
    flagged = queue.flag_overdue()
    assert [t.id for t in flagged] == [urgent.id]
    assert flagged[0].sla_breached_at == clock()
    assert queue.flag_overdue() == []  # once
    assert [t.id for t in queue.list(overdue_only=True)] == [urgent.id]

    clock.advance(hours=4)
    assert [t.id for t in queue.flag_overdue()] == [normal.id]
    assert [t.id for t in queue.list(overdue_only=True)] == [urgent.id, normal.id]
    assert _kinds(queue, urgent.id).count("sla_breached") == 1
    assert "sla_breached" not in _kinds(queue, answered.id)
    breach = queue.events(normal.id)[-1]
    assert (breach.actor, breach.data["priority"]) == ("system", "normal")


def test_concurrent_overdue_runs_flag_each_ticket_once(
    queue: SqlTicketQueue, conversations: ConversationStore, clock: FakeClock
) -> None:
    ids = {_open(queue, conversations, f"conv-{n}", reason="fraud_or_security").id for n in range(5)}
    clock.advance(hours=1)
    results = _race(2, lambda _i: queue.flag_overdue())
    flagged = [t.id for r in results if isinstance(r, list) for t in r]
    assert sorted(flagged) == sorted(ids)
    for ticket_id in ids:
        assert _kinds(queue, ticket_id).count("sla_breached") == 1


def test_contact_offers_are_found_by_one_query_and_recorded_once(
    queue: SqlTicketQueue, conversations: ConversationStore, clock: FakeClock
) -> None:
    early = _open(queue, conversations, "c-early")
    clock.advance(minutes=10)
    late = _open(queue, conversations, "c-late")
    claimed = _open(queue, conversations, "c-claimed")
    queue.claim(claimed.id, "kim")
    contact_left = _open(queue, conversations, "c-contact")
    queue.leave_contact(contact_left.id, ContactDetails(email="alex.morgan@example.com"))

    assert [t.id for t in queue.awaiting_contact_offer()] == [early.id, late.id]  # open, no contact, oldest first
    assert [t.id for t in queue.awaiting_contact_offer(created_before=clock() - timedelta(minutes=5))] == [early.id]
    assert [t.id for t in queue.awaiting_contact_offer(limit=1)] == [early.id]

    assert queue.mark_contact_offered(early.id) is True
    assert queue.mark_contact_offered(early.id) is False  # recorded once
    assert queue.get(early.id).contact_offered_at == clock()
    assert [t.id for t in queue.awaiting_contact_offer()] == [late.id]
    with pytest.raises(TicketNotFound):
        queue.mark_contact_offered("no-such-ticket")
    with pytest.raises(EscalationInputError):
        queue.awaiting_contact_offer(limit=0)


def test_concurrent_offers_record_a_ticket_once(queue: SqlTicketQueue, conversations: ConversationStore) -> None:
    ticket = _open(queue, conversations)
    results = _race(4, lambda _i: queue.mark_contact_offered(ticket.id))
    assert sorted(results, key=str) == [False, False, False, True]


def test_changes_are_published_on_the_tickets_channel(
    engine: Engine, conversations: ConversationStore, clock: FakeClock
) -> None:
    import asyncio

    hub = EventHub()
    queue = SqlTicketQueue(engine, EscalationSettings(), clock, hub=hub)

    async def scenario() -> list[dict[str, Any]]:
        async with hub.subscribe("tickets") as sub:
            ticket = await asyncio.to_thread(_open, queue, conversations)
            await asyncio.to_thread(queue.claim, ticket.id, "kim")
            return [await asyncio.wait_for(sub.get(), 10) for _ in range(2)]

    messages = asyncio.run(scenario())
    assert [(m["event"], m["status"], m["assignee"]) for m in messages] == [
        ("created", "open", None),
        ("claimed", "assigned", "kim"),
    ]
    assert messages[0]["priority"] == "urgent"
