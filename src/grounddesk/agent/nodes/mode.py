"""mode check: while a human owns the conversation the bot says nothing; the message goes to the ticket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.state import AgentState

__all__ = ["make_mode_check", "mode_route"]


def make_mode_check(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    """The mode-check node."""

    def mode_check(state: AgentState) -> dict[str, Any]:
        if (state.get("mode") or "bot") == "bot":
            return {}
        result: dict[str, Any] = {
            "decision": "forwarded",
            "answer": None,
            "citations": [],
            "confidence": None,
            "reasons": [],
            "escalation_reason": None,
            "mode": state.get("mode"),
        }
        return {"decision": {"kind": "forwarded"}, "result": result, "contact": {}}

    return mode_check


def mode_route(state: AgentState) -> str:
    """``human``: end the turn silently; ``bot``: understand the message."""
    return "forwarded" if (state.get("decision") or {}).get("kind") == "forwarded" else "understand"
