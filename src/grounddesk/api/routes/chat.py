"""The widget's endpoints: start a conversation, send messages, stream events (WebSocket or SSE), rate, contact.

Every endpoint about a conversation needs that conversation's token (``Authorization: Bearer`` or ``?token=``);
a token for another conversation gets 403. WebSockets that fail authentication are accepted and closed at once
with code 4401 (no or invalid token), 4403 (another conversation) or 4404 (no such conversation), because a
browser sees a close code but not an HTTP status.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, WebSocket, status
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from grounddesk.api.auth import AuthRequired, Forbidden, InvalidToken
from grounddesk.api.auth_tokens import CustomerClaims, verify_identity
from grounddesk.api.deps import CustomerDep, ServicesDep, get_services, resolve_customer
from grounddesk.api.errors import validation_detail
from grounddesk.api.events import ApiEvent, api_event, live_event
from grounddesk.api.limits import AbuseLimits
from grounddesk.api.live import Lagged, conversation_events, run_until_first_ends
from grounddesk.api.schemas import (
    MAX_SQL_INT,
    ConversationCreated,
    ConversationHistory,
    FeedbackBody,
    MessageAccepted,
    MessageBody,
    NewConversationBody,
)
from grounddesk.api.services import Services
from grounddesk.api.turns import ChatService
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.escalation import ContactDetails, ConversationNotFound, EscalationInputError

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

_CLOSE_AUTH = 4401
_CLOSE_FORBIDDEN = 4403
_CLOSE_NOT_FOUND = 4404
_CLOSE_TRY_AGAIN = 1013


def _chat(request: Request | WebSocket) -> ChatService:
    chat = getattr(request.app.state, "chat", None)
    if not isinstance(chat, ChatService):
        raise GrounddeskError("The service is not started", code=ErrorCode.INTERNAL)
    return chat


def _limits(conn: Request | WebSocket) -> AbuseLimits:
    limits = getattr(conn.app.state, "limits", None)
    if not isinstance(limits, AbuseLimits):
        raise GrounddeskError("The service is not started", code=ErrorCode.INTERNAL)
    return limits


async def _check_message(
    conn: Request | WebSocket, services: Services, claims: CustomerClaims, message: MessageBody
) -> None:
    """Length, rate and turn cap of a customer message, before anything of it is stored."""
    limits = _limits(conn)
    limits.check_length(message.text)
    await run_in_threadpool(limits.check_message, services.engine, claims.conversation_id, message.client_message_id)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationCreated)
def create_conversation(body: NewConversationBody, services: ServicesDep) -> ConversationCreated:
    """Start a conversation; with a signed identity from the company's site the customer is verified."""
    auth = services.auth
    customer_id: str | None = None
    if body.identity is not None and auth.identity_secret is not None:
        identity = verify_identity(
            body.identity.customer_id,
            body.identity.timestamp,
            body.identity.signature,
            auth.identity_secret.get_secret_value(),
            services.clock(),
            auth.identity_max_age_s,
        )
        customer_id = identity.customer_id
    audiences = auth.audiences_for(customer_id)
    conversation_id = services.conversations.create(customer_id=customer_id, audiences=audiences, channel="web")
    token = services.tokens.issue(conversation_id, customer_id=customer_id, audiences=audiences)
    logger.info("conversation started", extra={"conversation_id": conversation_id, "verified": bool(customer_id)})
    return ConversationCreated(
        id=conversation_id, token=token, greeting=services.service.greeting, verified=customer_id is not None
    )


@router.get("/{conversation_id}", response_model=ConversationHistory)
def get_conversation(claims: CustomerDep, services: ServicesDep) -> ConversationHistory:
    """The conversation's mode and its events so far (for a widget that reloads)."""
    conversation = services.conversations.get(claims.conversation_id)
    events = services.conversations.events_after(claims.conversation_id, 0, limit=1000)
    return ConversationHistory(id=conversation.id, mode=conversation.mode.value, events=[api_event(e) for e in events])


@router.post("/{conversation_id}/messages", status_code=status.HTTP_202_ACCEPTED, response_model=MessageAccepted)
async def post_message(
    body: MessageBody, claims: CustomerDep, services: ServicesDep, request: Request
) -> MessageAccepted:
    """Store a customer message; the reply arrives as events. Re-sending a ``client_message_id`` runs nothing.

    Refused with ``413 message_too_long`` over ``service.max_message_chars``, ``429 rate_limited`` (with
    ``Retry-After``) when the conversation sends too fast, and ``429 conversation_limit`` once it holds
    ``service.limits.max_turns_per_conversation`` messages.
    """
    await _check_message(request, services, claims, body)
    accepted = await _chat(request).accept(claims, body.client_message_id, body.text)
    return MessageAccepted(duplicate=accepted.duplicate, seq=accepted.seq)


