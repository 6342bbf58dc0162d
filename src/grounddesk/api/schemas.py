"""Request bodies and response shapes of the HTTP API (see the API contract in the docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from grounddesk.api.auth import StaffUser
from grounddesk.api.events import ApiEvent
from grounddesk.api.storable import unstorable
from grounddesk.escalation import Ticket, TicketEvent

__all__ = [
    "MAX_SQL_INT",
    "ActionBody",
    "ConversationCreated",
    "ConversationHistory",
    "CorrectionBody",
    "FeedbackBody",
    "IdentityBody",
    "LoginBody",
    "LoginResult",
    "MessageAccepted",
    "MessageBody",
    "NewConversationBody",
    "ReplyBody",
    "ResolveBody",
    "ReturnBody",
    "SearchBody",
    "UserOut",
    "ticket_detail_json",
    "ticket_json",
    "user_json",
]

_STRICT = ConfigDict(extra="forbid")

#: The largest number a client may send where it is compared with a stored integer (seqs, versions, offsets): what
#: PostgreSQL's INTEGER holds. Past 64 bits the drivers refuse the query outright, which was a 500 for the client's
#: mistake; no stored seq or version comes near this.
MAX_SQL_INT = 2_147_483_647


class IdentityBody(BaseModel):
    """A customer id signed by the company's site (see :mod:`grounddesk.api.auth_tokens`)."""

    model_config = _STRICT

    customer_id: str = Field(min_length=1, max_length=200)
    timestamp: int | str
    signature: str = Field(min_length=1, max_length=200)


class NewConversationBody(BaseModel):
    """``POST /v1/conversations``."""

    identity: IdentityBody | None = None
    locale: str = Field(default="en", max_length=16)


class ConversationCreated(BaseModel):
    """A new conversation and the token that opens it."""

    id: str
    token: str
    greeting: str
    verified: bool


class ConversationHistory(BaseModel):
    """A conversation's mode and events, for a widget that reloads."""

    id: str
    mode: Literal["bot", "pending_human", "human"]
    events: list[ApiEvent]


class MessageBody(BaseModel):
    """``POST /v1/conversations/{id}/messages`` (and the WebSocket ``message`` frame)."""

    client_message_id: str = Field(min_length=1, max_length=100)
    # The configured limit (``service.max_message_chars``, 413 message_too_long) is checked by the route; this is
    # only the ceiling that setting may have.
    text: str = Field(min_length=1, max_length=100_000)

    @field_validator("client_message_id", "text")
    @classmethod
    def _storable(cls, value: str) -> str:
        # HTTP bodies are checked by the StorableText middleware already; WebSocket frames only here.
        problem = unstorable(value)
        if problem:
            raise ValueError(f"contains {problem}")
        return value


class MessageAccepted(BaseModel):
    """The message is stored; the reply arrives as events."""

    accepted: bool = True
    duplicate: bool
    seq: int


class FeedbackBody(BaseModel):
    """A thumbs up or down on one reply."""

    model_config = _STRICT

    seq: int = Field(ge=1, le=MAX_SQL_INT)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=2000)


class LoginBody(BaseModel):
    """Staff sign-in."""

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    """A staff user as the pages show them."""

    username: str
    role: str
    display_name: str | None


class LoginResult(BaseModel):
    """A session token (shown once) and its user."""

    token: str
    user: UserOut
    expires_at: datetime


class ReplyBody(BaseModel):
    """A support agent's reply."""

    text: str = Field(min_length=1, max_length=8000)
    source: Literal["draft", "edited", "own"] = "own"


class ActionBody(BaseModel):
    """Approve or reject a waiting action, with an optional note."""

    note: str | None = Field(default=None, max_length=2000)


class ResolveBody(BaseModel):
    """Close a ticket as resolved."""

    note: str = Field(min_length=1, max_length=4000)


class ReturnBody(BaseModel):
    """Hand a conversation back to the bot."""

    summary: str | None = Field(default=None, max_length=4000)


class CorrectionBody(BaseModel):
    """Corrected knowledge proposed from a ticket."""

    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=100_000)


class ApproveBody(BaseModel):
    """Approve a document version (the latest when unset)."""

    version: int | None = Field(default=None, ge=1, le=MAX_SQL_INT)


class SearchBody(BaseModel):
    """A search preview as a customer with ``audiences`` would see it."""

    query: str = Field(min_length=1, max_length=4000)
    audiences: list[str] = Field(default_factory=lambda: ["public"], min_length=1, max_length=20)
    top_k: int | None = Field(default=None, ge=1, le=50)


def user_json(user: StaffUser) -> dict[str, Any]:
    """A staff user for the pages."""
    return UserOut(username=user.username, role=user.role.value, display_name=user.display_name).model_dump()


def ticket_json(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """A ticket as the console lists it (without the escalation payload)."""
    data = ticket.model_dump(mode="json", exclude={"payload"})
    data["overdue"] = ticket.is_overdue(now)
    return data


def ticket_detail_json(
    ticket: Ticket, now: datetime, transcript: list[dict[str, Any]], events: list[TicketEvent]
) -> dict[str, Any]:
    """A ticket with its transcript, sources, confidence reasons and history."""
    payload = ticket.payload or {}
    sources = payload.get("sources") or ticket.sources
    return {
        **ticket_json(ticket, now),
        "transcript": transcript,
        "sources": [
            {key: source.get(key) for key in ("doc_id", "version", "title", "text", "score")}
            for source in sources
            if isinstance(source, dict)
        ],
        "confidence_reasons": list(payload.get("confidence_reasons") or []),
        "events": [{"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind.value, "data": e.data} for e in events],
    }
