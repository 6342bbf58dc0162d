"""Conversations survive a restart on both checkpoint back-ends (SqliteSaver, PostgresSaver)."""

from __future__ import annotations

from pathlib import Path

from agent_fakes import FakeComposer, FakeGuard, FakeKnowledge, FakeRouter, FakeScorer

from grounddesk.agent.checkpoint import open_checkpointer
from grounddesk.agent.conversation import Agent
from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.graph import build_graph
from grounddesk.config import AgentSettings


def test_escalation_survives_a_restart_and_resumes(sql_url: str, tmp_path: Path) -> None:
    deps = AgentDeps(
        settings=AgentSettings(),
        knowledge=FakeKnowledge(),
        guard=FakeGuard(),
        router=FakeRouter(),
        composer=FakeComposer(),
        scorer=FakeScorer(),
        rewrite=lambda q, h: q,
    )
    saver, conn = open_checkpointer(sql_url, tmp_path / "checkpoints.db")
    try:
        first = Agent(build_graph(deps, saver), deps.guard)
        assert first.turn("conv-42", "human please").decision == "escalate"
    finally:
        conn.close()
    saver, conn = open_checkpointer(sql_url, tmp_path / "checkpoints.db")
    try:
        again = Agent(build_graph(deps, saver), deps.guard)
        payload = again.pending_escalation("conv-42")
        assert payload is not None and payload["reason"] == "customer_requested_human"
        again.resume("conv-42", {"action": "return_to_bot", "summary": "answered by phone"})
        assert again.turn("conv-42", "How do returns work?").decision == "answer"
        assert again.state("conv-42")["mode"] == "bot"
    finally:
        conn.close()
