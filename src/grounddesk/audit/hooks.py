"""Adapters that turn what components do into audit events, without those components knowing the trail.

- :func:`safe_record`: record, and log (never raise) when the trail fails: an audit outage must not break a
  customer's turn or a person's action. The failure is logged with the event kind, never with its payload.
- :func:`tool_call_recorder`: the :class:`grounddesk.tools.Toolbox` ``on_call`` hook.
- :func:`answer_payload`: the payload of an ``answer`` event from the agent's turn result.
- :func:`text_digest`: what the audit keeps of a free text a person wrote (its hash and length, not the words:
  the transcript keeps those).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from grounddesk.audit.context import current_scope
from grounddesk.audit.types import AuditKind, AuditSink

__all__ = ["answer_payload", "safe_record", "text_digest", "tool_call_recorder"]

logger = logging.getLogger(__name__)


def safe_record(
    sink: AuditSink | None,
    kind: AuditKind | str,
    payload: Mapping[str, Any],
    *,
    actor: str | None = None,
    subject: str | None = None,
    conversation_id: str | None = None,
) -> None:
    """Record an event on ``sink`` (nothing when None); a failing sink is logged, not raised."""
    if sink is None:
        return
    try:
        sink.record(kind, payload, actor=actor, subject=subject, conversation_id=conversation_id)
    except Exception:
        logger.exception("audit event not recorded", extra={"audit_kind": str(kind)})


def tool_call_recorder(sink: AuditSink) -> Callable[[Any], None]:
    """The ``Toolbox.on_call`` hook: every tool run becomes a ``tool_call`` event.

    The call's verified customer is the subject (else the scope's); the conversation comes from the scope the
    agent's turn (or the support agent's approval) opened.
    """

    def on_call(call: Any) -> None:
        scope = current_scope()
        payload = {
            "tool": call.tool,
            "tier": str(call.tier),
            "origin": str(call.origin),
            "args": dict(call.args),
            "ok": call.ok,
            "error_code": call.error_code,
        }
        safe_record(sink, AuditKind.TOOL_CALL, payload, subject=call.customer_id or scope.subject)

    return on_call


def answer_payload(result: Any, question: str | None) -> dict[str, Any]:
    """The ``answer`` event of one turn: masked question, sources with versions, confidence, decision.

    Args:
        result: The :class:`grounddesk.agent.conversation.TurnResult`.
        question: The customer's message as masked by the guard.
    """
    tool = result.tool or None
    return {
        "question": question or "",
        "decision": result.decision,
        "sources": [f"{c.doc_id}@{c.version}" for c in result.citations],
        "confidence": result.confidence,
        "reasons": list(result.reasons),
        "escalation_reason": result.escalation_reason,
        "clarify_reason": result.clarify_reason,
        "tool": {"name": tool.get("name"), "records": list(tool.get("records") or [])} if tool else None,
        "duplicate": result.duplicate,
        "answer_sha256": text_digest(result.answer)["sha256"] if result.answer else None,
    }


def text_digest(text: str | None) -> dict[str, Any]:
    """The SHA-256 and length of ``text``: proof of what was said without a second copy of it."""
    data = (text or "").encode("utf-8")
    return {"sha256": hashlib.sha256(data).hexdigest(), "chars": len(text or "")}