@router.post("/{conversation_id}/feedback", status_code=status.HTTP_204_NO_CONTENT)
def post_feedback(body: FeedbackBody, claims: CustomerDep, services: ServicesDep) -> Response:
    """Rate one reply (up or down, with an optional comment, masked like every customer text)."""
    comment = services.guard.inspect(body.comment).masked_text if body.comment else None
    services.conversations.feedback(claims.conversation_id, body.seq, body.rating, comment)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{conversation_id}/contact", status_code=status.HTTP_204_NO_CONTENT)
def post_contact(body: ContactDetails, claims: CustomerDep, services: ServicesDep) -> Response:
    """Leave contact details on the conversation's open request (when no support agent is available)."""
    ticket = services.queue.active_for_conversation(claims.conversation_id)
    if ticket is None:
        raise EscalationInputError("There is no open request to leave contact details for")
    services.queue.leave_contact(ticket.id, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- live events ------------------------------------------------------------------------------------------------


def _seq(raw: str) -> int:
    """A seq sent as text (``Last-Event-ID``, ``?after=``): 0 unless it is a number; at most the largest seq."""
    return min(int(raw), MAX_SQL_INT) if raw.isascii() and raw.isdigit() else 0


def _sse(event: ApiEvent) -> str:
    data = event.model_dump_json()
    return f"id: {event.seq}\ndata: {data}\n\n" if event.seq is not None else f"data: {data}\n\n"


@router.get("/{conversation_id}/events", response_class=StreamingResponse)
async def stream_events(
    claims: CustomerDep,
    services: ServicesDep,
    request: Request,
    after: Annotated[int | None, Query(ge=0, le=MAX_SQL_INT)] = None,
) -> StreamingResponse:
    """Server-Sent Events: each message is ``data: <Event JSON>`` (with ``id: <seq>`` for stored events)."""
    start = after if after is not None else _seq(request.headers.get("last-event-id", ""))
    await run_in_threadpool(services.conversations.get, claims.conversation_id)  # 404 before streaming starts

    async def body() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        stream = conversation_events(
            services, claims.conversation_id, start, keepalive_s=services.service.sse_keepalive_s
        )
        try:
            async for event in stream:
                yield ": keep-alive\n\n" if event is None else _sse(event)
        except Lagged:
            return

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


async def _authenticate_ws(websocket: WebSocket, services: Services, conversation_id: str) -> CustomerClaims | None:
    token = websocket.query_params.get("token") or _ws_bearer(websocket)
    try:
        claims = resolve_customer(services, token, conversation_id)
        await run_in_threadpool(services.conversations.get, conversation_id)
    except (AuthRequired, InvalidToken) as exc:
        await websocket.close(code=_CLOSE_AUTH, reason=exc.detail[:120])
        return None
    except Forbidden as exc:
        await websocket.close(code=_CLOSE_FORBIDDEN, reason=exc.detail[:120])
        return None
    except ConversationNotFound as exc:
        await websocket.close(code=_CLOSE_NOT_FOUND, reason=exc.detail[:120])
        return None
    return claims


def _ws_bearer(websocket: WebSocket) -> str | None:
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def _send_events(websocket: WebSocket, services: Services, conversation_id: str, after: int) -> None:
    try:
        async for event in conversation_events(services, conversation_id, after):
            if event is not None:
                await websocket.send_text(event.model_dump_json())
    except Lagged:
        await websocket.close(code=_CLOSE_TRY_AGAIN, reason="fell behind: reconnect")


async def _receive_frames(websocket: WebSocket, services: Services, chat: ChatService, claims: CustomerClaims) -> None:
    while True:
        raw = await websocket.receive_text()
        try:
            frame: Any = json.loads(raw)
        except ValueError:
            frame = None
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "typing":
            continue
        if kind != "message":
            await _send_error(websocket, "Send frames {'type': 'message', 'client_message_id', 'text'}")
            continue
        try:
            message = MessageBody.model_validate(frame)
            await _check_message(websocket, services, claims, message)
            await chat.accept(claims, message.client_message_id, message.text)
        except ValidationError as exc:
            await _send_error(websocket, validation_detail(exc.errors()), frame.get("client_message_id"))
        except GrounddeskError as exc:
            await _send_error(websocket, exc.detail, frame.get("client_message_id"))


async def _send_error(websocket: WebSocket, detail: str, client_message_id: Any = None) -> None:
    reply_to = client_message_id if isinstance(client_message_id, str) else None
    event = live_event("error", detail, client_message_id=reply_to, reply_to=reply_to)
    await websocket.send_text(json.dumps(event))


@router.websocket("/{conversation_id}/ws")
async def conversation_socket(websocket: WebSocket, conversation_id: str) -> None:
    """The widget's live connection: events out; ``message`` and ``typing`` frames in."""
    await websocket.accept()
    services = get_services(websocket)
    claims = await _authenticate_ws(websocket, services, conversation_id)
    if claims is None:
        return
    after = _seq(websocket.query_params.get("after", "0"))
    await run_until_first_ends(
        _send_events(websocket, services, conversation_id, after),
        _receive_frames(websocket, services, _chat(websocket), claims),
    )
