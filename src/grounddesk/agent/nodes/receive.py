"""receive: a new turn starts; a client message id seen before returns its earlier result, once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.state import AgentState

__all__ = ["make_receive", "receive_route"]

_PER_TURN = (
    "question",
    "guard",
    "route",
    "hits",
    "draft",
    "confidence",
    "action",
    "decision",
    "result",
    "error",
    "contact",
)


def make_receive(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    """The receive node."""

    def receive(state: AgentState) -> dict[str, Any]:
        client_id = state.get("client_message_id") or ""
        earlier = (state.get("results") or {}).get(client_id) if client_id else None
        if earlier is not None:
            return {"text": "", "result": {**earlier, "duplicate": True}, "decision": {"kind": "duplicate"}}
        fresh: dict[str, Any] = {key: {} for key in _PER_TURN}
        fresh.update(hits=[], question="", timings={}, turn_index=state.get("turn_index", 0) + 1)
        fresh.setdefault("mode", state.get("mode") or "bot")
        return fresh

    return receive


def receive_route(state: AgentState) -> str:
    """Duplicates end the turn at once; everything else goes to the guard."""
    return "duplicate" if (state.get("decision") or {}).get("kind") == "duplicate" else "guard"
