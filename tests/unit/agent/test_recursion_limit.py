"""The graph's recursion limit: every invoke of the facade carries it, and a turn that needs more steps stops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_fakes import FakeComposer, FakeGuard, FakeKnowledge, FakeRouter, FakeScorer
from langgraph.errors import GraphRecursionError

from grounddesk.agent.checkpoint import open_checkpointer
from grounddesk.agent.conversation import DEFAULT_RECURSION_LIMIT, Agent
from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.graph import build_graph
from grounddesk.config import AgentSettings


@pytest.fixture
def graph_and_guard(tmp_path: Path) -> Iterator[tuple[object, FakeGuard]]:
    deps = AgentDeps(
        settings=AgentSettings(answer_threshold=0.5),
        knowledge=FakeKnowledge(),
        guard=FakeGuard(),
        router=FakeRouter(),
        composer=FakeComposer(),
        scorer=FakeScorer(),
        rewrite=lambda q, history: q,
    )
    saver, conn = open_checkpointer("sqlite:///unused", tmp_path / "checkpoints.db")
    yield build_graph(deps, saver), deps.guard
    conn.close()


def test_a_normal_turn_fits_the_default_limit_and_the_config_carries_it(graph_and_guard: tuple) -> None:
    graph, guard = graph_and_guard
    agent = Agent(graph, guard)
    result = agent.turn("c1", "How long do I have to return things?")
    assert result.decision == "answer"
    assert agent.recursion_limit == DEFAULT_RECURSION_LIMIT
    assert agent._config("c1")["recursion_limit"] == DEFAULT_RECURSION_LIMIT


def test_a_turn_that_needs_more_steps_than_the_limit_is_stopped(graph_and_guard: tuple) -> None:
    graph, guard = graph_and_guard
    # An answer takes 9 steps (receive ... respond); LangGraph needs a limit above the step count.
    tight = Agent(graph, guard, recursion_limit=5)
    with pytest.raises(GraphRecursionError):
        tight.turn("c2", "How long do I have to return things?")
    # Nothing of the stopped turn was stored (durability="exit"): the same message then runs normally.
    assert tight.state("c2").get("result") in (None, {})
    roomy = Agent(graph, guard, recursion_limit=10)
    assert roomy.turn("c2", "How long do I have to return things?").decision == "answer"
