"""Retention: conversations older than ``privacy.retention_days`` go, with everything that hangs off them.

SQLite and PostgreSQL (``sql_url``); the checkpoints are the real LangGraph savers grounddesk opens (a SQLite file,
or tables in the PostgreSQL database), written by a real compiled graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from sqlalchemy import Engine

from grounddesk.agent.checkpoint import open_checkpointer
from grounddesk.audit import AuditKind, AuditTrail, audit_scope
from grounddesk.connectors.ledger import IdempotencyLedger
from grounddesk.db import create_engine_for, upgrade, utc_now
from grounddesk.escalation import ConversationStore, EscalationSettings, SqlTicketQueue
from grounddesk.privacy import CheckpointThreads, Eraser, PrivacySettings
from grounddesk.testing.clock import FakeClock
from grounddesk.testing.residue import find_in_database

OLD_PHRASE = "ancient-heron-518"
NEW_PHRASE = "recent-otter-904"


class _State(TypedDict, total=False):
    text: str


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
def clock() -> FakeClock:
    return FakeClock(utc_now() - timedelta(days=100))


def _checkpoint(saver: BaseCheckpointSaver[Any], thread_id: str, text: str) -> None:
    graph = StateGraph(_State)
    graph.add_node("echo", lambda state: {"text": state.get("text", "")})
    graph.add_edge(START, "echo")
    graph.add_edge("echo", END)
    graph.compile(checkpointer=saver).invoke({"text": text}, {"configurable": {"thread_id": thread_id}})


def _conversation(
    store: ConversationStore, saver: BaseCheckpointSaver[Any], trail: AuditTrail, cid: str, customer: str, text: str
) -> None:
    store.create(cid, customer_id=customer)
    store.append(cid, "customer_message", text, author="customer", client_message_id=f"{cid}-m1")
    store.append(cid, "answer", f"About {text}: here is how.", author="bot", reply_to=f"{cid}-m1")
    _checkpoint(saver, cid, text)
    with audit_scope(conversation_id=cid, subject=customer, actor="bot"):
        trail.record(AuditKind.ANSWER, {"question": text, "decision": "answer"})


def test_old_conversations_go_with_their_cascade_and_recent_or_open_ones_stay(
    engine: Engine, saver: BaseCheckpointSaver[Any], clock: FakeClock
) -> None:
    store = ConversationStore(engine, clock)
    queue = SqlTicketQueue(engine, EscalationSettings(), clock)
    trail = AuditTrail(engine, clock=clock)
    ledger = IdempotencyLedger(engine, now=clock)
    _conversation(store, saver, trail, "old-done", "C-2001", OLD_PHRASE)
    closed = queue.open_ticket("old-done", "needs_human", {"transcript": [OLD_PHRASE]}, customer_id="C-2001")
    queue.resolve(closed.id, "kim", f"sorted {OLD_PHRASE}")
    _conversation(store, saver, trail, "old-open", "C-2002", "still waiting")
    queue.open_ticket("old-open", "needs_human", {}, customer_id="C-2002")
    ledger.claim("old-key", connector="demo-crm", operation="create_case", request_hash="h")
    ledger.complete("old-key", {"customer_id": "C-2001", "subject": OLD_PHRASE})
    clock.set(utc_now() - timedelta(days=1))
    _conversation(store, saver, trail, "recent", "C-2003", NEW_PHRASE)
    ledger.claim("new-key", connector="demo-crm", operation="create_case", request_hash="h")
    ledger.complete("new-key", {"customer_id": "C-2003", "subject": NEW_PHRASE})
    _checkpoint(saver, "cli-recent", "a CLI chat from today")
    eraser = Eraser(engine, trail, checkpointer=saver, settings=PrivacySettings(retention_days=30), clock=clock)

    report = eraser.purge(now=utc_now(), actor="cron")

    assert report.retention_days == 30 and report.conversations_purged == 1 and report.skipped_active == 1
    counts = report.counts
    assert (counts.conversations, counts.conversation_events, counts.tickets_deleted) == (1, 2, 1)
    assert counts.checkpoint_threads == 1 and counts.connector_ledger == 1 and counts.audit_events_erased >= 1
    assert {c.id for c in store.list()} == {"old-open", "recent"}
    threads = CheckpointThreads(saver)
    assert threads.thread_ids() == {"old-open", "recent", "cli-recent"}
    assert ledger.get("old-key") is None and ledger.get("new-key") is not None
    assert find_in_database(engine, [OLD_PHRASE, "C-2001"]) == []
    assert threads.mentioning([OLD_PHRASE]) == set()
    assert {r.table for r in find_in_database(engine, [NEW_PHRASE])} >= {"conversation_events", "audit_events"}
    verified = trail.verify()
    assert verified.ok and verified.erased == counts.audit_events_erased
    assert [e.kind for e in trail.events(kind=AuditKind.PURGED)] == ["privacy.purged"] * len(report.audit_seqs)


def test_checkpoint_only_threads_go_by_their_newest_checkpoint(
    engine: Engine, saver: BaseCheckpointSaver[Any], clock: FakeClock
) -> None:
    trail = AuditTrail(engine, clock=clock)
    _checkpoint(saver, "cli-1", f"hello {OLD_PHRASE}")
    _checkpoint(saver, "cli-2", "another CLI chat")
    threads = CheckpointThreads(saver)
    written = threads.last_activity("cli-1")
    assert written is not None and abs((written - utc_now()).total_seconds()) < 600
    eraser = Eraser(engine, trail, checkpointer=saver, settings=PrivacySettings(retention_days=30), clock=clock)

    kept = eraser.purge(now=utc_now() + timedelta(days=29))
    gone = eraser.purge(now=utc_now() + timedelta(days=31))

    assert kept.counts.checkpoint_threads == 0 and gone.counts.checkpoint_threads == 2
    assert threads.thread_ids() == set() and threads.last_activity("cli-1") is None


def test_without_a_retention_setting_nothing_is_purged(
    engine: Engine, saver: BaseCheckpointSaver[Any], clock: FakeClock
) -> None:
    store = ConversationStore(engine, clock)
    trail = AuditTrail(engine, clock=clock)
    _conversation(store, saver, trail, "ancient", "C-2001", OLD_PHRASE)

    report = Eraser(engine, trail, checkpointer=saver, clock=clock).purge(now=utc_now() + timedelta(days=3650))

    assert report.retention_days is None and report.cutoff is None and report.audit_seqs == []
    assert [c.id for c in store.list()] == ["ancient"] and CheckpointThreads(saver).thread_ids() == {"ancient"}
    assert trail.head()[0] == 1
