"""understand: intent and slots from the playbook router; follow-ups rewritten into standalone queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.state import AgentState

__all__ = ["history_pairs", "make_understand"]


def history_pairs(state: AgentState) -> list[tuple[str, str]]:
    """(speaker, text) of the earlier turns, oldest first, without the current message."""
    pairs: list[tuple[str, str]] = []
    for message in (state.get("messages") or [])[:-1]:
        if isinstance(message, HumanMessage):
            pairs.append(("user", str(message.content)))
        elif isinstance(message, AIMessage):
            pairs.append(("agent", str(message.content)))
    return pairs


def make_understand(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    """The understand node."""

    @timed("understand")
    def understand(state: AgentState) -> dict[str, Any]:
        question = state.get("question") or ""
        pairs = history_pairs(state)
        route = deps.router.route(question, history=[text for speaker, text in pairs if speaker == "user"])
        query = deps.rewrite(question, pairs) if pairs else question
        return {"route": route.model_copy(update={"query": query}).model_dump(mode="json")}

    return understand
