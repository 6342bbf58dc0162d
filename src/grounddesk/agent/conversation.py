"""The agent as callers use it: one call per customer turn, resume after a person acted, read the state.

Example:
    >>> agent = build_agent(settings)  # from grounddesk.wiring
    >>> result = agent.turn("conv-1", "How long do refunds take?", context=ConversationContext())
    >>> result.decision, result.citations[0].doc_id
    ('answer', 'refunds')
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field

from grounddesk.agent.deps import GuardsMessages
from grounddesk.agent.nodes.escalate import escalation_payload
from grounddesk.agent.state import AgentState
from grounddesk.agent.types import ConversationContext
from grounddesk.audit import AuditKind, AuditSink, answer_payload, audit_scope, safe_record

__all__ = ["DEFAULT_RECURSION_LIMIT", "Agent", "CitationOut", "TurnResult"]

#: Supersteps one turn may take. A turn is about ten; the limit stops a graph that loops (LangGraph raises
#: ``GraphRecursionError``) instead of letting one message burn the process.
DEFAULT_RECURSION_LIMIT = 40


class CitationOut(BaseModel):
    """A source of an answer as callers see it."""

    n: int
    doc_id: str
    version: int
    title: str


class TurnResult(BaseModel):
    """The outcome of one customer turn: the ``grounddesk chat --once --json`` document."""

    conversation_id: str
    decision: str = Field(description="answer | clarify | escalate | forwarded (a person owns the conversation)")
    answer: str | None = None
    citations: list[CitationOut] = Field(default_factory=list)
    confidence: float | None = None
    reasons: list[str] = Field(default_factory=list)
    escalation_reason: str | None = None
    clarify_reason: str | None = None
    duplicate: bool = False
    tool: dict[str, Any] | None = Field(
        default=None, description="The tool the answer came from: name, system, records"
    )
    escalation: dict[str, Any] | None = Field(default=None, description="The interrupt payload for the human queue")
    timings_ms: dict[str, float] = Field(default_factory=dict)


class Agent:
    """Runs customer turns through the compiled graph, one LangGraph thread per conversation.

    Args:
        graph: The compiled turn graph (with a checkpointer, so conversations survive restarts).
        guard: Masks messages that arrive while a person owns the conversation (they skip the graph).
        knowledge: The knowledge base the graph searches, for callers that need it too (evals, benchmarks).
        toolbox: The support tools the graph uses (:class:`grounddesk.tools.Toolbox`), for the service's
            approval of ``approve``-tier actions; None without back-ends.
        recursion_limit: Supersteps one turn or resume may take before LangGraph stops it.
        audit: Where each turn's ``answer`` event goes (and the scope its tool calls are recorded in); None: no
            audit.
    """

    def __init__(
        self,
        graph: CompiledStateGraph[AgentState, ConversationContext, AgentState, AgentState],
        guard: GuardsMessages,
        knowledge: Any = None,
        toolbox: Any = None,
        *,
        recursion_limit: int = DEFAULT_RECURSION_LIMIT,
        audit: AuditSink | None = None,
    ) -> None:
        self.graph = graph
        self.audit = audit
        self.knowledge = knowledge
        self.toolbox = toolbox
        self.recursion_limit = recursion_limit
        self._guard = guard

    def _config(self, conversation_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": conversation_id}, "recursion_limit": self.recursion_limit}

    def turn(
        self,
        conversation_id: str,
        text: str,
        *,
        context: ConversationContext | None = None,
        client_message_id: str | None = None,
    ) -> TurnResult:
        """Handle one customer message.

        While an escalation waits for a person, the message is masked and added to the transcript for them;
        the bot says nothing (``decision == "forwarded"``).
        """
        config = self._config(conversation_id)
        context = context or ConversationContext()
        verified = context.customer_id if context.verified else None
        with audit_scope(conversation_id=conversation_id, subject=verified, actor="bot"):
            if self._mode(config) == "pending_human":  # an escalation waits: the message is for the person
                masked = self._guard.inspect(text).masked_text
                # The client message id names the message, so a re-send replaces it instead of adding it twice.
                message_id = f"customer:{client_message_id}" if client_message_id else None
                self.graph.update_state(config, {"messages": [HumanMessage(content=masked, id=message_id)]})
                forwarded = TurnResult(conversation_id=conversation_id, decision="forwarded")
                self._audit_turn(forwarded, {"question": masked})
                return forwarded
            turn_input: AgentState = {
                "text": text,
                "client_message_id": client_message_id or "",
                "conversation_id": conversation_id,
            }
            # durability="exit": only the end state is stored, so the raw (unmasked) text never reaches a checkpoint.
            output = self.graph.invoke(turn_input, config, context=context, durability="exit")
            result = self._result(conversation_id, output)
            self._audit_turn(result, output)
            return result

    def _audit_turn(self, result: TurnResult, values: Any) -> None:
        """Record the turn's ``answer`` event: masked question, sources, confidence, decision (never raises)."""
        if self.audit is None:
            return
        state = values if isinstance(values, dict) else {}
        identity = state.get("identity")
        customer_id = identity.get("customer_id") if isinstance(identity, dict) else None
        payload = answer_payload(result, str(state.get("question") or ""))
        safe_record(self.audit, AuditKind.ANSWER, payload, subject=customer_id or None)

    def resume(
        self, conversation_id: str, value: dict[str, Any], *, context: ConversationContext | None = None
    ) -> TurnResult:
        """Resume a paused escalation with ``{"action": "reply" | "return_to_bot", ...}``."""
        output = self.graph.invoke(
            Command(resume=value),
            self._config(conversation_id),
            context=context or ConversationContext(),
            durability="exit",
        )
        return self._result(conversation_id, output)

    def pending_escalation(self, conversation_id: str) -> dict[str, Any] | None:
        """The payload of the escalation waiting for a person, if any.

        The checkpoint and the interrupt are stored by two writes; a process killed between them leaves the
        conversation paused before the escalate node with no interrupt recorded. The payload is then rebuilt from
        the stored state, as the escalate node would have built it.
        """
        snapshot = self.graph.get_state(self._config(conversation_id))
        for task in snapshot.tasks:
            for pending in task.interrupts:
                return dict(pending.value)
        if "escalate" in snapshot.next:
            return escalation_payload(snapshot.values)  # type: ignore[arg-type]
        return None

    def state(self, conversation_id: str) -> AgentState:
        """The conversation's stored state (masked transcript, mode, last turn's work)."""
        return self.graph.get_state(self._config(conversation_id)).values  # type: ignore[return-value]

    def _mode(self, config: RunnableConfig) -> str:
        """The stored handoff mode, read straight from the checkpoint (cheaper than a full state snapshot)."""
        saver = self.graph.checkpointer
        if not isinstance(saver, BaseCheckpointSaver):
            return str(self.graph.get_state(config).values.get("mode") or "bot")
        stored = saver.get_tuple(config)
        return str(stored.checkpoint["channel_values"].get("mode") or "bot") if stored else "bot"

    def _result(self, conversation_id: str, output: Any) -> TurnResult:
        values: dict[str, Any] = dict(output) if isinstance(output, dict) else dict(self.state(conversation_id))
        interrupts = values.get("__interrupt__") or []
        escalation = dict(interrupts[0].value) if interrupts else None
        result = dict(values.get("result") or {})
        return TurnResult(
            conversation_id=conversation_id,
            decision=str(result.get("decision") or "answer"),
            answer=result.get("answer"),
            citations=[CitationOut.model_validate(c) for c in result.get("citations") or []],
            confidence=result.get("confidence"),
            reasons=list(result.get("reasons") or []),
            escalation_reason=result.get("escalation_reason"),
            clarify_reason=result.get("clarify_reason"),
            duplicate=bool(result.get("duplicate")),
            tool=result.get("tool"),
            escalation=escalation,
            timings_ms=dict(values.get("timings") or {}),
        )
