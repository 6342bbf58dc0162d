"""What reaches the audit trail: the agent's turns (masked), tool calls in their conversation, knowledge changes.

Real agent (hashing embedder), real demo CRM/ERP, real knowledge base (in-memory vectors), SQLite store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grounddesk.agent.types import ConversationContext
from grounddesk.audit import AuditKind, AuditTrail, safe_record
from grounddesk.config import Settings
from grounddesk.connectors.demo import DemoBackend
from grounddesk.db import create_engine_for, upgrade
from grounddesk.testing.embedders import HashingEmbedder
from grounddesk.wiring import build_agent, build_connectors, build_knowledge_base

PRIYA = ConversationContext(customer_id="C-1002", verified=True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    DemoBackend.create(tmp_path / "demo_backend.sqlite")
    return Settings(home=tmp_path, qdrant={"embedded": "memory"})


@pytest.fixture
def trail(settings: Settings) -> Iterator[AuditTrail]:
    engine = create_engine_for(settings.database_url())
    upgrade(engine)
    yield AuditTrail(engine)
    engine.dispose()


def test_a_turn_records_its_tool_calls_and_a_masked_answer_in_its_conversation(
    settings: Settings, trail: AuditTrail
) -> None:
    crm, erp, close_connectors = build_connectors(settings)
    agent, close = build_agent(settings, embedder=HashingEmbedder(256), crm=crm, erp=erp, audit=trail)
    try:
        agent.turn("conv-v", "Where is my order A1001?")
        agent.turn("conv-v", "my email is alex.morgan@example.com")
        agent.turn("conv-w", "Where is my order A1002?", context=PRIYA)
    finally:
        close()
        close_connectors()

    events = trail.events()
    mine = [e for e in events if e.conversation_id == "conv-v"]
    assert [e.kind for e in mine] == ["answer", "tool_call", "tool_call", "answer"]
    lookup, status, answer = mine[1], mine[2], mine[3]
    assert (lookup.payload["tool"], lookup.subject) == ("lookup_customer", None)
    assert (status.payload["tool"], status.payload["args"], status.subject) == (
        "order_status",
        {"order_id": "A1001"},
        "C-1001",
    )
    assert answer.subject == "C-1001" and answer.actor == "bot"  # verified in the chat
    assert answer.payload["decision"] == "answer" and "alex.morgan@example.com" not in answer.payload["question"]
    other = [e for e in events if e.conversation_id == "conv-w"]
    assert {e.subject for e in other} == {"C-1002"} and [e.kind for e in other] == ["tool_call", "answer"]
    assert trail.verify().ok


def test_knowledge_approvals_retirements_and_deletions_are_recorded_with_who_did_them(
    settings: Settings, trail: AuditTrail, tmp_path: Path
) -> None:
    source = tmp_path / "docs"
    source.mkdir()
    (source / "hours.md").write_text("# Opening hours\n\nWe answer chats from 8am to 8pm, Monday to Saturday.\n")
    kb = build_knowledge_base(settings, embedder=HashingEmbedder(64), audit=trail)
    try:
        kb.import_paths([source], owner="sam", actor="sam", approve=True)
        kb.retire("hours", actor="sam")
        kb.delete("hours", actor="maya")
    finally:
        kb.close()

    seen = [(e.kind, e.actor, e.payload.get("doc_id"), e.payload.get("version")) for e in trail.events()]
    assert seen == [
        ("knowledge.approved", "sam", "hours", 1),
        ("knowledge.retired", "sam", "hours", 1),
        ("knowledge.deleted", "maya", "hours", None),
    ]
    assert all(e.subject is None and e.conversation_id is None for e in trail.events())


class _Broken:
    def record(self, *args: Any, **kwargs: Any) -> object:
        raise OSError("disk full")


def test_a_failing_audit_sink_is_logged_and_never_breaks_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="grounddesk.audit.hooks"):
        safe_record(_Broken(), AuditKind.ANSWER, {"question": "secret words"}, actor="bot")
        safe_record(None, AuditKind.ANSWER, {"question": "nothing to record"})

    assert [r.getMessage() for r in caplog.records] == ["audit event not recorded"]
    assert "secret words" not in caplog.text
