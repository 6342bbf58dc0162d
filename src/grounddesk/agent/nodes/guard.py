"""guard: PII masked before anything stores or reads the message; injection, sensitive topics, human requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import HumanMessage, RemoveMessage

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.state import AgentState

__all__ = ["make_guard"]


def make_guard(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    """The guard node. The raw text leaves the state here: only the masked form is kept."""
    limit = deps.settings.max_history_messages

    @timed("guard")
    def guard(state: AgentState) -> dict[str, Any]:
        found = deps.guard.inspect(state.get("text") or "")
        masked = found.masked_text
        messages: list[Any] = [HumanMessage(content=masked)]
        history = state.get("messages") or []
        overflow = len(history) + 2 - limit  # room for this message and its reply
        if overflow > 0:  # the model's view of the history stays bounded
            messages = [RemoveMessage(id=m.id) for m in history[:overflow] if m.id] + messages
        return {"text": "", "question": masked, "guard": found.model_dump(mode="json"), "messages": messages}

    return guard
