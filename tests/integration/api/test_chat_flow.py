"""A customer's conversation over the real service: answers with citations, hand-off to a person and back.

Runs uvicorn on 127.0.0.1 with the widget's transports: WebSocket (the ``websockets`` client) and SSE (httpx).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from service_stack import WAIT_S, Stack, of_type, recv_until, say, sse_events

from grounddesk.testing.clock import DEFAULT_START

POLICY_QUESTION = "What is your return policy?"
OPENED = DEFAULT_START  # the fake clock's start: Friday 20 November 2026, 12:00 UTC


def _mid() -> str:
    return uuid.uuid4().hex


def _auth(conversation: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {conversation['token']}"}


def _escalate(stack: Stack, conversation: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ask for a person with the console connected; returns the handoff event and the created ticket."""
    with stack.staff_ws() as console, stack.customer_ws(conversation) as ws:
        say(ws, "I want to talk to a person")
        frames = recv_until(ws, of_type("handoff"))
        created = recv_until(
            console,
            lambda f: f["type"] == "ticket_created" and f["ticket"]["conversation_id"] == conversation["id"],
        )[-1]
    return frames[-1], created["ticket"]


def test_an_answerable_question_gets_streamed_tokens_then_an_answer_with_citations(stack: Stack) -> None:
    conversation = stack.start_conversation()
    assert conversation["greeting"] and conversation["verified"] is False
    message_id = _mid()
    with stack.customer_ws(conversation) as ws:
        say(ws, POLICY_QUESTION, message_id)
        frames = recv_until(ws, of_type("answer", "clarify", "handoff", "error"))
    echo = next(f for f in frames if f["type"] == "customer_message")
    assert echo["client_message_id"] == message_id and echo["seq"] == 1 and echo["author"] == "customer"
    answer = frames[-1]
    assert answer["type"] == "answer", answer
    tokens = [f for f in frames if f["type"] == "token"]
    assert tokens and all(t["seq"] is None and t["reply_to"] == message_id for t in tokens)
    assert "".join(t["text"] for t in tokens) == answer["text"]
    assert answer["seq"] == 2 and answer["client_message_id"] == message_id and answer["author"] == "bot"
    citation = answer["citations"][0]
    assert citation["doc_id"] == "returns-policy"
    assert citation["url"] == f"/v1/knowledge/public/returns-policy?version={citation['version']}"
    assert 0.0 <= answer["confidence"] <= 1.0 and answer["confidence_label"] in {"high", "medium", "low"}
    assert answer["reasons"]

    # The citation's page renders the approved article, escaped, for anyone (it is a public document).
    with stack.http() as client:
        page = client.get(citation["url"])
        history = client.get(f"/v1/conversations/{conversation['id']}", headers=_auth(conversation)).json()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Return" in page.text and "<script" not in page.text
    assert history["mode"] == "bot"
    assert [e["type"] for e in history["events"]] == ["customer_message", "answer"]
    assert history["events"][1]["citations"] == answer["citations"]


def test_sse_replays_after_a_seq_and_then_streams_live_events(stack: Stack) -> None:
    conversation = stack.start_conversation()
    first_id = _mid()
    first = stack.post_message(conversation, POLICY_QUESTION, first_id)
    assert first.status_code == 202 and first.json() == {"accepted": True, "duplicate": False, "seq": 1}
    url = f"{stack.url}/v1/conversations/{conversation['id']}/events"
    with httpx.stream("GET", url, params={"token": conversation["token"], "after": 1}, timeout=WAIT_S) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        # Seq 1 is not sent again; the answer (seq 2) comes replayed or live, whichever way the race went.
        stored = next(e for e in events if e["seq"] is not None)
        assert stored["seq"] == 2 and stored["type"] == "answer" and stored["client_message_id"] == first_id
        second_id = _mid()
        assert stack.post_message(conversation, "Do you ship to the UK?", second_id).json()["seq"] == 3
        echo = next(e for e in events if e["seq"] is not None)
        assert echo["type"] == "customer_message" and echo["seq"] == 3 and echo["client_message_id"] == second_id
        reply = next(e for e in events if e["seq"] is not None)
        assert reply["seq"] == 4 and reply["client_message_id"] == second_id


