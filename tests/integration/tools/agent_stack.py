"""An agent graph on the demo CRM/ERP (SQLite) with simple stand-ins where a test does not need the real part.

The graph, the act node, the toolbox, the connectors and the checkpointer are real; the guard passes text through,
the knowledge base holds one approved chunk, and the router is whatever the test passes (a fixed route, or the
LLM router over the scripted OpenAI server).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from grounddesk.agent.checkpoint import open_checkpointer
from grounddesk.agent.conversation import Agent
from grounddesk.agent.deps import AgentDeps, ComposesAnswers, RoutesIntents
from grounddesk.agent.graph import build_graph
from grounddesk.agent.types import (
    Citation,
    Confidence,
    ConversationContext,
    Draft,
    DraftSentence,
    GuardResult,
    Route,
)
from grounddesk.config import AgentSettings
from grounddesk.connectors import DemoBackend
from grounddesk.knowledge.search import Hit, SearchResult
from grounddesk.tools import Toolbox, ToolCall, support_tools

ALEX = ConversationContext(customer_id="C-1001", verified=True, channel="test")

HOURS = Hit(
    chunk_id="hours@1#0",
    doc_id="hours",
    version=1,
    title="Opening hours",
    heading_path=["Opening hours"],
    text="Our support team answers chats from 8am to 8pm, Monday to Saturday.",
    score=0.9,
)


class PassGuard:
    def inspect(self, text: str) -> GuardResult:
        return GuardResult(masked_text=text)


class OneChunk:
    def search(self, query: str, *, audiences: Sequence[str] = ("public",), top_k: int | None = None) -> SearchResult:
        return SearchResult(hits=[HOURS], took_ms=1.0, generation=1)


class FixedRoute:
    def __init__(self, route: Route) -> None:
        self.route_value = route

    def route(self, text: str, *, history: Sequence[str] = ()) -> Route:
        return self.route_value.model_copy(update={"query": text})


class QuoteFirstChunk:
    def compose(self, question: str, hits: Sequence[Hit]) -> Draft:
        hit = hits[0]
        citation = Citation(n=1, doc_id=hit.doc_id, version=hit.version, title=hit.title, chunk_id=hit.chunk_id)
        return Draft(
            text=f"{hit.text} [1]",
            sentences=[DraftSentence(text=hit.text, citation=1, support=1.0)],
            citations=[citation],
        )


class SureScorer:
    def score(self, **_: object) -> Confidence:
        return Confidence(score=0.9, raw=0.9)


@dataclass
class AgentOnDemo:
    agent: Agent
    toolbox: Toolbox
    backend: Path
    calls: list[ToolCall] = field(default_factory=list)

    def cases(self, customer_id: str = "C-1001") -> list[str]:
        crm, erp = DemoBackend.open(self.backend)
        try:
            return [c.number for c in crm.list_cases(customer_id, limit=200)]
        finally:
            crm.close()
            erp.close()


@contextmanager
def agent_on_demo(
    folder: Path,
    router: RoutesIntents,
    *,
    call_budget: int | None = None,
    composer: ComposesAnswers | None = None,
) -> Iterator[AgentOnDemo]:
    """The agent over the demo back-end and a checkpoint file in ``folder`` (reuse ``folder`` = a restart)."""
    backend = folder / "demo_backend.sqlite"
    DemoBackend.create(backend)
    crm, erp = DemoBackend.open(backend)
    calls: list[ToolCall] = []
    toolbox = Toolbox(support_tools(crm, erp), on_call=calls.append, call_budget=call_budget)
    deps = AgentDeps(
        settings=AgentSettings(answer_threshold=0.5),
        knowledge=OneChunk(),
        guard=PassGuard(),
        router=router,
        composer=composer or QuoteFirstChunk(),
        scorer=SureScorer(),
        rewrite=lambda question, history: question,
        toolbox=toolbox,
        crm=crm,
        erp=erp,
    )
    saver, conn = open_checkpointer("sqlite:///unused", folder / "checkpoints.db")
    try:
        agent = Agent(build_graph(deps, saver), deps.guard, toolbox=toolbox)
        yield AgentOnDemo(agent=agent, toolbox=toolbox, backend=backend, calls=calls)
    finally:
        conn.close()
        crm.close()
        erp.close()
