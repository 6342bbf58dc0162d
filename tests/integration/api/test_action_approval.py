"""A write action of the ``approve`` tier waits on the ticket until a support agent approves or rejects it.

The service runs with the demo CRM/ERP back-end in its home (``connectors: auto`` picks it up), so the agent has
its tools and the customer's tier comes from the CRM.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from service_stack import Stack, import_demo_knowledge, make_settings, of_type, recv_until, say, start_stack, stop_stack

from grounddesk.connectors.demo import DemoBackend
from grounddesk.testing.embedders import HashingEmbedder


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = make_settings(tmp_path_factory.mktemp("service-demo-home"))
    DemoBackend.create(settings.demo_backend_path)
    embedder = HashingEmbedder(256)
    import_demo_knowledge(settings, embedder)
    running = start_stack(settings, embedder)
    yield running
    stop_stack(running)


def _return_request(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    conversation = stack.start_conversation(customer_id="C-1002")
    with stack.staff_ws() as console, stack.customer_ws(conversation) as ws:
        say(ws, "I want to return order A1002")
        handoff = recv_until(ws, of_type("handoff"))[-1]
        ticket = recv_until(
            console,
            lambda f: f["type"] == "ticket_created" and f["ticket"]["conversation_id"] == conversation["id"],
        )[-1]["ticket"]
    assert "needs to approve" in handoff["text"]
    return conversation, ticket


def test_approving_the_waiting_action_runs_it_once_and_tells_the_customer(demo_stack: Stack) -> None:
    stack = demo_stack
    conversation, ticket = _return_request(stack)
    assert ticket["reason"] == "approval_required"
    assert ticket["pending_action"]["tool"] == "request_return"
    assert ticket["pending_action"]["args"]["order_id"] == "A1002"
    staff = stack.staff("kim")
    with stack.http() as client:
        unclaimed = client.post(f"/v1/tickets/{ticket['id']}/actions/approve", headers=staff)
        assert unclaimed.status_code == 409 and unclaimed.json()["code"] == "invalid_transition"
        client.post(f"/v1/tickets/{ticket['id']}/claim", headers=staff)
        by_other = client.post(f"/v1/tickets/{ticket['id']}/actions/approve", headers=stack.staff("lee"))
        assert by_other.status_code == 409 and by_other.json()["code"] == "ticket_conflict"
        approved = client.post(f"/v1/tickets/{ticket['id']}/actions/approve", json={"note": "ok"}, headers=staff)
        assert approved.status_code == 200, approved.text
        assert approved.json()["pending_action"] is None
        twice = client.post(f"/v1/tickets/{ticket['id']}/actions/approve", headers=staff)
        assert twice.status_code == 409 and twice.json()["code"] == "ticket_conflict"
        detail = client.get(f"/v1/tickets/{ticket['id']}", headers=staff).json()
    with stack.customer_ws(conversation) as ws:
        message = recv_until(ws, of_type("agent_message"))[-1]
    assert message["text"].startswith("From the order system: return request")
    assert "A1002" in message["text"] and message["agent_name"] == "Kim"
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.count("action_approved") == 1 and "agent_reply" in kinds
    assert detail["first_reply_at"] is not None


def test_rejecting_the_waiting_action_drops_it_without_running_it(demo_stack: Stack) -> None:
    stack = demo_stack
    conversation, ticket = _return_request(stack)
    staff = stack.staff("kim")
    with stack.http() as client:
        client.post(f"/v1/tickets/{ticket['id']}/claim", headers=staff)
        rejected = client.post(
            f"/v1/tickets/{ticket['id']}/actions/reject", json={"note": "outside the return window"}, headers=staff
        )
        detail = client.get(f"/v1/tickets/{ticket['id']}", headers=staff).json()
        history = client.get(
            f"/v1/conversations/{conversation['id']}", headers={"Authorization": f"Bearer {conversation['token']}"}
        ).json()
    assert rejected.status_code == 200 and rejected.json()["pending_action"] is None
    rejection = next(e for e in detail["events"] if e["kind"] == "action_rejected")
    assert rejection["data"]["reason"] == "outside the return window"
    assert "agent_message" not in [e["type"] for e in history["events"]]


def test_the_customers_tier_from_the_crm_raises_the_ticket_priority(demo_stack: Stack) -> None:
    stack = demo_stack
    premium = stack.start_conversation(customer_id="C-1001")  # Alex Morgan, account tier premium
    standard = stack.start_conversation(customer_id="C-1003")
    tickets = {}
    with stack.staff_ws() as console:
        for conversation in (premium, standard):
            stack.post_message(conversation, "I want to talk to a person", uuid.uuid4().hex)
            tickets[conversation["id"]] = recv_until(
                console,
                lambda f, c=conversation: f["type"] == "ticket_created" and f["ticket"]["conversation_id"] == c["id"],
            )[-1]["ticket"]
    assert tickets[premium["id"]]["customer_tier"] == "premium"
    assert tickets[premium["id"]]["priority"] == "high"
    assert tickets[standard["id"]]["priority"] == "normal"
