"""respond: the answer or the clarifying question goes into the transcript."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.state import AgentState

__all__ = ["make_respond"]


def make_respond(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    """The respond node (answer and clarify)."""

    def respond(state: AgentState) -> dict[str, Any]:
        result = state.get("result") or {}
        return {"messages": [AIMessage(content=str(result.get("answer") or ""), name="bot")]}

    return respond
