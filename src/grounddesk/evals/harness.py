"""The real agent for evals: :func:`grounddesk.wiring.build_agent` on the embedded defaults, in a throwaway home.

Each harness gets its own temporary home (SQLite checkpoints, SQL store and a fresh demo CRM/ERP back-end made
from :func:`grounddesk.demo.seed.generate_seed`), so an eval never touches a team's data; the knowledge base is
passed in (a cached eval index, see :mod:`grounddesk.evals.knowledge`). The router's example vectors and the
vectors of answer sentences are cached under ``<home>/evals/agent-cache``, so a second run does not embed them
again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field

from grounddesk.agent.conversation import Agent, TurnResult
from grounddesk.agent.types import ConversationContext
from grounddesk.config import DatabaseSettings, Settings
from grounddesk.evals.case import Case
from grounddesk.knowledge.service import KnowledgeBase
from grounddesk.knowledge.types import Embedder
from grounddesk.tools import ToolCall

__all__ = ["AgentHarness", "TurnRecord", "agent_settings", "context_for"]

logger = logging.getLogger(__name__)


class TurnRecord(BaseModel):
    """What the agent did with one scored turn."""

    case_id: str
    conversation_id: str
    decision: str
    reason: str | None = Field(default=None, description="escalation_reason or clarify_reason")
    confidence: float | None = None
    cited: list[str] = Field(default_factory=list, description="Cited document ids, in citation order")
    retrieved: list[str] = Field(default_factory=list, description="Document ids of the retrieved chunks")
    tool: str | None = Field(default=None, description="The tool the agent ran or reached for (route or pending)")
    intent: str | None = None
    out_of_scope: bool = False
    answer: str | None = None
    support: list[float] = Field(default_factory=list, description="Support of each answer sentence in its source")
    timings_ms: dict[str, float] = Field(default_factory=dict)
    total_ms: float = 0.0
    account_tool: bool = Field(default=False, description="``tool`` needs a verified customer")
    tool_calls: list[ToolCall] = Field(default_factory=list, description="Tools run during the turn")
    unverified_account_runs: int = Field(default=0, description="Account-specific tools run with no verified customer")


def agent_settings(base: Settings, home: Path, *, canary: str | None = None) -> Settings:
    """``base`` moved to ``home`` with SQLite state and a demo CRM/ERP there; calibration and models kept."""
    updates: dict[str, Any] = {
        "home": home,
        "database": DatabaseSettings(),
        "agent": base.agent.model_copy(update={"calibration_file": base.calibration_path()}),
        "connectors": base.connectors.model_copy(
            update={"crm": "demo", "erp": "demo", "demo_path": home / "demo_backend.sqlite"}
        ),
    }
    if canary is not None:
        updates["llm"] = base.llm.model_copy(update={"system_prompt_canary": canary})
    return base.model_copy(update=updates)


def context_for(case: Case) -> ConversationContext:
    """The conversation context a case describes (signed-in customer, audiences)."""
    return ConversationContext(
        customer_id=case.customer_id,
        verified=case.verified and case.customer_id is not None,
        audiences=tuple(case.audiences),
        channel="eval",
    )


class AgentHarness:
    """Runs golden-set cases through the compiled graph and records what happened.

    Args:
        agent: The agent built by :func:`grounddesk.wiring.build_agent`.
        calls: Every tool run (``Toolbox.on_call``), in order.
        settings: The harness's own settings (its home, its demo back-end file).

    Example:
        >>> with AgentHarness.open(settings, kb, embedder=embedder, workdir=tmp) as harness:
        ...     record = harness.run(Case(id="c1", question="How long do refunds take?"))
        >>> record.decision
        'answer'
    """

    def __init__(self, agent: Agent, calls: list[ToolCall], settings: Settings) -> None:
        self.agent = agent
        self.calls = calls
        self.settings = settings
        box = agent.toolbox
        self.account_tools: frozenset[str] = frozenset(
            n for n in (box.names if box is not None else []) if box.get(n).account_specific
        )

    @classmethod
    @contextmanager
    def open(
        cls,
        settings: Settings,
        knowledge: KnowledgeBase,
        *,
        embedder: Embedder | None,
        workdir: Path,
        connectors: bool = True,
        canary: str | None = None,
    ) -> Iterator[AgentHarness]:
        """Build the agent in ``workdir`` (a fresh folder) on ``knowledge``; closed on exit.

        Args:
            settings: The configuration evaluated (models, thresholds, playbook, guard policy, LLM).
            knowledge: The knowledge base the agent answers from (left open).
            embedder: Reuse a loaded embedder.
            workdir: The harness's home; a demo CRM/ERP back-end is created there.
            connectors: Give the agent the demo CRM/ERP tools.
            canary: A secret marker planted in the LLM system prompt (LLM mode only).
        """
        from grounddesk.connectors.demo import DemoBackend
        from grounddesk.wiring import build_agent, build_connectors

        workdir.mkdir(parents=True, exist_ok=True)
        cache = settings.home / "evals" / "agent-cache"
        cache.mkdir(parents=True, exist_ok=True)
        with suppress(FileExistsError):
            (workdir / "cache").symlink_to(cache.resolve(), target_is_directory=True)
        local = agent_settings(settings, workdir, canary=canary)
        crm = erp = None
        close_connectors: Any = lambda: None  # noqa: E731 - replaced when connectors are built
        if connectors:
            DemoBackend.create(local.demo_backend_path)
            crm, erp, close_connectors = build_connectors(local)
        try:
            agent, close = build_agent(local, embedder=embedder, knowledge=knowledge, crm=crm, erp=erp)
            calls: list[ToolCall] = []
            if agent.toolbox is not None:
                agent.toolbox.on_call = calls.append
            try:
                yield cls(agent, calls, local)
            finally:
                close()
        finally:
            close_connectors()

    def seed_history(self, conversation_id: str, case: Case) -> None:
        """Put the case's earlier turns in the conversation, as if they had happened (no turn is run)."""
        if not case.history:
            return
        messages = [
            HumanMessage(content=t.text) if t.role == "user" else AIMessage(content=t.text, name="bot")
            for t in case.history
        ]
        config: RunnableConfig = {"configurable": {"thread_id": conversation_id}}  # the agent's thread per conversation
        self.agent.graph.update_state(config, {"messages": messages, "mode": "bot"}, as_node="respond")

    def say(self, conversation_id: str, text: str, context: ConversationContext) -> TurnResult:
        """One more customer message in an existing conversation (a follow-up such as "yes")."""
        return self.agent.turn(conversation_id, text, context=context)

    def run(self, case: Case, *, conversation_id: str | None = None) -> TurnRecord:
        """Send the case's question in a new conversation (history seeded first) and record the outcome."""
        conversation = conversation_id or f"eval-{case.id}-{uuid.uuid4().hex[:8]}"
        self.seed_history(conversation, case)
        before = len(self.calls)
        started = time.perf_counter()
        result = self.agent.turn(conversation, case.question, context=context_for(case))
        total = (time.perf_counter() - started) * 1000.0
        state: dict[str, Any] = dict(self.agent.state(conversation) or {})
        record = record_from(case.id, conversation, result, state, total)
        record.tool_calls = list(self.calls[before:])
        record.account_tool = record.tool in self.account_tools
        record.unverified_account_runs = sum(
            1 for call in record.tool_calls if call.tool in self.account_tools and not call.customer_id
        )
        return record


def record_from(case_id: str, conversation: str, result: TurnResult, state: dict[str, Any], total: float) -> TurnRecord:
    """A :class:`TurnRecord` from a turn's result and the conversation state after it."""
    route = state.get("route") or {}
    pending = state.get("pending_action") or {}
    draft = state.get("draft") or {}
    tool = (result.tool or {}).get("name") or pending.get("tool") or route.get("tool")
    retrieved: list[str] = []
    for hit in state.get("hits") or []:
        if hit.get("doc_id") not in retrieved:
            retrieved.append(str(hit.get("doc_id")))
    return TurnRecord(
        case_id=case_id,
        conversation_id=conversation,
        decision=result.decision,
        reason=result.escalation_reason or result.clarify_reason,
        confidence=result.confidence,
        cited=[c.doc_id for c in result.citations],
        retrieved=retrieved,
        tool=str(tool) if tool else None,
        intent=route.get("intent"),
        out_of_scope=bool(route.get("out_of_scope")),
        answer=result.answer,
        support=[float(s.get("support", 0.0)) for s in draft.get("sentences") or []]
        if result.decision == "answer"
        else [],
        timings_ms=dict(result.timings_ms),
        total_ms=round(total, 3),
    )
