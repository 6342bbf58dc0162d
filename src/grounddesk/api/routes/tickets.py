"""The agent console's endpoints: the queue, a ticket's context, and what a support agent does with it.

Every endpoint needs the ``agent`` role (or ``admin``). Acting on a ticket someone else holds gives
``409 ticket_conflict``; acting on a ticket one has not claimed, or a closed one, ``409 invalid_transition``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, WebSocket, status

from grounddesk.api import staff_actions
from grounddesk.api.auth import AuthError, AuthRequired, Role, require_role
from grounddesk.api.deps import AgentUser, ServicesDep, get_services, resolve_staff
from grounddesk.api.live import Lagged, run_until_first_ends, staff_frames
from grounddesk.api.schemas import (
    MAX_SQL_INT,
    ActionBody,
    CorrectionBody,
    ReplyBody,
    ResolveBody,
    ReturnBody,
    ticket_detail_json,
    ticket_json,
    user_json,
)
from grounddesk.api.services import Services
from grounddesk.escalation import ConversationEvent, ConversationEventKind, Ticket, TicketStatus

__all__ = ["router", "staff_router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
staff_router = APIRouter(prefix="/v1/staff", tags=["tickets"])

_SPEAKERS = {
    ConversationEventKind.CUSTOMER_MESSAGE: "customer",
    ConversationEventKind.ANSWER: "bot",
    ConversationEventKind.CLARIFY: "bot",
    ConversationEventKind.HANDOFF: "bot",
    ConversationEventKind.AGENT_MESSAGE: "agent",
}


def _out(services: Services, ticket: Ticket) -> dict[str, Any]:
    return ticket_json(ticket, services.clock())


def _transcript(events: list[ConversationEvent]) -> list[dict[str, Any]]:
    """The whole customer-facing transcript (masked), from the conversation's events.

    The events, not the graph's messages: the graph keeps only the last ``agent.max_history_messages`` for the
    model's view, while a support agent needs the whole conversation, with times.
    """
    out = []
    for event in events:
        speaker = _SPEAKERS.get(event.kind, "system")
        entry: dict[str, Any] = {"speaker": speaker, "text": event.text, "at": event.created_at.isoformat()}
        if event.author.startswith("agent:"):
            entry["agent"] = event.payload.get("agent_name") or event.author.removeprefix("agent:")
        out.append(entry)
    return out


@router.get("")
def list_tickets(
    user: AgentUser,
    services: ServicesDep,
    status_filter: Annotated[TicketStatus | None, Query(alias="status")] = None,
    mine: bool = False,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
) -> dict[str, Any]:
    """The queue, most urgent first; filter by status, by ``mine`` (held by me) and ``overdue``."""
    tickets = services.queue.list(
        status=status_filter,
        assignee=user.username if mine else None,
        overdue_only=overdue,
        limit=limit,
        offset=offset,
    )
    return {"tickets": [_out(services, t) for t in tickets]}


@router.get("/{ticket_id}")
def get_ticket(ticket_id: str, user: AgentUser, services: ServicesDep) -> dict[str, Any]:
    """A ticket with the transcript, the retrieved sources, why the confidence was what it was, and its history."""
    ticket = services.queue.get(ticket_id)
    events = services.conversations.events_after(ticket.conversation_id, 0, limit=1000)
    history = services.queue.events(ticket_id)
    return ticket_detail_json(ticket, services.clock(), _transcript(events), history)


@router.post("/{ticket_id}/claim")
def claim(ticket_id: str, user: AgentUser, services: ServicesDep) -> dict[str, Any]:
    """Take an open ticket (409 ``ticket_conflict`` when someone else holds it)."""
    return _out(services, staff_actions.claim(services, ticket_id, user))


@router.post("/{ticket_id}/release")
def release(ticket_id: str, user: AgentUser, services: ServicesDep) -> dict[str, Any]:
    """Put a held ticket back in the queue (an admin may release anyone's)."""
    force = user.role is Role.ADMIN
    return _out(services, staff_actions.release(services, ticket_id, user, force=force))


@router.post("/{ticket_id}/reply")
def reply(ticket_id: str, body: ReplyBody, user: AgentUser, services: ServicesDep) -> dict[str, Any]:
    """Send the customer a reply (the AI draft, an edited draft or one's own words); the bot stays silent."""
    return _out(services, staff_actions.reply(services, ticket_id, user, body.text, body.source))


@router.post("/{ticket_id}/typing", status_code=status.HTTP_204_NO_CONTENT)
def typing(ticket_id: str, user: AgentUser, services: ServicesDep) -> Response:
    """Show the customer that the support agent is typing."""
    staff_actions.typing(services, ticket_id, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{ticket_id}/actions/approve")
def approve_action(
    ticket_id: str, user: AgentUser, services: ServicesDep, body: Annotated[ActionBody | None, Body()] = None
) -> dict[str, Any]:
    """Run the waiting write action (with its idempotency key) and tell the customer the outcome."""
    note = body.note if body else None
    return _out(services, staff_actions.approve_action(services, ticket_id, user, note))


@router.post("/{ticket_id}/actions/reject")
def reject_action(
    ticket_id: str, user: AgentUser, services: ServicesDep, body: Annotated[ActionBody | None, Body()] = None
) -> dict[str, Any]:
    """Drop the waiting write action without running it."""
    note = body.note if body else None
    return _out(services, staff_actions.reject_action(services, ticket_id, user, note))


@router.post("/{ticket_id}/resolve")
def resolve(ticket_id: str, body: ResolveBody, user: AgentUser, services: ServicesDep) -> dict[str, Any]:
    """Close the ticket as resolved; the bot answers the customer's next questions again."""
    return _out(services, staff_actions.resolve(services, ticket_id, user, body.note))


@router.post("/{ticket_id}/return-to-bot")
def return_to_bot(
    ticket_id: str, user: AgentUser, services: ServicesDep, body: Annotated[ReturnBody | None, Body()] = None
) -> dict[str, Any]:
    """Close the ticket and hand the conversation back to the bot with a summary."""
    summary = body.summary if body else None
    return _out(services, staff_actions.return_to_bot(services, ticket_id, user, summary))


@router.post("/{ticket_id}/knowledge-correction")
def knowledge_correction(
    ticket_id: str, body: CorrectionBody, user: AgentUser, services: ServicesDep
) -> dict[str, Any]:
    """Propose corrected knowledge: a draft document a knowledge manager reviews before it is searchable."""
    return staff_actions.knowledge_correction(services, ticket_id, user, body.title, body.text)


@staff_router.websocket("/ws")
async def staff_socket(websocket: WebSocket) -> None:
    """``/v1/staff/ws?token=``: queue changes for the console (closed with 4401/4403 when not allowed).

    The first frame, ``{"type": "ready", "user": ...}``, says the socket is signed in, listening, and that the
    support agent counts as online (the availability rules offer customers a contact form when nobody is).
    """
    await websocket.accept()
    services = get_services(websocket)
    token = websocket.query_params.get("token") or websocket.query_params.get("api_key")
    try:
        if not token:
            raise AuthRequired("Sign in first")
        user = await asyncio.to_thread(resolve_staff, services, token)
        require_role(user, Role.AGENT)
    except AuthError as exc:
        code = 4403 if exc.code == "forbidden" else 4401
        await websocket.close(code=code, reason=exc.detail[:120])
        return

    async def send() -> None:
        try:
            async for frame in staff_frames(services, {"type": "ready", "user": user_json(user)}):
                await websocket.send_json(frame)
        except Lagged:
            await websocket.close(code=1013, reason="fell behind: reconnect")

    async def receive() -> None:
        while True:
            await websocket.receive_text()  # the console sends nothing that matters; this notices a close

    with services.presence.online():
        await run_until_first_ends(send(), receive())
    logger.debug("staff socket closed", extra={"user_id": user.id})
