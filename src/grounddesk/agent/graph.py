"""The LangGraph state machine of a customer turn.

receive -> guard -> mode check -> understand -> retrieve -> compose -> score -> decide -> respond | escalate
                                           `-> act (tool intents, answers to a stated action) -> decide
(duplicates end after receive; while a person owns the conversation the turn ends after the mode check).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes import (
    decide_route,
    make_act,
    make_compose,
    make_decide,
    make_escalate,
    make_guard,
    make_mode_check,
    make_receive,
    make_respond,
    make_retrieve,
    make_score,
    make_understand,
    make_understand_route,
    mode_route,
    receive_route,
)
from grounddesk.agent.state import AgentState
from grounddesk.agent.types import ConversationContext

__all__ = ["build_graph"]


def _node(fn: Callable[..., dict[str, Any]]) -> Any:
    """LangGraph's add_node overloads do not type plain callables of (state[, runtime]); it accepts them."""
    return fn


def build_graph(
    deps: AgentDeps, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[AgentState, ConversationContext, AgentState, AgentState]:
    """Assemble and compile the turn graph.

    Args:
        deps: The components the nodes use.
        checkpointer: Where conversations persist (SqliteSaver / PostgresSaver); None keeps nothing.
    """
    graph = StateGraph(AgentState, context_schema=ConversationContext)
    graph.add_node("receive", _node(make_receive(deps)))
    graph.add_node("guard", _node(make_guard(deps)))
    graph.add_node("mode_check", _node(make_mode_check(deps)))
    graph.add_node("understand", _node(make_understand(deps)))
    graph.add_node("act", _node(make_act(deps)))
    graph.add_node("retrieve", _node(make_retrieve(deps)))
    graph.add_node("compose", _node(make_compose(deps)))
    graph.add_node("score", _node(make_score(deps)))
    graph.add_node("decide", _node(make_decide(deps)))
    graph.add_node("respond", _node(make_respond(deps)))
    graph.add_node("escalate", _node(make_escalate(deps)))
    graph.add_edge(START, "receive")
    graph.add_conditional_edges("receive", receive_route, {"duplicate": END, "guard": "guard"})
    graph.add_edge("guard", "mode_check")
    graph.add_conditional_edges("mode_check", mode_route, {"forwarded": END, "understand": "understand"})
    graph.add_conditional_edges(
        "understand", make_understand_route(deps), {"act": "act", "retrieve": "retrieve", "decide": "decide"}
    )
    graph.add_edge("act", "decide")
    graph.add_edge("retrieve", "compose")
    graph.add_edge("compose", "score")
    graph.add_edge("score", "decide")
    graph.add_conditional_edges("decide", decide_route, {"respond": "respond", "escalate": "escalate"})
    graph.add_edge("respond", END)
    graph.add_edge("escalate", END)
    return graph.compile(checkpointer=checkpointer)
