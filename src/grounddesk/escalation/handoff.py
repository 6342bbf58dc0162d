"""From the agent's escalation to a ticket, and from a person's action back to the agent.

The agent pauses a conversation with a LangGraph interrupt whose payload is built by
:func:`grounddesk.agent.nodes.escalate.escalation_payload` (``TurnResult.escalation`` or
``Agent.pending_escalation``); the person's decision resumes it with ``Agent.resume(conversation_id, value)``.
These helpers keep both ends of that contract in one place.

Example:
    >>> result = agent.turn(conversation_id, text, context=context)
    >>> if result.escalation is not None:
    ...     ticket = open_ticket_for(queue, conversation_id, result.escalation, customer_id="C-1001", tier="premium")
    >>> agent.resume(conversation_id, reply_resume("kim", "I have refunded the charge."))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from grounddesk.escalation.types import PendingAction, Ticket, TicketQueue

__all__ = ["UNSPECIFIED_REASON", "HandoffRequest", "open_ticket_for", "reply_resume", "return_resume"]

#: The reason recorded when an interrupt payload carries none.
UNSPECIFIED_REASON = "unspecified"


class HandoffRequest(BaseModel):
    """The ticket fields an escalation interrupt payload provides."""

    reason: str
    confidence: float | None = None
    draft: str | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list, description="doc_id, version, title, score")
    payload: dict[str, Any] = Field(default_factory=dict, description="The whole interrupt payload")

    @classmethod
    def from_interrupt(cls, payload: Mapping[str, Any]) -> HandoffRequest:
        """Read an escalation interrupt payload.

        Args:
            payload: ``{"reason", "confidence", "confidence_reasons", "transcript", "sources", "draft_answer",
                "citations", "guard"}`` as the escalate node builds it (missing keys are tolerated).

        Returns:
            The ticket fields; ``sources`` lists the retrieved documents without their chunk text (which stays
            in ``payload``).
        """
        sources = [
            {key: source.get(key) for key in ("doc_id", "version", "title", "score")}
            for source in payload.get("sources") or []
            if isinstance(source, Mapping)
        ]
        confidence = payload.get("confidence")
        return cls(
            reason=str(payload.get("reason") or UNSPECIFIED_REASON),
            confidence=float(confidence) if confidence is not None else None,
            draft=payload.get("draft_answer") or None,
            sources=sources,
            payload=dict(payload),
        )


def open_ticket_for(
    queue: TicketQueue,
    conversation_id: str,
    interrupt_payload: Mapping[str, Any],
    *,
    customer_id: str | None = None,
    tier: str | None = None,
    pending_action: PendingAction | None = None,
) -> Ticket:
    """Open (or find) the ticket of a conversation the agent escalated.

    Args:
        queue: The ticket queue.
        conversation_id: The conversation (the agent's thread id).
        interrupt_payload: ``TurnResult.escalation`` or ``Agent.pending_escalation(conversation_id)``.
        customer_id: The verified customer identity, if any.
        tier: The customer's tier, which raises the priority.
        pending_action: A write action waiting for a person's approval.

    Returns:
        The conversation's active ticket.
    """
    request = HandoffRequest.from_interrupt(interrupt_payload)
    return queue.open_ticket(
        conversation_id,
        request.reason,
        request.payload,
        customer_id=customer_id,
        tier=tier,
        draft=request.draft,
        confidence=request.confidence,
        sources=request.sources,
        pending_action=pending_action,
    )


def reply_resume(agent: str, text: str) -> dict[str, Any]:
    """The ``Agent.resume`` value for a person's reply: the conversation stays with people."""
    return {"action": "reply", "text": text, "agent": agent}


def return_resume(summary: str | None = None) -> dict[str, Any]:
    """The ``Agent.resume`` value that hands the conversation back to the bot with a summary."""
    return {"action": "return_to_bot", "summary": summary or ""}
