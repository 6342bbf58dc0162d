"""The audit scope: nested values inherit, leave no trace after the block, and follow LangGraph's threads."""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph

from grounddesk.audit import audit_scope, current_scope


class _State(TypedDict, total=False):
    a: str
    b: str


def test_nested_scopes_inherit_what_they_do_not_set_and_restore_on_exit() -> None:
    assert current_scope().conversation_id is None
    with audit_scope(conversation_id="c1", subject="C-1001", actor="bot"):
        with audit_scope(actor="kim"):
            assert (current_scope().conversation_id, current_scope().subject, current_scope().actor) == (
                "c1",
                "C-1001",
                "kim",
            )
        assert current_scope().actor == "bot"
    assert current_scope().subject is None


def test_the_scope_reaches_graph_nodes_running_in_parallel() -> None:
    graph = StateGraph(_State)
    graph.add_node("left", lambda _: {"a": str(current_scope().conversation_id)})
    graph.add_node("right", lambda _: {"b": str(current_scope().conversation_id)})
    graph.add_edge(START, "left")
    graph.add_edge(START, "right")
    graph.add_edge("left", END)
    graph.add_edge("right", END)

    with audit_scope(conversation_id="conv-9"):
        out = graph.compile().invoke({})

    assert out == {"a": "conv-9", "b": "conv-9"}
