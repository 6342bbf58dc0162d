"""Erasure on the stores directly (SQLite and PostgreSQL): how conversations are found, and anonymised tickets.

The HTTP path, with the agent and every hook, is in ``tests/integration/api/test_admin_erasure.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import Engine, text

from grounddesk.agent.checkpoint import open_checkpointer
from grounddesk.audit import AuditKind, AuditTrail
from grounddesk.connectors.demo import DemoBackend
from grounddesk.db import create_engine_for, upgrade
from grounddesk.escalation import ContactDetails, ConversationStore, EscalationSettings, SqlTicketQueue
from grounddesk.privacy import Eraser, PrivacySettings
from grounddesk.testing.clock import FakeClock
from grounddesk.testing.residue import find_in_database

EMAIL = "jordan.lee@example.com"  # C-1003 in the demo CRM
PHRASE = "cobalt-yak-2208"


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sql_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def saver(sql_url: str, tmp_path: Path) -> Iterator[BaseCheckpointSaver[Any]]:
    saver, conn = open_checkpointer(sql_url, tmp_path / "checkpoints.db")
    yield saver
    conn.close()


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[Any]:
    path = tmp_path / "demo_backend.sqlite"
    DemoBackend.create(path)
    crm, erp = DemoBackend.open(path)
    yield crm
    crm.close()
    erp.close()


@pytest.fixture
def stores(engine: Engine) -> tuple[ConversationStore, SqlTicketQueue, AuditTrail]:
    clock = FakeClock()
    return ConversationStore(engine, clock), SqlTicketQueue(engine, EscalationSettings(), clock), AuditTrail(engine)


def test_conversations_are_found_by_contact_details_and_by_the_email_quoted_in_a_reply(
    engine: Engine, crm: Any, stores: tuple[ConversationStore, SqlTicketQueue, AuditTrail]
) -> None:
    conversations, queue, trail = stores
    conversations.create("by-contact")
    ticket = queue.open_ticket("by-contact", "needs_human", {})
    queue.leave_contact(ticket.id, ContactDetails(name="Jordan", phone="(206) 555-0103", message=PHRASE))
    conversations.create("by-quote")
    conversations.append("by-quote", "agent_message", f"We wrote to {EMAIL.upper()} today.", author="agent:kim")
    conversations.create("by-verified", customer_id="C-1003")
    conversations.create("lookalike")
    conversations.append("lookalike", "agent_message", f"Mail m{EMAIL} and C-10030", author="agent:kim")

    report = Eraser(engine, trail, crm=crm).erase(email=EMAIL, actor="root")

    # by-contact: the phone the CRM has for C-1003, written differently on the contact form
    assert report.customer_ids == ["C-1003"] and report.conversations_found == 3
    assert {c.id for c in conversations.list()} == {"lookalike"}  # "mjordan...", "C-10030": other people
    assert find_in_database(engine, [PHRASE, "We wrote to"]) == []


def test_kept_ticket_statistics_are_anonymised_and_the_conversation_is_gone(
    engine: Engine,
    saver: BaseCheckpointSaver[Any],
    stores: tuple[ConversationStore, SqlTicketQueue, AuditTrail],
) -> None:
    conversations, queue, trail = stores
    conversations.create("c1", customer_id="C-1003")
    conversations.append("c1", "customer_message", f"My {PHRASE} broke", author="customer", client_message_id="m1")
    ticket = queue.open_ticket(
        "c1",
        "needs_human",
        {"transcript": [PHRASE]},
        customer_id="C-1003",
        tier="premium",
        draft=f"About your {PHRASE}",
        sources=[{"doc_id": "warranty", "version": 2, "title": "Warranty", "score": 0.8}],
    )
    queue.leave_contact(ticket.id, ContactDetails(email=EMAIL))
    queue.claim(ticket.id, "kim")
    queue.resolve(ticket.id, "kim", f"Replaced the {PHRASE}")
    trail.record(AuditKind.TICKET_RESOLVED, {"ticket_id": ticket.id}, actor="kim", subject="C-1003")
    settings = PrivacySettings(keep_ticket_stats=True)

    report = Eraser(engine, trail, checkpointer=saver, settings=settings).erase(customer_id="C-1003")

    assert report.counts.tickets_anonymised == 1 and report.counts.tickets_deleted == 0
    kept = queue.get(ticket.id)
    assert (kept.reason, kept.priority.value, kept.status.value, kept.customer_tier) == (
        "needs_human",
        "high",
        "resolved",
        "premium",
    )
    assert kept.customer_id is None and kept.contact is None and kept.draft is None and kept.payload == {}
    assert kept.sources == [{"doc_id": "warranty", "version": 2}] and kept.conversation_id.startswith("erased-")
    assert [e.kind.value for e in queue.events(ticket.id)] == ["created", "contact_left", "claimed", "resolved"]
    assert all(e.data == {} for e in queue.events(ticket.id))
    assert conversations.events_after(kept.conversation_id) == []
    assert find_in_database(engine, ["C-1003", EMAIL, PHRASE]) == []
    assert [c.id for c in conversations.list()] == [kept.conversation_id]
    assert trail.verify().ok


def test_erasing_twice_finds_nothing_the_second_time(
    engine: Engine, stores: tuple[ConversationStore, SqlTicketQueue, AuditTrail]
) -> None:
    conversations, _queue, trail = stores
    conversations.create("c1", customer_id="C-1003")
    eraser = Eraser(engine, trail)

    first = eraser.erase(customer_id="C-1003")
    second = eraser.erase(customer_id="C-1003")

    assert first.counts.conversations == 1 and second.conversations_found == 0
    assert second.counts.model_dump() == dict.fromkeys(second.counts.model_dump(), 0)
    with engine.connect() as conn:
        kinds = [row[0] for row in conn.execute(text("SELECT kind FROM audit_events ORDER BY seq"))]
    assert kinds == ["privacy.erased", "privacy.erased"]
