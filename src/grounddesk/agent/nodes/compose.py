"""compose: a grounded, cited answer from the retrieved chunks (extractive by default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grounddesk.agent.compose import ExtractiveComposer
from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.state import AgentState
from grounddesk.errors import GrounddeskError
from grounddesk.knowledge.search import Hit

__all__ = ["make_compose"]


def make_compose(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    """The compose node."""

    @timed("compose", compute=isinstance(deps.composer, ExtractiveComposer))  # an LLM composer waits on its endpoint
    def compose(state: AgentState) -> dict[str, Any]:
        hits = [Hit.model_validate(h) for h in state.get("hits") or []]
        if not hits:
            return {"draft": {"text": "", "sentences": [], "citations": [], "removed": []}}
        route = state.get("route") or {}
        try:
            draft = deps.composer.compose(route.get("query") or state.get("question") or "", hits)
        except GrounddeskError as exc:  # a model endpoint that is down: the decision escalates, nothing is guessed
            return {"draft": {"text": "", "sentences": [], "citations": [], "removed": []}, "error": exc.to_dict()}
        return {"draft": draft.model_dump(mode="json")}

    return compose
