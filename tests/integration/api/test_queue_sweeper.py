"""The queue's sweep: customers nobody claimed in time are offered to leave contact details, once; SLAs flagged."""

from __future__ import annotations

from service_stack import Stack, of_type, recv_until, say

from grounddesk.api.sweeper import sweep_once
from grounddesk.escalation import TicketStatus


def test_an_unclaimed_ticket_gets_the_contact_offer_once_and_a_claimed_one_never(stack: Stack) -> None:
    waiting = stack.start_conversation()
    claimed = stack.start_conversation()
    tickets = {}
    with stack.staff_ws() as console:  # an agent is online: the hand-off itself offers nothing
        for conversation in (waiting, claimed):
            with stack.customer_ws(conversation) as ws:
                say(ws, "I want to talk to a person")
                frames = recv_until(ws, of_type("handoff"))
                assert not [f for f in frames if f["type"] == "no_agent"]
            created = recv_until(
                console,
                lambda f, c=conversation: f["type"] == "ticket_created" and f["ticket"]["conversation_id"] == c["id"],
            )[-1]
            tickets[conversation["id"]] = created["ticket"]["id"]
        stack.services.queue.claim(tickets[claimed["id"]], "kim")
        assert sweep_once(stack.services).contact_offered == 0  # not yet: within unclaimed_after_minutes
        stack.clock.advance(minutes=stack.services.escalation.unclaimed_after_minutes + 1)
        with stack.customer_ws(waiting) as ws:  # replays what is stored, then live events
            report = sweep_once(stack.services)
            offer = recv_until(ws, of_type("no_agent"))[-1]
        assert report.contact_offered >= 1 and offer["text"] == stack.services.escalation.no_agent_message
        assert sweep_once(stack.services).contact_offered == 0  # once per conversation
    kinds = [e.payload.get("type") for e in stack.services.conversations.events_after(claimed["id"], 0)]
    assert "no_agent" not in kinds
    assert stack.services.queue.get(tickets[waiting["id"]]).status is TicketStatus.OPEN


def _no_agent_events(stack: Stack, conversation_id: str) -> int:
    return sum(
        1 for e in stack.services.conversations.events_after(conversation_id, 0) if e.payload.get("type") == "no_agent"
    )


def test_a_hand_off_with_nobody_online_offers_contact_once_and_the_sweep_adds_nothing(stack: Stack) -> None:
    conversation = stack.start_conversation()
    with stack.customer_ws(conversation) as ws:  # no console is connected: nobody can take over
        say(ws, "I want to talk to a person")
        recv_until(ws, of_type("no_agent"))
    ticket = stack.services.queue.active_for_conversation(conversation["id"])
    assert ticket is not None and ticket.contact_offered_at is not None
    sweep_once(stack.services)
    assert _no_agent_events(stack, conversation["id"]) == 1


def test_an_offer_shown_but_not_recorded_before_a_crash_is_recorded_not_shown_again(stack: Stack) -> None:
    services = stack.services
    conversation_id = services.conversations.create()
    ticket = services.queue.open_ticket(conversation_id, "needs_human", {})
    services.conversations.append(
        conversation_id, "system", services.escalation.no_agent_message, author="bot", payload={"type": "no_agent"}
    )  # the message is stored; the process died before the ticket recorded it
    assert services.queue.get(ticket.id).contact_offered_at is None

    sweep_once(services)

    assert services.queue.get(ticket.id).contact_offered_at is not None
    assert _no_agent_events(stack, conversation_id) == 1


def test_a_sweep_reaches_every_waiting_customer_however_long_the_queue(stack: Stack) -> None:
    services = stack.services
    waiting = []
    for _ in range(450):  # more than two of the sweep's batches
        conversation_id = services.conversations.create()
        services.queue.open_ticket(conversation_id, "needs_human", {})
        waiting.append(conversation_id)

    report = sweep_once(services)  # nobody is online: every waiting customer gets the offer now

    assert report.contact_offered >= len(waiting)
    assert all(_no_agent_events(stack, c) == 1 for c in waiting)
    assert services.queue.awaiting_contact_offer() == []
    assert sweep_once(services).contact_offered == 0
