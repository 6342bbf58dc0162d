"""score: the calibrated confidence of the composed answer, with its reasons in plain words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.state import AgentState
from grounddesk.agent.types import Draft, GuardResult, Route
from grounddesk.knowledge.search import Hit

__all__ = ["make_score"]


def make_score(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    """The score node."""

    @timed("score")
    def score(state: AgentState) -> dict[str, Any]:
        route = Route.model_validate(state["route"]) if state.get("route") else None
        confidence = deps.scorer.score(
            question=(route.query if route and route.query else state.get("question") or ""),
            hits=[Hit.model_validate(h) for h in state.get("hits") or []],
            draft=Draft.model_validate(state.get("draft") or {"text": ""}),
            route=route,
            guard=GuardResult.model_validate(state["guard"]) if state.get("guard") else None,
            message=state.get("question") or None,
        )
        return {"confidence": {**confidence.model_dump(mode="json"), "reasons": confidence.reasons}}

    return score
