"""retrieve: hybrid search over approved chunks visible to the customer's audiences."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.state import AgentState
from grounddesk.agent.types import ConversationContext
from grounddesk.errors import GrounddeskError

__all__ = ["make_retrieve"]

logger = logging.getLogger(__name__)


def make_retrieve(deps: AgentDeps) -> Callable[[AgentState, Runtime[ConversationContext]], dict[str, Any]]:
    """The retrieve node. A failing knowledge store becomes an error the decision escalates on."""

    @timed("retrieve")
    def retrieve(state: AgentState, runtime: Runtime[ConversationContext]) -> dict[str, Any]:
        route = state.get("route") or {}
        query = route.get("query") or state.get("question") or ""
        audiences = list((runtime.context or ConversationContext()).audiences)
        try:
            result = deps.knowledge.search(query, audiences=audiences, top_k=deps.settings.top_k)
        except (GrounddeskError, OSError) as exc:
            logger.warning("knowledge search failed", extra={"error": type(exc).__name__})
            return {"hits": [], "error": {"code": "knowledge_unavailable", "detail": str(exc)}}
        return {"hits": [h.model_dump(mode="json") for h in result.hits]}

    return retrieve
