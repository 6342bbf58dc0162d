"""The audit trail on SQLite and PostgreSQL: one chain, and every edit, insertion or deletion found by seq.

The tampering is done the way an intruder with database access would: raw SQL on the table.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from grounddesk.audit import AuditKind, AuditTrail, audit_scope
from grounddesk.audit.chain import DEFAULT_KEY, GENESIS_HASH, personal_hash, record_hash
from grounddesk.db import create_engine_for, upgrade
from grounddesk.testing.clock import FakeClock


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sql_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def trail(engine: Engine) -> AuditTrail:
    return AuditTrail(engine, clock=FakeClock())


def _fill(trail: AuditTrail) -> None:
    trail.record(AuditKind.KNOWLEDGE_APPROVED, {"doc_id": "refunds", "version": 2}, actor="sam")
    with audit_scope(conversation_id="conv-1", subject="C-1001", actor="bot"):
        trail.record(AuditKind.TOOL_CALL, {"tool": "order_status", "args": {"order_id": "A1001"}, "ok": True})
        trail.record(AuditKind.ANSWER, {"question": "Where is my order A1001?", "confidence": 0.95})
    trail.record(AuditKind.TICKET_CLAIMED, {"ticket_id": "t-1"}, actor="kim", subject="C-1002", conversation_id="c2")
    trail.record(AuditKind.ANSWER, {"question": "How long do refunds take?", "sources": ["refunds@2"]}, actor="bot")


def _problems(trail: AuditTrail) -> list[tuple[int, str]]:
    return [(p.seq, p.problem) for p in trail.verify().problems]


def _json(engine: Engine) -> str:
    return "CAST(:value AS jsonb)" if engine.dialect.name == "postgresql" else ":value"


def test_events_form_one_chain_that_verifies(trail: AuditTrail) -> None:
    _fill(trail)

    events = trail.events()
    report = trail.verify()

    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    assert (events[1].conversation_id, events[1].subject, events[1].actor) == ("conv-1", "C-1001", "bot")
    assert events[1].payload["args"] == {"order_id": "A1001"}
    assert report.ok and report.events == 5 and report.problems == []
    assert (report.head_seq, report.head_hash) == (5, events[-1].hash) == trail.head()


def test_an_edited_payload_is_found_with_its_seq(trail: AuditTrail, engine: Engine) -> None:
    _fill(trail)
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE audit_events SET payload = {_json(engine)} WHERE seq = 3"),
            {"value": json.dumps({"question": "Where is my order A1001?", "confidence": 0.15})},
        )

    assert _problems(trail) == [(3, "payload_mismatch")]


def test_an_edited_subject_or_actor_is_found(trail: AuditTrail, engine: Engine) -> None:
    _fill(trail)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET subject = 'C-9999' WHERE seq = 2"))
        conn.execute(text("UPDATE audit_events SET actor = 'lee' WHERE seq = 4"))

    assert _problems(trail) == [(2, "payload_mismatch"), (4, "hash_mismatch")]


def test_a_changed_hash_is_found_and_breaks_the_next_link(trail: AuditTrail, engine: Engine) -> None:
    _fill(trail)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET hash = :h WHERE seq = 2"), {"h": "f" * 64})

    assert _problems(trail) == [(2, "hash_mismatch"), (3, "broken_link")]


def test_a_deleted_event_is_found_in_the_middle_and_at_the_end(trail: AuditTrail, engine: Engine) -> None:
    _fill(trail)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    assert _problems(trail) == [(3, "missing")]

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    assert _problems(trail) == [(3, "missing"), (5, "missing")]


def test_an_inserted_event_is_found_even_with_a_well_formed_hash(trail: AuditTrail, engine: Engine) -> None:
    _fill(trail)
    last = trail.events()[-1]
    forged_payload = {"question": "Please refund me", "decision": "answer"}
    payload_hash = personal_hash(DEFAULT_KEY, "00" * 16, None, None, forged_payload)
    digest = record_hash(
        DEFAULT_KEY, seq=6, at=last.at, actor="bot", kind="answer", payload_hash=payload_hash, prev_hash=last.hash
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events (seq, at, actor, kind, subject, conversation_id, payload, salt, "
                f"payload_hash, prev_hash, hash) VALUES (6, :at, 'bot', 'answer', NULL, NULL, {_json(engine)}, "
                ":salt, :payload_hash, :prev_hash, :hash)"
            ),
            {
                "at": last.at.replace(tzinfo=None) if engine.dialect.name == "sqlite" else last.at,
                "value": json.dumps(forged_payload),
                "salt": "00" * 16,
                "payload_hash": payload_hash,
                "prev_hash": last.hash,
                "hash": digest,
            },
        )

    assert _problems(trail) == [(6, "unexpected")]


def test_tombstones_keep_the_chain_valid_and_a_forged_tombstone_is_found(trail: AuditTrail, engine: Engine) -> None:
    _fill(trail)
    with engine.begin() as conn:
        event, seqs = trail.tombstone(conn, subjects=["C-1001"], actor="root", summary={"conversations": 1})

    report = trail.verify()
    assert seqs == [2, 3] and event.seq == 6 and event.kind == "privacy.erased"
    assert event.payload == {"conversations": 1, "tombstoned": [[2, 3]]}
    assert report.ok and report.erased == 2
    erased = trail.events()[1]
    assert erased.erased and erased.subject is None and erased.conversation_id is None
    assert "C-1001" not in json.dumps([e.model_dump(mode="json") for e in trail.events()])

    with engine.begin() as conn:  # hide event 4 behind a tombstone the erasure event does not list
        conn.execute(
            text(
                f"UPDATE audit_events SET payload = {_json(engine)}, salt = NULL, subject = NULL, "
                "conversation_id = NULL WHERE seq = 4"
            ),
            {"value": json.dumps({"_tombstone": {"by_seq": 6}})},
        )
    assert _problems(trail) == [(4, "bad_tombstone")]


def test_verification_needs_the_key_the_chain_was_written_with(engine: Engine) -> None:
    AuditTrail(engine, key=b"the-real-key").record(AuditKind.KNOWLEDGE_RETIRED, {"doc_id": "old"}, actor="sam")

    assert AuditTrail(engine, key=b"the-real-key").verify().ok
    assert not AuditTrail(engine, key=b"a-guessed-key").verify().ok


def test_an_event_appended_in_a_rolled_back_transaction_leaves_no_trace(trail: AuditTrail, engine: Engine) -> None:
    trail.record(AuditKind.KNOWLEDGE_APPROVED, {"doc_id": "a", "version": 1}, actor="sam")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        trail.append(conn, AuditKind.KNOWLEDGE_APPROVED, {"doc_id": "b", "version": 1}, actor="sam")
        raise RuntimeError("the surrounding work failed")

    assert [e.payload["doc_id"] for e in trail.events()] == ["a"]
    assert trail.head()[0] == 1 and trail.verify().ok


def test_concurrent_appends_from_many_threads_form_one_gapless_chain(engine: Engine) -> None:
    trail = AuditTrail(engine)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(15):
                trail.record(AuditKind.TOOL_CALL, {"worker": worker, "n": n}, actor=f"w{worker}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    events = trail.events()
    assert [e.seq for e in events] == list(range(1, 61))
    written = sorted((e.payload["worker"], e.payload["n"]) for e in events)
    assert written == [(w, n) for w in range(4) for n in range(15)]
    assert trail.verify().ok
