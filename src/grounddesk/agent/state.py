"""The graph's state: the masked transcript, who owns the conversation, and the current turn's work.

Values are plain JSON-able dicts and lists (model dumps), so every checkpointer stores them as they are.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

__all__ = ["AgentState", "HandoffMode", "TurnInput", "merge_timings"]

HandoffMode = Literal["bot", "pending_human", "human"]


def merge_timings(old: dict[str, float] | None, new: dict[str, float] | None) -> dict[str, float]:
    """Reducer: each node adds its own duration; an empty dict starts a new turn."""
    if new is None:
        return old or {}
    if not new:
        return {}
    return {**(old or {}), **new}


class TurnInput(TypedDict, total=False):
    """What a caller sends for one customer turn."""

    text: str
    client_message_id: str
    conversation_id: str


class AgentState(TypedDict, total=False):
    """Everything the conversation keeps between turns (checkpointed by thread id = conversation id)."""

    messages: Annotated[list[AnyMessage], add_messages]
    mode: HandoffMode
    turn_index: int
    # The customer's message for this turn, as sent (never stored: receive masks it at once).
    text: str
    client_message_id: str
    conversation_id: str
    # Who the customer is verified as ({"customer_id", "method"}) when verified in the chat, not by the widget.
    identity: dict[str, Any]
    verify_attempts: int
    # Tool runs this conversation has made (its budget: Toolbox.call_budget).
    tool_runs: int
    # A write the agent stated and that waits for the customer's yes (PendingAction dump), or {}.
    pending_action: dict[str, Any]
    # The tool request a clarifying question was asked for ({"tool", "slots"}), or {}.
    awaiting: dict[str, Any]
    # Email addresses of this turn's raw message, for identity checks; cleared before the turn ends.
    contact: dict[str, Any]
    # Idempotency: the result of each of the last client message ids.
    results: dict[str, dict[str, Any]]
    # The current turn's work (overwritten each turn).
    question: str
    guard: dict[str, Any]
    route: dict[str, Any]
    hits: list[dict[str, Any]]
    draft: dict[str, Any]
    confidence: dict[str, Any]
    action: dict[str, Any]
    decision: dict[str, Any]
    result: dict[str, Any]
    timings: Annotated[dict[str, float], merge_timings]
    error: dict[str, Any]
