"""Erasing a customer through the admin API leaves nothing of them in any store, and nobody else loses anything.

Runs on SQLite and PostgreSQL (the ``sql_url`` fixture): conversations, tickets, the idempotency ledger, the audit
trail and (on PostgreSQL) the agent's checkpoints share that database; on SQLite the checkpoints are a second file.
The customer, Alex Morgan (C-1001, alex.morgan@example.com), talks to the bot verified (order status, a support
case opened after their yes, feedback, a hand-off a support agent answers, a knowledge correction drafted from the
ticket) and once anonymously, leaving their email on the ticket. Priya Shah (C-1002) talks to the bot too. After
``POST /v1/admin/erasures {"email": ...}`` every table, every column (and every raw file of a SQLite home) is
searched for Alex's id, email and a phrase only they wrote: nothing. Priya's data is all still there, and the
audit chain still verifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_stack import (
    Stack,
    import_demo_knowledge,
    make_settings,
    of_type,
    recv_until,
    say,
    start_stack,
    stop_stack,
)
from sqlalchemy import text

from grounddesk.connectors.demo import DemoBackend
from grounddesk.testing.embedders import HashingEmbedder
from grounddesk.testing.residue import find_in_database, find_in_files, find_in_sqlite_file

ALEX_ID = "C-1001"
ALEX_EMAIL = "alex.morgan@example.com"
ALEX_PHRASE = "purple-llama-7731"
PRIYA_PHRASE = "orange-walrus-42"
CORRECTION = "corrections/damaged-headlamps"
ALEX = (ALEX_ID, ALEX_EMAIL, ALEX_PHRASE)


@pytest.fixture
def demo_stack(sql_url: str, tmp_path: Path) -> Iterator[Stack]:
    settings = make_settings(tmp_path / "home", sql_url)
    DemoBackend.create(settings.demo_backend_path)
    embedder = HashingEmbedder(256)
    import_demo_knowledge(settings, embedder)
    running = start_stack(settings, embedder)
    yield running
    stop_stack(running)


def _auth(conversation: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {conversation['token']}"}


def _ticket_for(console: Any, conversation: dict[str, Any]) -> dict[str, Any]:
    frames = recv_until(
        console, lambda f: f["type"] == "ticket_created" and f["ticket"]["conversation_id"] == conversation["id"]
    )
    ticket: dict[str, Any] = frames[-1]["ticket"]
    return ticket


def _alex_verified(stack: Stack) -> dict[str, Any]:
    """Order status, a case opened after a yes, feedback, a hand-off answered by Kim, a knowledge correction."""
    conversation = stack.start_conversation(customer_id=ALEX_ID)
    with stack.staff_ws() as console, stack.customer_ws(conversation) as ws:
        say(ws, "Where is my order A1001?")
        answer = recv_until(ws, of_type("answer"))[-1]
        say(ws, f"My parcel A1001 arrived damaged, the {ALEX_PHRASE} headlamp is broken")
        assert "Shall I go ahead" in recv_until(ws, of_type("clarify"))[-1]["text"]
        say(ws, "yes please")
        assert "opened case" in recv_until(ws, of_type("answer"))[-1]["text"]
        say(ws, "I want to talk to a person")
        recv_until(ws, of_type("handoff"))
        ticket = _ticket_for(console, conversation)
    staff = stack.staff("kim")
    with stack.http() as client:
        rated = client.post(
            f"/v1/conversations/{conversation['id']}/feedback",
            json={"seq": answer["seq"], "rating": "up", "comment": f"quick answer about my {ALEX_PHRASE}"},
            headers=_auth(conversation),
        )
        assert rated.status_code == 204, rated.text
        for path, body in (
            ("claim", None),
            ("reply", {"text": f"Sorry about the {ALEX_PHRASE} headlamp, a new one is on its way."}),
            (
                "knowledge-correction",
                {"title": "Damaged headlamps", "text": f"A customer's {ALEX_PHRASE} headlamp arrived broken."},
            ),
            ("resolve", {"note": f"Replacement {ALEX_PHRASE} sent"}),
        ):
            done = client.post(f"/v1/tickets/{ticket['id']}/{path}", json=body, headers=staff)
            assert done.status_code == 200, (path, done.text)
    assert stack.services.knowledge.store.chunks(CORRECTION)  # a draft in the vector store until erased
    return conversation


def _alex_anonymous(stack: Stack) -> dict[str, Any]:
    """Not signed in: a hand-off, and contact details with Alex's email (in other letter case)."""
    conversation = stack.start_conversation()
    with stack.staff_ws() as console, stack.customer_ws(conversation) as ws:
        say(ws, "I want to talk to a person")
        recv_until(ws, of_type("handoff"))
        _ticket_for(console, conversation)
    with stack.http() as client:
        left = client.post(
            f"/v1/conversations/{conversation['id']}/contact",
            json={"name": "Alex Morgan", "email": "Alex.Morgan@Example.com", "message": f"about {ALEX_PHRASE}"},
            headers=_auth(conversation),
        )
    assert left.status_code == 204, left.text
    return conversation


def _priya(stack: Stack) -> dict[str, Any]:
    conversation = stack.start_conversation(customer_id="C-1002")
    with stack.staff_ws() as console, stack.customer_ws(conversation) as ws:
        say(ws, "Where is my order A1002?")
        recv_until(ws, of_type("answer"))
        say(ws, f"I want to talk to a person about {PRIYA_PHRASE}")
        recv_until(ws, of_type("handoff"))
        _ticket_for(console, conversation)
    return conversation


