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
