"""Re-sent client message ids, in every state a crash can leave a message in: one reply, one ticket, never two.

The service may die (``kill -9``) between any two of its writes. These tests put the stores in the state each such
moment leaves (by doing the writes the dead process had done, and not the rest), then re-send the message the way the
widget does, three times, and check what the customer and the support agent end up with. ``test_kill_under_load``
checks the same promise by really killing the service; these pin down each window deterministically.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from faults_support import POLICY_QUESTION, Stack, new_id, recv_until, replies, reply_to
from sqlalchemy import func, select

from grounddesk.agent.types import ConversationContext
from grounddesk.escalation import ConversationEventKind, TicketEventKind
from grounddesk.escalation.tables import tickets

pytestmark = pytest.mark.faults

HANDOFF_QUESTION = "I want to talk to a person"
LATER_QUESTION = "Do you ship to the UK?"
MARKER_TEXT = "Thanks, I will wait here."


def _store_only(stack: Stack, conversation: dict[str, Any], text: str, client_message_id: str) -> int:
    """What a service that died right after storing the message left: the message, no turn, no reply."""
    event = stack.services.conversations.append(
        conversation["id"],
        ConversationEventKind.CUSTOMER_MESSAGE,
        text,
        author="customer",
        client_message_id=client_message_id,
    )
    return event.seq


def _resend_three_times(stack: Stack, conversation: dict[str, Any], text: str, client_message_id: str) -> None:
    for _ in range(3):
        response = stack.post_message(conversation, text, client_message_id)
        assert response.status_code == 202, response.text
        assert response.json()["duplicate"] is True


def _settle(stack: Stack, conversation: dict[str, Any], ws: Any) -> None:
    """Send a later message and wait for its reply: turns run in order, so any extra reply would be stored by now."""
    later = new_id()
    assert stack.post_message(conversation, LATER_QUESTION, later).status_code == 202
    recv_until(ws, reply_to(later))


def _customer_messages_on_ticket(stack: Stack, ticket_id: str, seq: int) -> int:
    return sum(
        1
        for event in stack.services.queue.events(ticket_id)
        if event.kind is TicketEventKind.CUSTOMER_MESSAGE and event.data.get("seq") == seq
    )


def _tickets_of(stack: Stack, conversation_id: str) -> int:
    with stack.services.engine.connect() as conn:
        query = select(func.count()).select_from(tickets).where(tickets.c.conversation_id == conversation_id)
        return int(conn.execute(query).scalar_one())


def _transcript_count(stack: Stack, conversation_id: str, text: str) -> int:
    messages = stack.services.agent.state(conversation_id).get("messages") or []
    return sum(1 for m in messages if m.type == "human" and m.content == text)


def test_the_same_client_message_id_sent_three_times_at_once_gets_one_reply(stack: Stack) -> None:
    conversation = stack.start_conversation()
    message_id = new_id()
    start = threading.Barrier(3)
    responses: list[httpx.Response] = []

    def send() -> None:
        start.wait()
        responses.append(stack.post_message(conversation, POLICY_QUESTION, message_id))

    with stack.customer_ws(conversation) as ws:
        senders = [threading.Thread(target=send) for _ in range(3)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        recv_until(ws, reply_to(message_id))
        _settle(stack, conversation, ws)
    events = stack.events(conversation)
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True]
    assert len({r.json()["seq"] for r in responses}) == 1
    assert [e["seq"] for e in events if e["type"] == "customer_message" and e["client_message_id"] == message_id] == [1]
    assert replies(events, message_id) == ["answer"]


def test_a_message_stored_just_before_a_crash_gets_its_turn_when_re_sent(stack: Stack) -> None:
    conversation = stack.start_conversation()
    message_id = new_id()
    _store_only(stack, conversation, POLICY_QUESTION, message_id)
    with stack.customer_ws(conversation) as ws:
        _resend_three_times(stack, conversation, POLICY_QUESTION, message_id)
        answer = recv_until(ws, reply_to(message_id))[-1]
        _settle(stack, conversation, ws)
    assert answer["type"] == "answer" and answer["citations"]
    assert replies(stack.events(conversation), message_id) == ["answer"]
    assert _transcript_count(stack, conversation["id"], POLICY_QUESTION) == 1


def test_a_turn_that_ran_before_a_crash_is_delivered_from_the_checkpoint_not_run_again(stack: Stack) -> None:
    conversation = stack.start_conversation()
    message_id = new_id()
    _store_only(stack, conversation, POLICY_QUESTION, message_id)
    # The dead process had run the turn (its checkpoint holds the result) but not stored the reply.
    ran = stack.services.agent.turn(
        conversation["id"], POLICY_QUESTION, context=ConversationContext(), client_message_id=message_id
    )
    turns_before = stack.services.agent.state(conversation["id"])["turn_index"]
    with stack.customer_ws(conversation) as ws:
        _resend_three_times(stack, conversation, POLICY_QUESTION, message_id)
        answer = recv_until(ws, reply_to(message_id))[-1]
        assert stack.services.agent.state(conversation["id"])["turn_index"] == turns_before  # not run again
        _settle(stack, conversation, ws)
    assert ran.decision == "answer"
    assert answer["type"] == "answer" and answer["text"] == ran.answer
    assert [c["doc_id"] for c in answer["citations"]] == [c.doc_id for c in ran.citations]
    assert replies(stack.events(conversation), message_id) == ["answer"]
    assert _transcript_count(stack, conversation["id"], POLICY_QUESTION) == 1


def test_an_escalation_cut_short_by_a_crash_gets_one_ticket_and_one_handoff(stack: Stack) -> None:
    conversation = stack.start_conversation()
    message_id = new_id()
    seq = _store_only(stack, conversation, HANDOFF_QUESTION, message_id)
    # The dead process had run the turn (the conversation waits for a person in the checkpoint), no ticket yet.
    ran = stack.services.agent.turn(
        conversation["id"], HANDOFF_QUESTION, context=ConversationContext(), client_message_id=message_id
    )
    assert stack.services.queue.active_for_conversation(conversation["id"]) is None
    with stack.customer_ws(conversation) as ws:
        _resend_three_times(stack, conversation, HANDOFF_QUESTION, message_id)
        handoff = recv_until(ws, reply_to(message_id))[-1]
    ticket = stack.services.queue.active_for_conversation(conversation["id"])
    assert ran.decision == "escalate"
    assert handoff["type"] == "handoff"
    assert ticket is not None and ticket.reason == "customer_requested_human"
    assert _tickets_of(stack, conversation["id"]) == 1
    assert replies(stack.events(conversation), message_id) == ["handoff"]
    # The escalating message is the ticket's reason, not a message forwarded to it.
    assert _customer_messages_on_ticket(stack, ticket.id, seq) == 0
    assert stack.services.conversations.get(conversation["id"]).mode.value == "pending_human"


def test_an_escalation_whose_interrupt_was_not_stored_gets_a_full_ticket(stack: Stack) -> None:
    conversation = stack.start_conversation()
    message_id = new_id()
    _store_only(stack, conversation, HANDOFF_QUESTION, message_id)
    stack.services.agent.turn(
        conversation["id"], HANDOFF_QUESTION, context=ConversationContext(), client_message_id=message_id
    )
    # The checkpoint and the interrupt are two writes: the process died between them.
    saver = stack.services.agent.graph.checkpointer
    with saver.conn:  # type: ignore[union-attr]
        saver.conn.execute("DELETE FROM writes WHERE thread_id = ?", (conversation["id"],))  # type: ignore[union-attr]
    with stack.customer_ws(conversation) as ws:
        _resend_three_times(stack, conversation, HANDOFF_QUESTION, message_id)
        recv_until(ws, reply_to(message_id))
    ticket = stack.services.queue.active_for_conversation(conversation["id"])
    assert ticket is not None
    assert ticket.reason == "customer_requested_human"  # not a bare "needs_human" without the agent's findings
    assert [t["speaker"] for t in ticket.payload["transcript"]] == ["customer", "bot"]
    assert stack.services.agent.pending_escalation(conversation["id"]) == ticket.payload


def test_a_handoff_the_customer_saw_has_its_ticket_and_re_sends_of_it_change_nothing(stack: Stack) -> None:
    conversation = stack.start_conversation()
    first = new_id()
    with stack.customer_ws(conversation) as ws:
        assert stack.post_message(conversation, HANDOFF_QUESTION, first).status_code == 202
        recv_until(ws, reply_to(first))
    ticket = stack.services.queue.active_for_conversation(conversation["id"])
    assert ticket is not None
    # Re-sending a message that has its hand-off and ticket changes nothing.
    _resend_three_times(stack, conversation, HANDOFF_QUESTION, first)
    assert stack.services.queue.active_for_conversation(conversation["id"]) == ticket
    assert replies(stack.events(conversation), first) == ["handoff"]
    assert _tickets_of(stack, conversation["id"]) == 1


def test_a_message_forwarded_to_a_person_reaches_the_console_once_however_often_it_is_re_sent(stack: Stack) -> None:
    conversation = stack.start_conversation()
    first, second, marker = new_id(), new_id(), new_id()
    with stack.customer_ws(conversation) as ws:
        assert stack.post_message(conversation, HANDOFF_QUESTION, first).status_code == 202
        recv_until(ws, reply_to(first))
    ticket = stack.services.queue.active_for_conversation(conversation["id"])
    assert ticket is not None
    seq = _store_only(stack, conversation, LATER_QUESTION, second)
    # The dead process had added the message to the agent's transcript, not yet to the ticket.
    forwarded = stack.services.agent.turn(
        conversation["id"], LATER_QUESTION, context=ConversationContext(), client_message_id=second
    )
    with stack.console_ws() as console:
        _resend_three_times(stack, conversation, LATER_QUESTION, second)
        _resend_three_times(stack, conversation, LATER_QUESTION, second)
        # Turns run in order: once the console has the next message, every re-send before it was handled.
        assert stack.post_message(conversation, MARKER_TEXT, marker).status_code == 202
        frames = recv_until(console, lambda f: f["type"] == "customer_message" and f["text"] == MARKER_TEXT)
    seen = [f["text"] for f in frames if f["type"] == "customer_message" and f["conversation_id"] == conversation["id"]]
    assert forwarded.decision == "forwarded"
    assert seen == [LATER_QUESTION, MARKER_TEXT]
    assert _customer_messages_on_ticket(stack, ticket.id, seq) == 1
    assert _transcript_count(stack, conversation["id"], LATER_QUESTION) == 1
    assert replies(stack.events(conversation), second) == []  # the bot stays silent while a person owns it


def test_a_turn_that_failed_runs_again_when_its_message_is_re_sent(stack: Stack) -> None:
    conversation = stack.start_conversation()
    message_id = new_id()
    _store_only(stack, conversation, POLICY_QUESTION, message_id)
    # The turn failed (e.g. the database was restarting): the customer was told to send the message again.
    stack.services.conversations.append(
        conversation["id"],
        ConversationEventKind.SYSTEM,
        "Sorry, something went wrong on our side.",
        author="bot",
        payload={"type": "error"},
        reply_to=message_id,
    )
    with stack.customer_ws(conversation) as ws:
        _resend_three_times(stack, conversation, POLICY_QUESTION, message_id)
        answer = recv_until(ws, reply_to(message_id))[-1]
        _settle(stack, conversation, ws)
    events = stack.events(conversation)
    assert answer["type"] == "answer"
    assert replies(events, message_id) == ["answer"]
    assert [e["type"] for e in events if e["reply_to"] == message_id] == ["error", "answer"]