def _erase(stack: Stack, body: dict[str, str], user: str = "root") -> httpx.Response:
    with stack.http() as client:
        return client.post("/v1/admin/erasures", json=body, headers=stack.staff(user))


def _residue(stack: Stack, needles: tuple[str, ...]) -> list[Any]:
    services = stack.services
    found = find_in_database(services.engine, needles)
    if services.engine.dialect.name == "sqlite":
        home = stack.settings.home
        crm = stack.settings.demo_backend_path  # the company's CRM/ERP, not grounddesk's store
        raw = find_in_files(
            home, needles, exclude=[crm, crm.with_name(crm.name + "-wal"), crm.with_name(crm.name + "-shm")]
        )
        found += raw  # the vector store's files included: erasure rewrites them
        found += find_in_sqlite_file(home / "checkpoints.db", needles)
    return found


def test_erasure_by_email_leaves_nothing_of_the_customer_and_keeps_everyone_else(demo_stack: Stack) -> None:
    stack = demo_stack
    verified = _alex_verified(stack)
    anonymous = _alex_anonymous(stack)
    priya = _priya(stack)
    assert stack.services.audit is not None
    audited = [e.kind for e in stack.services.audit.events(conversation_id=verified["id"])]
    assert audited.count("answer") == 4 and audited.count("tool_call") == 2  # order status, the case after the yes
    assert {
        "ticket.opened",
        "ticket.claimed",
        "ticket.reply",
        "ticket.knowledge_correction",
        "ticket.resolved",
    } <= set(audited)
    before = _residue(stack, ALEX)
    assert {r.needle for r in before} == set(ALEX)  # the scan finds them all before, checkpoints included
    assert {"checkpoints", "checkpoint_blobs", "writes"} & {r.table for r in before}
    with stack.services.engine.connect() as conn:
        ledger_before = conn.execute(text("SELECT count(*) FROM connector_ledger")).scalar_one()
    assert ledger_before >= 1

    erased = _erase(stack, {"email": ALEX_EMAIL})

    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["customer_ids"] == [ALEX_ID]  # the CRM resolved the email
    counts = report["counts"]
    assert counts["conversations"] == 2 and counts["checkpoint_threads"] == 2
    assert counts["tickets_deleted"] == 2 and counts["ticket_events"] > 0
    assert counts["feedback"] == 1 and counts["conversation_events"] > 0
    assert counts["connector_ledger"] >= 1 and counts["knowledge_corrections"] == 1
    assert counts["audit_events_erased"] > 0
    assert any("system" in note for note in report["not_covered"])
    assert _residue(stack, ALEX) == []
    assert stack.services.knowledge.store.chunks(CORRECTION) == []

    # Priya keeps everything: events, ticket, checkpoint, audit payloads.
    assert {r.needle for r in _residue(stack, (PRIYA_PHRASE,))} >= {PRIYA_PHRASE}
    services = stack.services
    assert services.queue.active_for_conversation(priya["id"]) is not None
    assert [e.kind.value for e in services.conversations.events_after(priya["id"])].count("customer_message") == 2
    assert services.agent.state(priya["id"]).get("messages")
    assert services.audit is not None
    assert any(not e.erased for e in services.audit.events(conversation_id=priya["id"]))

    # The chain still verifies; the erasure event vouches for the tombstones and names nobody.
    with stack.http() as client:
        verified_chain = client.get("/v1/admin/audit/verify", headers=stack.staff("root")).json()
        gone = client.get(f"/v1/conversations/{verified['id']}", headers=_auth(verified))
        gone_too = client.get(f"/v1/conversations/{anonymous['id']}", headers=_auth(anonymous))
    assert verified_chain["ok"] is True and verified_chain["problems"] == []
    assert verified_chain["erased"] == counts["audit_events_erased"]
    event = services.audit.events(kind="privacy.erased")[-1]
    assert event.seq == report["audit_seq"] and event.actor == "root"
    assert gone.status_code == 404 and gone_too.status_code == 404

    again = _erase(stack, {"customer_id": ALEX_ID}).json()
    assert all(value == 0 for value in again["counts"].values()), again


def test_erasure_by_customer_id_finds_the_email_in_the_crm_for_contact_details(demo_stack: Stack) -> None:
    stack = demo_stack
    anonymous = _alex_anonymous(stack)

    report = _erase(stack, {"customer_id": ALEX_ID}).json()

    assert report["requested_by"] == "customer" and report["conversations_found"] == 1
    assert stack.services.conversations.list(limit=10) == []
    assert _residue(stack, ALEX) == []
    with stack.http() as client:
        assert client.get(f"/v1/conversations/{anonymous['id']}", headers=_auth(anonymous)).status_code == 404


def test_only_an_admin_may_erase_and_the_request_names_exactly_one_customer(demo_stack: Stack) -> None:
    stack = demo_stack
    assert _erase(stack, {"customer_id": ALEX_ID}, user="kim").status_code == 403
    both = _erase(stack, {"customer_id": ALEX_ID, "email": ALEX_EMAIL})
    neither = _erase(stack, {})
    bad_email = _erase(stack, {"email": "not-an-address"})
    assert [r.status_code for r in (both, neither, bad_email)] == [422, 422, 422]
    assert {r.json()["code"] for r in (both, neither, bad_email)} == {"invalid_input"}
    with stack.http() as client:
        assert client.post("/v1/admin/erasures", json={"customer_id": ALEX_ID}).status_code == 401