def test_a_resent_client_message_id_is_stored_once_and_answered_once(stack: Stack) -> None:
    conversation = stack.start_conversation()
    message_id = _mid()
    with stack.customer_ws(conversation) as ws:
        first = stack.post_message(conversation, POLICY_QUESTION, message_id)
        second = stack.post_message(conversation, POLICY_QUESTION, message_id)
        recv_until(ws, of_type("answer"))
        say(ws, POLICY_QUESTION, message_id)
        # A later, different message: by the time its answer arrives, a second answer to the first would have too.
        say(ws, "Do you ship to the UK?")
        later = recv_until(ws, lambda f: f["type"] in {"answer", "clarify", "handoff"} and f["seq"] > 3)
    assert first.json() == {"accepted": True, "duplicate": False, "seq": 1}
    assert second.json() == {"accepted": True, "duplicate": True, "seq": 1}
    assert not [f for f in later if f.get("reply_to") == message_id and f["type"] != "token"]
    with stack.http() as client:
        events = client.get(f"/v1/conversations/{conversation['id']}", headers=_auth(conversation)).json()["events"]
    assert [e["seq"] for e in events if e["client_message_id"] == message_id] == [1, 2]


def test_asking_for_a_person_hands_off_and_opens_a_ticket_the_console_sees(stack: Stack) -> None:
    conversation = stack.start_conversation(customer_id="C-1001")
    assert conversation["verified"] is True
    handoff, ticket = _escalate(stack, conversation)
    assert handoff["author"] == "bot" and handoff["text"]
    assert ticket["reason"] == "customer_requested_human" and ticket["status"] == "open"
    assert ticket["customer_id"] == "C-1001" and ticket["overdue"] is False
    with stack.http() as client:
        listed = client.get("/v1/tickets", params={"status": "open"}, headers=stack.staff("kim")).json()["tickets"]
        detail = client.get(f"/v1/tickets/{ticket['id']}", headers=stack.staff("kim")).json()
        history = client.get(f"/v1/conversations/{conversation['id']}", headers=_auth(conversation)).json()
    assert ticket["id"] in [t["id"] for t in listed]
    assert [e["speaker"] for e in detail["transcript"]] == ["customer", "bot"]
    assert detail["events"][0]["kind"] == "created"
    assert history["mode"] == "pending_human"
    assert "no_agent" not in [e["type"] for e in history["events"]]  # a support agent was online


def test_while_a_person_owns_the_conversation_the_bot_is_silent_until_it_is_returned(stack: Stack) -> None:
    conversation = stack.start_conversation()
    _, ticket = _escalate(stack, conversation)
    staff = stack.staff("kim")
    with stack.http() as client:
        assert client.post(f"/v1/tickets/{ticket['id']}/claim", headers=staff).status_code == 200
        replied = client.post(
            f"/v1/tickets/{ticket['id']}/reply",
            json={"text": "Hi, I'm Kim. How can I help?", "source": "own"},
            headers=staff,
        )
    assert replied.status_code == 200, replied.text
    with stack.staff_ws() as console, stack.customer_ws(conversation, after=2) as ws:
        reply = recv_until(ws, of_type("agent_message"))[-1]
        assert reply["author"] == "agent" and reply["agent_name"] == "Kim" and reply["text"].startswith("Hi, I'm Kim")
        question_id = _mid()
        say(ws, POLICY_QUESTION, question_id)
        forwarded = recv_until(console, lambda f: f["type"] == "customer_message" and f["ticket_id"] == ticket["id"])[
            -1
        ]
        assert forwarded["text"] == POLICY_QUESTION
        # A second reply (the graph is no longer paused at the escalation) reaches the customer too.
        with stack.http() as client:
            again = client.post(
                f"/v1/tickets/{ticket['id']}/reply",
                json={"text": "Our returns window is 30 days.", "source": "own"},
                headers=staff,
            )
        assert again.status_code == 200, again.text
        frames = recv_until(ws, of_type("agent_message"))
    # The bot said nothing between the customer's message and the person's second reply.
    assert [f["type"] for f in frames] == ["customer_message", "agent_message"]
    with stack.http() as client:
        detail = client.get(f"/v1/tickets/{ticket['id']}", headers=staff).json()
        assert [e["kind"] for e in detail["events"]].count("customer_message") == 1
        returned = client.post(
            f"/v1/tickets/{ticket['id']}/return-to-bot",
            json={"summary": "explained the returns window"},
            headers=staff,
        )
    assert returned.status_code == 200 and returned.json()["status"] == "returned_to_bot"
    with stack.customer_ws(conversation, after=frames[-1]["seq"]) as ws:
        assert recv_until(ws, of_type("returned_to_bot"))[-1]["author"] == "agent"
        say(ws, POLICY_QUESTION)
        answer = recv_until(ws, of_type("answer", "clarify", "handoff"))[-1]
    assert answer["type"] == "answer" and answer["citations"]


