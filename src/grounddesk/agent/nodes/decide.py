"""decide: answer, ask to clarify, or escalate with a reason, by explicit rules and the confidence threshold.

The rules, first match wins:

1. the customer asked for a person: escalate ``customer_requested_human``
2. a sensitive topic whose policy says escalate: escalate with the topic's reason
3. the knowledge store or the model endpoint failed: escalate ``knowledge_unavailable`` / ``llm_unavailable``;
   the model's output repeated the system prompt's canary: withhold it and escalate ``canary_leak``
4. a prompt-injection attempt: clarify ``prompt_injection`` (a refusal)
5. a tool turn (act ran): its outcome — the tool's answer, a question (verify, missing slot, confirm the action),
   or an escalation (``tool_failure``, ``approval_required``, ``verification_failed``); an intent that needs a
   person: escalate ``customer_requested_human``
6. a required slot is missing: clarify ``missing_slot`` (the playbook's question)
7. out of scope, nothing retrieved, or nothing composed: escalate ``out_of_scope`` / ``no_answer_in_knowledge``
8. confidence below ``agent.answer_threshold``: escalate ``low_confidence``
9. otherwise: answer (with the caution of a caution topic)

An intent with a fixed reply (greeting, thanks) is answered with it whenever only rules 7 and 8 (or none) say
otherwise; understand sends such turns straight here, with nothing retrieved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.state import AgentState

__all__ = ["decide_route", "make_decide", "turn_result"]

_KEEP_RESULTS = 50  # client message ids remembered per conversation for idempotency
# Escalation reasons that only say the knowledge has no good answer (rules 7 and 8).
_KNOWLEDGE_REASONS = frozenset({"out_of_scope", "no_answer_in_knowledge", "low_confidence"})


def _decision(state: AgentState, threshold: float) -> tuple[str, str | None]:
    guard = state.get("guard") or {}
    route = state.get("route") or {}
    draft = state.get("draft") or {}
    confidence = float((state.get("confidence") or {}).get("score") or 0.0)
    topics = [t for t in guard.get("topics") or [] if t.get("action") == "escalate"]
    if guard.get("wants_human"):
        return "escalate", "customer_requested_human"
    if topics:
        return "escalate", str(topics[0]["reason"])
    error_code = (state.get("error") or {}).get("code")
    if error_code in ("knowledge_unavailable", "llm_unavailable", "canary_leak"):
        return "escalate", str(error_code)
    if guard.get("injection"):
        return "clarify", "prompt_injection"
    action = state.get("action") or {}
    if action:
        return str(action["kind"]), action.get("reason")
    if route.get("mode") == "handoff":
        return "escalate", "customer_requested_human"
    if route.get("mode") == "tool":
        return ("clarify", "missing_slot") if route.get("missing_slots") else ("escalate", "needs_account_access")
    if route.get("missing_slots"):
        return "clarify", "missing_slot"
    if route.get("out_of_scope"):
        return "escalate", "out_of_scope"
    if not state.get("hits") or not draft.get("sentences"):
        return "escalate", "no_answer_in_knowledge"
    if confidence < threshold:
        return "escalate", "low_confidence"
    return "answer", None


def turn_result(state: AgentState, kind: str, reason: str | None, text: str | None) -> dict[str, Any]:
    """The turn's outcome as callers see it (``grounddesk chat --once --json``)."""
    draft = state.get("draft") or {}
    confidence = state.get("confidence") or {}
    return {
        "decision": kind,
        "answer": text,
        "citations": [
            {"n": c["n"], "doc_id": c["doc_id"], "version": c["version"], "title": c["title"]}
            for c in draft.get("citations") or []
        ]
        if kind == "answer"
        else [],
        "confidence": confidence.get("score"),
        "reasons": list(confidence.get("reasons") or []),
        "escalation_reason": reason if kind == "escalate" else None,
        "clarify_reason": reason if kind == "clarify" else None,
    }


