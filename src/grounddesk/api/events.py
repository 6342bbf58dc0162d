"""The customer-facing event shape of the API contract, and conversions from what the stores hold.

Stored events (:class:`~grounddesk.escalation.ConversationEvent`) carry a ``seq``; live-only events (``token``,
``typing``) have ``seq`` null and are published straight to the conversation's hub channel in the API shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from grounddesk.agent.conversation import CitationOut
from grounddesk.db.types import utc_now
from grounddesk.escalation import ConversationEvent, ConversationEventKind

__all__ = [
    "ApiCitation",
    "ApiEvent",
    "EventType",
    "api_event",
    "citation_url",
    "confidence_label",
    "hub_message_to_event",
    "live_event",
    "word_chunks",
]

EventType = Literal[
    "customer_message",
    "answer",
    "clarify",
    "handoff",
    "agent_message",
    "returned_to_bot",
    "token",
    "typing",
    "no_agent",
    "error",
]

_WORDS = re.compile(r"\S+\s*")
#: System events store their API type in ``payload["type"]``.
_SYSTEM_TYPES = frozenset({"no_agent", "error"})


class ApiCitation(BaseModel):
    """A numbered source of an answer, with the page that shows it."""

    n: int
    doc_id: str
    version: int
    title: str
    url: str


class ApiEvent(BaseModel):
    """One event of a conversation as the widget receives it (WebSocket frame, SSE data, history entry)."""

    seq: int | None = None
    type: EventType
    text: str | None = None
    client_message_id: str | None = Field(
        default=None, description="The customer's message id; on a reply, the id of the message it answers"
    )
    reply_to: str | None = Field(default=None, description="The customer message id a reply or token answers")
    author: Literal["customer", "bot", "agent"] = "bot"
    agent_name: str | None = None
    citations: list[ApiCitation] = Field(default_factory=list)
    confidence: float | None = None
    confidence_label: Literal["high", "medium", "low"] | None = None
    reasons: list[str] = Field(default_factory=list)
    decision: str | None = None
    at: datetime = Field(default_factory=utc_now)


def confidence_label(confidence: float | None) -> Literal["high", "medium", "low"] | None:
    """``high`` from 0.8, ``medium`` from 0.6, else ``low``; None without a confidence."""
    if confidence is None:
        return None
    if confidence >= 0.8:
        return "high"
    return "medium" if confidence >= 0.6 else "low"


def citation_url(doc_id: str, version: int) -> str:
    """The page that renders a cited document."""
    return f"/v1/knowledge/public/{quote(doc_id, safe='')}?version={version}"


def api_citations(citations: Sequence[CitationOut | dict[str, Any]]) -> list[dict[str, Any]]:
    """Citations as stored in an event payload (with their page URL)."""
    out = []
    for item in citations:
        c = item if isinstance(item, CitationOut) else CitationOut.model_validate(item)
        out.append({**c.model_dump(), "url": citation_url(c.doc_id, c.version)})
    return out


def _author(stored: str) -> Literal["customer", "bot", "agent"]:
    if stored == "customer":
        return "customer"
    return "agent" if stored.startswith("agent:") else "bot"


def api_event(event: ConversationEvent) -> ApiEvent:
    """A stored conversation event in the API shape."""
    payload = event.payload or {}
    kind = event.kind
    event_type: EventType
    if kind is ConversationEventKind.SYSTEM:
        wanted = str(payload.get("type") or "error")
        event_type = wanted if wanted in _SYSTEM_TYPES else "error"  # type: ignore[assignment]
    else:
        event_type = kind.value  # type: ignore[assignment]
    confidence = payload.get("confidence")
    author = _author(event.author)
    agent_name = payload.get("agent_name") or (event.author.removeprefix("agent:") if author == "agent" else None)
    return ApiEvent(
        seq=event.seq,
        type=event_type,
        text=event.text,
        client_message_id=event.client_message_id or event.reply_to,
        reply_to=event.reply_to,
        author=author,
        agent_name=agent_name,
        citations=[ApiCitation.model_validate(c) for c in payload.get("citations") or []],
        confidence=confidence,
        confidence_label=payload.get("confidence_label") or confidence_label(confidence),
        reasons=list(payload.get("reasons") or []),
        decision=payload.get("decision"),
        at=event.created_at,
    )


def live_event(event_type: EventType, text: str | None = None, **fields: Any) -> dict[str, Any]:
    """A live-only event (``token``, ``typing``), ready to publish on a conversation channel."""
    return ApiEvent(type=event_type, text=text, **fields).model_dump(mode="json")


def hub_message_to_event(message: Any) -> ApiEvent | None:
    """What a conversation channel carried, in the API shape (None for anything unknown).

    The conversation store publishes stored events (the JSON of :class:`ConversationEvent`); the service publishes
    live-only events already in the API shape.
    """
    if not isinstance(message, dict):
        return None
    if "kind" in message and "seq" in message:
        return api_event(ConversationEvent.model_validate(message))
    if "type" in message:
        return ApiEvent.model_validate(message)
    return None


def word_chunks(text: str, words_per_chunk: int = 3) -> list[str]:
    """Split a finished answer into pieces of a few words to stream as ``token`` events; joined, they are ``text``.

    The extractive composer produces the whole answer at once; streaming it in pieces keeps the widget's
    behaviour the same as it will be with an LLM composer, which could stream its real tokens here later.
    """
    words = _WORDS.findall(text)
    chunks = ["".join(words[i : i + words_per_chunk]) for i in range(0, len(words), words_per_chunk)]
    leading = text[: len(text) - len(text.lstrip())]
    if leading and chunks:
        chunks[0] = leading + chunks[0]
    return chunks