def test_out_of_hours_the_customer_is_offered_to_leave_contact_details(stack: Stack) -> None:
    conversation = stack.start_conversation()
    stack.clock.set(OPENED + timedelta(hours=6))  # Friday 18:00 UTC: after business hours (9:00-17:00)
    try:
        with stack.staff_ws() as console, stack.customer_ws(conversation) as ws:  # even with someone online
            say(ws, "I want to talk to a person")
            frames = recv_until(ws, of_type("no_agent"))
            recv_until(console, lambda f: f["type"] == "ticket_created")
    finally:
        stack.clock.set(OPENED)
    assert [f["type"] for f in frames if f["type"] != "token"][-2:] == ["handoff", "no_agent"]
    assert "support agents are busy" in frames[-1]["text"]
    with stack.http() as client:
        left = client.post(
            f"/v1/conversations/{conversation['id']}/contact",
            json={"name": "Alex", "email": "alex.morgan@example.com"},
            headers=_auth(conversation),
        )
        tickets = client.get("/v1/tickets", headers=stack.staff("kim")).json()["tickets"]
        history = client.get(f"/v1/conversations/{conversation['id']}", headers=_auth(conversation)).json()
    assert left.status_code == 204
    ticket = next(t for t in tickets if t["conversation_id"] == conversation["id"])
    assert ticket["contact"]["email"] == "alex.morgan@example.com"
    assert history["mode"] == "pending_human" and history["events"][-1]["type"] == "no_agent"


def test_feedback_rates_a_reply(stack: Stack) -> None:
    conversation = stack.start_conversation()
    with stack.customer_ws(conversation) as ws:
        say(ws, POLICY_QUESTION)
        answer = recv_until(ws, of_type("answer"))[-1]
    with stack.http() as client:
        url = f"/v1/conversations/{conversation['id']}/feedback"
        rated = client.post(
            url,
            json={"seq": answer["seq"], "rating": "down", "comment": "mail me at a@b.co"},
            headers=_auth(conversation),
        )
        own = client.post(url, json={"seq": 1, "rating": "up"}, headers=_auth(conversation))
    assert rated.status_code == 204
    assert own.status_code == 422 and own.json()["code"] == "invalid_input"  # one's own message is not a reply
    stored = stack.services.conversations.feedback_for(conversation["id"])
    assert [(f.event_seq, f.rating.value) for f in stored] == [(answer["seq"], "down")]
    assert stored[0].comment is not None and "a@b.co" not in stored[0].comment  # masked like every customer text


def test_a_malformed_websocket_frame_gets_an_error_event_and_the_socket_stays_open(stack: Stack) -> None:
    conversation = stack.start_conversation()
    with stack.customer_ws(conversation) as ws:
        ws.send("not json")
        first = recv_until(ws, of_type("error"))[-1]
        ws.send('{"type": "message", "client_message_id": "m-long", "text": "' + "x" * 4001 + '"}')
        second = recv_until(ws, of_type("error"))[-1]
        say(ws, POLICY_QUESTION)
        answer = recv_until(ws, of_type("answer", "clarify", "handoff"))[-1]
    assert first["seq"] is None and "message" in first["text"]
    assert second["reply_to"] == "m-long" and "4000" in second["text"]
    assert answer["seq"] == 2  # nothing of the refused frames was stored
