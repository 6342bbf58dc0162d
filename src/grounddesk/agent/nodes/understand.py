"""understand: intent and slots from the playbook router; follow-ups rewritten into standalone queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.nodes.act import confirmation_answer
from grounddesk.agent.router import EmbeddingRouter
from grounddesk.agent.state import AgentState
from grounddesk.agent.types import Route
from grounddesk.errors import GrounddeskError

__all__ = ["history_pairs", "make_understand", "make_understand_route", "understand_route"]

_ACCOUNT_SLOTS = ("order_id", "case_number")


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

    @timed("understand", compute=isinstance(deps.router, EmbeddingRouter))  # an LLM router waits on its endpoint
    def understand(state: AgentState) -> dict[str, Any]:
        question = state.get("question") or ""
        if (state.get("pending_action") or {}).get("tier") == "confirm":
            answer = confirmation_answer(question)
            if answer is not None:  # the customer's own yes or no to the action the agent stated
                route = Route(intent="confirm_action", score=1.0, mode="confirm", slots={"answer": answer})
                return {"route": route.model_dump(mode="json")}
        pairs = history_pairs(state)
        try:
            route = deps.router.route(question, history=[text for speaker, text in pairs if speaker == "user"])
        except GrounddeskError as exc:  # the LLM router's endpoint failed: escalate rather than guess an intent
            fallback = Route(intent=None, score=0.0, query=question)
            return {"route": fallback.model_dump(mode="json"), "error": exc.to_dict()}
        # The LLM router rewrites follow-ups itself (route.query); the deterministic one leaves it empty.
        query = route.query or (deps.rewrite(question, pairs) if pairs else question)
        route = _continue_awaiting(state, deps, route.model_copy(update={"query": query}), question)
        # A pending action not answered with yes or no lapses: a new request never inherits it.
        return {"route": route.model_dump(mode="json"), "pending_action": {}}

    return understand


def _continue_awaiting(state: AgentState, deps: AgentDeps, route: Route, question: str) -> Route:
    """A reply to the agent's question for a tool request (an email, an order number) continues that request."""
    awaiting = state.get("awaiting") or {}
    if not awaiting or route.tool:
        return route
    slots = dict(awaiting.get("slots") or {})
    found = deps.extract_slots(question, _ACCOUNT_SLOTS) if deps.extract_slots else {}
    emails = (state.get("contact") or {}).get("emails") or []
    if not found and not emails:
        return route
    slots.update(found)
    return Route(
        intent=route.intent, score=route.score, mode="tool", tool=str(awaiting["tool"]), slots=slots, query=question
    )


def make_understand_route(deps: AgentDeps) -> Callable[[AgentState], str]:
    """Where a turn goes after understand (see :func:`understand_route`)."""
    fixed = frozenset(deps.fixed_replies)

    def route_after_understand(state: AgentState) -> str:
        return understand_route(state, fixed_reply_intents=fixed)

    return route_after_understand


def understand_route(state: AgentState, *, fixed_reply_intents: frozenset[str] = frozenset()) -> str:
    """Tool requests and answers to a stated action go to act, unless the guard already decided the turn.

    A greeting or thanks (an intent with a fixed reply) goes straight to decide: there is nothing to look up.
    """
    guard = state.get("guard") or {}
    route = state.get("route") or {}
    flagged = (
        guard.get("wants_human")
        or guard.get("injection")
        or any(t.get("action") == "escalate" for t in guard.get("topics") or [])
    )
    if not flagged and (route.get("tool") or route.get("mode") == "confirm"):
        return "act"
    if not route.get("out_of_scope") and route.get("intent") in fixed_reply_intents:
        return "decide"
    return "retrieve"
