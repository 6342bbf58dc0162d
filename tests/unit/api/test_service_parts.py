"""The service's pure parts: the event shape, token pieces, confidence labels, locks, error mapping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from grounddesk.api.errors import status_for, validation_detail
from grounddesk.api.events import api_event, citation_url, confidence_label, hub_message_to_event, word_chunks
from grounddesk.api.middleware import content_security_policy
from grounddesk.api.services import ConversationLocks, StaffPresence
from grounddesk.errors import ErrorCode
from grounddesk.escalation import ConversationEvent, ConversationEventKind

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["", "One.", "You can return unworn items within 30 days [1].", "  Leading space\nand a new line [2].  "],
)
def test_word_chunks_join_back_to_the_answer(text: str) -> None:
    pieces = word_chunks(text)
    assert "".join(pieces) == text
    assert all(len(p.split()) <= 3 for p in pieces)


def test_a_long_answer_streams_in_several_pieces() -> None:
    assert len(word_chunks("one two three four five six seven")) == 3


@pytest.mark.parametrize(
    ("confidence", "label"),
    [(None, None), (0.95, "high"), (0.8, "high"), (0.79, "medium"), (0.6, "medium"), (0.2, "low")],
)
def test_confidence_labels(confidence: float | None, label: str | None) -> None:
    assert confidence_label(confidence) == label


def _event(kind: ConversationEventKind, **fields: object) -> ConversationEvent:
    values: dict[str, object] = {
        "id": 1,
        "conversation_id": "c-1",
        "seq": 3,
        "kind": kind,
        "author": "bot",
        "text": "hello",
        "created_at": AT,
    }
    values.update(fields)
    return ConversationEvent.model_validate(values)


def test_stored_events_take_the_api_shape() -> None:
    answer = api_event(
        _event(
            ConversationEventKind.ANSWER,
            reply_to="m-1",
            payload={
                "citations": [
                    {"n": 1, "doc_id": "refunds", "version": 2, "title": "Refunds", "url": citation_url("refunds", 2)}
                ],
                "confidence": 0.7,
                "reasons": ["two sources agree"],
                "decision": "answer",
            },
        )
    )
    assert answer.type == "answer" and answer.client_message_id == "m-1" and answer.reply_to == "m-1"
    assert answer.citations[0].url == "/v1/knowledge/public/refunds?version=2"
    assert answer.confidence_label == "medium" and answer.author == "bot" and answer.at == AT
    agent = api_event(_event(ConversationEventKind.AGENT_MESSAGE, author="agent:kim", payload={}))
    assert agent.author == "agent" and agent.agent_name == "kim"
    no_agent = api_event(_event(ConversationEventKind.SYSTEM, payload={"type": "no_agent"}))
    assert no_agent.type == "no_agent"
    unknown = api_event(_event(ConversationEventKind.SYSTEM, payload={"type": "something"}))
    assert unknown.type == "error"


def test_hub_messages_are_stored_events_or_live_ones() -> None:
    stored = _event(ConversationEventKind.CUSTOMER_MESSAGE, author="customer", client_message_id="m-9")
    converted = hub_message_to_event(stored.model_dump(mode="json"))
    assert converted is not None and converted.seq == 3 and converted.author == "customer"
    live = hub_message_to_event({"type": "token", "text": "You can ", "reply_to": "m-9"})
    assert live is not None and live.seq is None and live.reply_to == "m-9"
    assert hub_message_to_event("nonsense") is None and hub_message_to_event({"x": 1}) is None


def test_conversation_locks_exclude_per_conversation_and_are_dropped_after_use() -> None:
    locks = ConversationLocks()
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with locks.hold("c-1"):
            inside.set()
            release.wait(10)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    with locks.hold("c-2"):  # another conversation is not blocked
        order.append("other")
    release.set()
    with locks.hold("c-1"):
        order.append("second")
    thread.join(10)
    assert order == ["other", "first", "second"]
    assert len(locks) == 0


def test_presence_counts_open_consoles() -> None:
    presence = StaffPresence()
    with presence.online(), presence.online():
        assert presence.count == 2
    assert presence.count == 0


def test_error_codes_map_to_statuses() -> None:
    assert status_for(ErrorCode.TICKET_CONFLICT) == 409
    assert status_for(ErrorCode.FORBIDDEN) == 403
    assert status_for(ErrorCode.INVALID_TOKEN) == 401
    assert status_for(ErrorCode.RATE_LIMITED) == 429
    assert status_for(ErrorCode.CONNECTOR_UNAVAILABLE) == 503
    assert status_for("request_too_large") == 413
    assert status_for(ErrorCode.INTERNAL) == 500
    detail = validation_detail([{"loc": ("body", "text"), "msg": "String should have at most 4000 characters"}])
    assert detail == "text: String should have at most 4000 characters"


def test_csp_frame_ancestors_default_to_none() -> None:
    assert content_security_policy([]).endswith("frame-ancestors 'none'")
    assert "frame-ancestors 'self' https://a.example" in content_security_policy(["'self'", "https://a.example"])
