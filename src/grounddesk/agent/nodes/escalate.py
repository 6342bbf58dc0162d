"""escalate: hand the conversation to a person with LangGraph ``interrupt()``, and take it back on resume.

The interrupt payload carries the reason, the confidence and its reasons, the masked transcript, the
retrieved sources and a draft answer for the human. Resume with ``Command(resume=...)``:

- ``{"action": "reply", "text": "...", "agent": "kim"}``: the person's reply enters the transcript and the
  conversation stays with people (the bot is silent until it is returned);
- ``{"action": "return_to_bot", "summary": "..."}``: the bot takes over again and keeps the summary, so its
  next answer knows what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.types import interrupt

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.state import AgentState
from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = ["ResumeError", "apply_resume", "escalation_payload", "make_escalate", "transcript"]


class ResumeError(GrounddeskError):
    """A resume value that is not one of the contract's actions."""

    code = ErrorCode.INVALID_INPUT


def transcript(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """The (already masked) transcript as speaker/text pairs."""
    out = []
    for message in messages:
        if isinstance(message, HumanMessage):
            speaker = "customer"
        elif isinstance(message, SystemMessage):
            speaker = "system"
        else:
            speaker = "agent" if message.name == "human_agent" else "bot"
        out.append({"speaker": speaker, "text": str(message.content)})
    return out


def escalation_payload(state: AgentState) -> dict[str, Any]:
    """What the human queue receives."""
    confidence = state.get("confidence") or {}
    draft = state.get("draft") or {}
    return {
        "reason": (state.get("decision") or {}).get("reason"),
        "confidence": confidence.get("score"),
        "confidence_reasons": list(confidence.get("reasons") or []),
        "transcript": transcript(list(state.get("messages") or [])),
        "sources": [
            {
                "doc_id": h["doc_id"],
                "version": h["version"],
                "title": h["title"],
                "text": h["text"],
                "score": h["score"],
            }
            for h in state.get("hits") or []
        ],
        "draft_answer": draft.get("text") or None,
        "citations": list(draft.get("citations") or []),
        "guard": {k: (state.get("guard") or {}).get(k) for k in ("injection", "topics", "wants_human")},
        "customer_id": (state.get("identity") or {}).get("customer_id"),
        "pending_action": dict(state.get("pending_action") or {}) or None,
        "tool_error": (state.get("action") or {}).get("error"),
    }


def apply_resume(value: Any) -> dict[str, Any]:
    """State update for a resume value of the contract; anything else raises :class:`ResumeError`."""
    if not isinstance(value, dict) or value.get("action") not in ("reply", "return_to_bot"):
        raise ResumeError('resume with {"action": "reply", "text": ...} or {"action": "return_to_bot", "summary": ...}')
    if value["action"] == "reply":
        text = str(value.get("text") or "").strip()
        if not text:
            raise ResumeError("a reply needs a non-empty text")
        return {"mode": "human", "pending_action": {}, "messages": [AIMessage(content=text, name="human_agent")]}
    summary = str(value.get("summary") or "").strip()
    note = f"A support agent handled the conversation: {summary}" if summary else "A support agent handled it."
    return {"mode": "bot", "pending_action": {}, "messages": [SystemMessage(content=note, name="handoff_summary")]}


def make_escalate(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    """The escalate node."""

    def escalate(state: AgentState) -> dict[str, Any]:
        value = interrupt(escalation_payload(state))
        return apply_resume(value)

    return escalate