def make_decide(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    """The decide node: also records the result for idempotent re-sends of the same client message id."""
    settings = deps.settings

    @timed("decide")
    def decide(state: AgentState) -> dict[str, Any]:
        kind, reason = _decision(state, 0.5 if settings.answer_threshold is None else settings.answer_threshold)
        route = state.get("route") or {}
        fixed = deps.fixed_replies.get(str(route.get("intent"))) if not route.get("out_of_scope") else None
        # A greeting or thanks has no question for the knowledge to answer: its low knowledge score is no reason
        # to call a person. The guard's rules (a person asked for, a sensitive topic, an injection, a failure) and
        # a tool turn still win.
        if fixed is not None and (kind != "escalate" or reason in _KNOWLEDGE_REASONS) and reason != "prompt_injection":
            result = {**turn_result(state, "answer", None, fixed), "citations": [], "reasons": ["a greeting or thanks"]}
            result["confidence"] = route.get("score")
            return _finish(state, {"decision": {"kind": "answer", "reason": "fixed_reply"}, "result": result})
        action = state.get("action") or {}
        if action and (kind, reason) == (action.get("kind"), action.get("reason")):
            return _finish(state, _action_update(state, action, settings.handoff_message))
        if kind == "answer":
            text = str((state.get("draft") or {}).get("text") or "")
            cautions = [t["caution"] for t in (state.get("guard") or {}).get("topics") or [] if t.get("caution")]
            if cautions:
                text = f"{cautions[0]}\n\n{text}"
        elif kind == "clarify":
            text = _clarify_text(state, reason, settings.clarify_message, settings.injection_message)
        else:
            text = settings.handoff_message
        result = turn_result(state, kind, reason, text)
        update: dict[str, Any] = {"decision": {"kind": kind, "reason": reason}, "result": result}
        if kind == "escalate":  # the escalate node pauses at once: the customer hears the handoff line now
            update["mode"] = "pending_human"
            update["messages"] = [AIMessage(content=text, name="bot")]
        return _finish(state, update)

    return decide


def _action_update(state: AgentState, action: dict[str, Any], handoff: str) -> dict[str, Any]:
    """The decision and result of a tool turn."""
    kind, reason = str(action["kind"]), action.get("reason")
    text = str(action.get("text") or "") or (handoff if kind == "escalate" else "")
    result = turn_result(state, kind, reason, text)
    result["confidence"] = action.get("confidence", 0.0 if kind == "escalate" else None)
    result["reasons"] = list(action.get("reasons") or [])
    if action.get("tool"):
        result["tool"] = {
            "name": action["tool"],
            "system": action.get("system"),
            "records": list(action.get("records") or []),
        }
    update: dict[str, Any] = {
        "decision": {"kind": kind, "reason": reason},
        "result": result,
        "confidence": {"score": result["confidence"] or 0.0, "raw": 0.0, "reasons": result["reasons"]},
    }
    if kind == "escalate":
        update["mode"] = "pending_human"
        update["messages"] = [AIMessage(content=text, name="bot")]
    return update


def _finish(state: AgentState, update: dict[str, Any]) -> dict[str, Any]:
    """Remember the result under the client message id, so a re-send gets it again instead of a new turn.

    The turn's email addresses (kept for identity checks only) are dropped here, before anything is stored.
    """
    update["contact"] = {}
    if not state.get("action"):
        update["awaiting"] = {}
    client_id = state.get("client_message_id")
    if client_id:
        results = dict(state.get("results") or {})
        results[client_id] = update["result"]
        update["results"] = dict(list(results.items())[-_KEEP_RESULTS:])
    return update


def _clarify_text(state: AgentState, reason: str | None, default: str, injection: str) -> str:
    if reason == "prompt_injection":
        return injection
    missing = (state.get("route") or {}).get("missing_slots") or []
    if missing:
        return f"Could you tell me your {str(missing[0]).replace('_', ' ')}?"
    return default


def decide_route(state: AgentState) -> str:
    """Where the turn goes after the decision."""
    return "escalate" if (state.get("decision") or {}).get("kind") == "escalate" else "respond"
