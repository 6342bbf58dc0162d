"""guard: PII masked before anything stores or reads the message; injection, sensitive topics, human requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from langchain_core.messages import HumanMessage, RemoveMessage

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.state import AgentState

__all__ = ["make_guard"]

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_MAX_EMAILS = 3


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
        # Email addresses are kept for this turn only (identity checks); decide clears them before it ends.
        emails = [e.lower() for e in _EMAIL.findall(state.get("text") or "")][:_MAX_EMAILS]
        return {
            "text": "",
            "question": masked,
            "guard": found.model_dump(mode="json"),
            "messages": messages,
            "contact": {"emails": emails} if emails else {},
        }

    return guard
