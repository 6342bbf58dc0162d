"""understand: intent and slots from the playbook router; follow-ups rewritten into standalone queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.state import AgentState
from grounddesk.agent.types import Route
from grounddesk.errors import GrounddeskError

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
        try:
            route = deps.router.route(question, history=[text for speaker, text in pairs if speaker == "user"])
        except GrounddeskError as exc:  # the LLM router's endpoint failed: escalate rather than guess an intent
            fallback = Route(intent=None, score=0.0, query=question)
            return {"route": fallback.model_dump(mode="json"), "error": exc.to_dict()}
        # The LLM router rewrites follow-ups itself (route.query); the deterministic one leaves it empty.
        query = route.query or (deps.rewrite(question, pairs) if pairs else question)
        return {"route": route.model_copy(update={"query": query}).model_dump(mode="json")}

    return understand
