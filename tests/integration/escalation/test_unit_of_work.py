"""Units of work: a ticket, a mode change and messages commit together or not at all, and are heard after."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from grounddesk.db import create_engine_for
from grounddesk.db.unit import after_commit, unit_of_work, writing
from grounddesk.escalation import (
    ConversationEventKind,
    ConversationMode,
    ConversationStore,
    EscalationSettings,
    EventHub,
    SqlTicketQueue,
)
from grounddesk.escalation.tables import tickets
from grounddesk.testing.clock import FakeClock


def _stores(engine: Engine, clock: FakeClock, hub: EventHub) -> tuple[ConversationStore, SqlTicketQueue]:
    return ConversationStore(engine, clock, hub=hub), SqlTicketQueue(engine, EscalationSettings(), clock, hub=hub)


class _RecordingHub(EventHub):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, Any]] = []

    def publish(self, channel: str, message: Any) -> int:
        self.sent.append((channel, message))
        return super().publish(channel, message)


def test_a_hand_off_commits_as_one_and_is_published_after_commit(engine: Engine, clock: FakeClock) -> None:
    hub = _RecordingHub()
    conversations, queue = _stores(engine, clock, hub)
    conversation_id = conversations.create()
    with unit_of_work(engine):
        queue.open_ticket(conversation_id, "needs_human", {})
        conversations.set_mode(conversation_id, ConversationMode.PENDING_HUMAN)
        conversations.append(conversation_id, ConversationEventKind.HANDOFF, "A person will reply.", author="bot")
        assert hub.sent == []  # not committed yet: nobody hears of it
    assert [channel for channel, _ in hub.sent] == ["tickets", f"conversation:{conversation_id}"]
    assert conversations.get(conversation_id).mode is ConversationMode.PENDING_HUMAN
    assert [e.kind for e in conversations.events_after(conversation_id)] == [ConversationEventKind.HANDOFF]


def test_a_failure_inside_rolls_every_store_back_and_publishes_nothing(engine: Engine, clock: FakeClock) -> None:
    hub = _RecordingHub()
    conversations, queue = _stores(engine, clock, hub)
    conversation_id = conversations.create()
    with pytest.raises(RuntimeError, match="crash"), unit_of_work(engine):
        queue.open_ticket(conversation_id, "needs_human", {})
        conversations.append(conversation_id, ConversationEventKind.HANDOFF, "A person will reply.", author="bot")
        raise RuntimeError("crash before the mode change")
    assert hub.sent == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tickets)).scalar_one() == 0
    assert conversations.events_after(conversation_id) == []
    assert conversations.get(conversation_id).last_seq == 0  # the seq counter rolled back too
    assert queue.active_for_conversation(conversation_id) is None


def test_units_nest_and_stores_outside_one_commit_on_their_own(engine: Engine, clock: FakeClock) -> None:
    conversations, queue = _stores(engine, clock, EventHub())
    conversation_id = conversations.create()
    order: list[str] = []
    with unit_of_work(engine) as outer:
        with unit_of_work(engine) as inner, writing(engine) as joined:
            assert inner is outer and joined is outer
            after_commit(engine, lambda: order.append("inner"))
        assert order == []  # the inner block is not the end of the transaction
        conversations.set_mode(conversation_id, ConversationMode.HUMAN)
    assert order == ["inner"]
    after_commit(engine, lambda: order.append("now"))  # no unit around: runs at once
    assert order == ["inner", "now"]
    assert conversations.get(conversation_id).mode is ConversationMode.HUMAN


def test_a_unit_on_one_database_does_not_capture_another(engine: Engine, clock: FakeClock, tmp_path: object) -> None:
    from pathlib import Path

    from grounddesk.db import upgrade

    other = create_engine_for(f"sqlite:///{Path(str(tmp_path)) / 'other' / 'grounddesk.db'}")
    upgrade(other)
    try:
        conversations = ConversationStore(other, clock)
        with pytest.raises(RuntimeError), unit_of_work(engine):
            kept = conversations.create()  # another database: its own transaction, committed already
            raise RuntimeError("roll back the unit")
        assert conversations.get(kept).id == kept
    finally:
        other.dispose()
