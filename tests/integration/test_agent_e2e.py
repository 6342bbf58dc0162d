"""The agent end to end on the demo help centre: real model, guard, router, composer, confidence, checkpoints.

LLM mode runs the real langchain-openai client against a scripted OpenAI-compatible server on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grounddesk.agent.conversation import Agent
from grounddesk.cli import app
from grounddesk.config import LLMSettings, Settings
from grounddesk.demo import knowledge_dir
from grounddesk.knowledge.embeddings import SentenceTransformerEmbedder
from grounddesk.testing.openai_server import Completion, ScriptedOpenAIServer, ToolCall
from grounddesk.wiring import build_agent, build_embedder, build_knowledge_base

pytestmark = pytest.mark.model

MARKER = re.compile(r"\s*\[\d+(?:,\s*\d+)*\]")


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return build_embedder(Settings())


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Path:
    folder = tmp_path_factory.mktemp("demo-home")
    kb = build_knowledge_base(Settings(home=folder), embedder=embedder)
    try:
        report = kb.import_paths([knowledge_dir()], approve=True)
        assert not report.errors
    finally:
        kb.close()
    return folder


@pytest.fixture
def agent(home: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Agent]:
    built, close = build_agent(Settings(home=home), embedder=embedder)
    yield built
    close()


def _sources_text(agent: Agent, citations: list[Any]) -> str:
    texts = []
    for c in citations:
        texts.extend(p.text for p in agent.knowledge.store.chunks(c.doc_id, c.version))
    return "\n".join(texts)


def test_an_answerable_question_is_answered_from_approved_sources_only(agent: Agent) -> None:
    result = agent.turn("e2e-1", "How many days do I have to return an item?")
    assert result.decision == "answer", result
    assert result.citations and result.citations[0].doc_id in {"returns-policy", "exchanges", "refunds"}
    assert result.confidence is not None and 0.0 <= result.confidence <= 1.0 and result.reasons
    sources = _sources_text(agent, result.citations)
    sentences = [MARKER.sub("", s).strip() for s in re.split(r"(?<=\])\s+", result.answer or "") if s.strip()]
    assert sentences
    for sentence in sentences:  # extractive: every sentence stands, as is, in a cited source
        assert sentence.rstrip(".") in sources.replace("**", ""), sentence


def test_a_rate_held_in_a_table_is_answered_with_the_row_that_gives_it(agent: Agent) -> None:
    # The shipping rates are a Markdown table: each row is read under its header, so the price can be quoted.
    result = agent.turn("e2e-rates", "How much does express shipping cost?")
    assert result.decision == "answer", result
    assert result.citations[0].doc_id == "shipping-policy"
    assert "Method: Express" in (result.answer or "") and "Cost: $24.95" in (result.answer or "")
    assert "Method: Standard" not in (result.answer or "")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("I want to talk to a real person please", "customer_requested_human"),
        ("Someone used my card without permission, this is fraud", "fraud_or_security"),
        ("I'm going to take legal action and sue you", "legal_threat"),
    ],
)
def test_sensitive_messages_and_human_requests_escalate_with_their_reason(
    agent: Agent, message: str, reason: str
) -> None:
    result = agent.turn(f"e2e-{reason}", message)
    assert result.decision == "escalate" and result.escalation_reason == reason
    assert result.escalation is not None and result.escalation["reason"] == reason


def test_internal_knowledge_never_reaches_a_public_customer(agent: Agent) -> None:
    result = agent.turn("e2e-int", "Do refunds above 500 dollars need supervisor approval?")
    assert all(c.doc_id != "agent-playbook-refunds-fraud-verification" for c in result.citations)
    assert "supervisor" not in (result.answer or "").lower()


def test_a_restart_mid_conversation_resumes_it(home: Path, embedder: SentenceTransformerEmbedder) -> None:
    first, close = build_agent(Settings(home=home), embedder=embedder)
    try:
        assert first.turn("e2e-restart", "How do I reset my password?").decision == "answer"
        assert first.turn("e2e-restart", "talk to a human").decision == "escalate"
    finally:
        close()
    again, close = build_agent(Settings(home=home), embedder=embedder)
    try:
        assert again.pending_escalation("e2e-restart") is not None
        again.resume("e2e-restart", {"action": "return_to_bot", "summary": "confirmed the delivery date"})
        assert len(again.state("e2e-restart")["messages"]) >= 5
        assert again.turn("e2e-restart", "How do I reset my password?").decision in {"answer", "clarify", "escalate"}
        assert again.state("e2e-restart")["mode"] in {"bot", "pending_human"}
    finally:
        close()


def test_chat_once_prints_the_contract(home: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(home), "chat", "--once", "Do you ship to the UK?", "--json"])
    assert result.exit_code == 0, result.stdout
    out = json.loads(result.stdout)
    assert set(out) >= {"decision", "answer", "citations", "confidence", "reasons", "escalation_reason"}
    assert out["decision"] in {"answer", "clarify", "escalate"}
    for citation in out["citations"]:
        assert set(citation) >= {"doc_id", "version", "title"}


def test_llm_mode_end_to_end_removes_an_unsupported_sentence(home: Path, embedder: SentenceTransformerEmbedder) -> None:
    with ScriptedOpenAIServer() as server:
        server.script(
            ToolCall("returns_info", {"standalone_query": "How long is the return window?", "confidence": 0.95}),
            Completion(
                "You can return unworn items within 30 days of delivery [1]. "
                "Returns are accepted for 365 days with a free pony [1]."
            ),
        )
        settings = Settings(home=home, llm=LLMSettings(base_url=server.base_url, model="scripted", timeout_s=10))
        agent, close = build_agent(settings, embedder=embedder)
        try:
            result = agent.turn("e2e-llm", "How long do I have to return something?")
            draft = agent.state("e2e-llm")["draft"]
        finally:
            close()
        assert len(server.requests) == 2  # one routing call (tools), one answer call
        assert server.requests[0].tools and server.requests[1].content("system")
    assert "365" not in (result.answer or "") and "pony" not in (result.answer or "")
    if result.decision == "answer":
        assert "30 days" in (result.answer or "") and result.citations
    assert any("pony" in removed for removed in draft["removed"])
