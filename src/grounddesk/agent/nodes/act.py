"""act: run the tool an intent maps to, after verifying the customer, and turn its result into the reply.

Rules, in code and not in any prompt:

* Account-specific tools need a verified customer: the widget's signed identity (``ConversationContext``), or
  the playbook's check that the email address the customer gives owns the order or case they name. Without
  one the agent asks to verify; after three failed checks it escalates ``verification_failed``.
* ``read`` tools run at once. ``confirm`` tools are stated exactly ("I'll open a case ...") and run only when
  the customer's next message is a yes. ``approve`` tools go to the human queue (``approval_required``) with
  the action attached for a person to approve.
* The tool and its arguments come only from the router's reading of the customer's own message (understand
  runs before anything is retrieved), and the yes only from the customer's next message. Retrieved text and
  tool output never reach this decision, so instructions inside them cannot start a write.
* A failing back-end or an open circuit: say so and escalate ``tool_failure``. Never guess.
* Every tool run spends the conversation's budget (``tool_runs`` in the checkpointed state, limit
  ``Toolbox.call_budget``); once it is spent the agent escalates ``tool_budget_exhausted`` instead of running more.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime

from grounddesk.agent.deps import AgentDeps
from grounddesk.agent.nodes._timing import timed
from grounddesk.agent.state import AgentState
from grounddesk.agent.types import ConversationContext
from grounddesk.connectors.types import CaseStatus, ConnectorError
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.tools.toolbox import Toolbox, action_key
from grounddesk.tools.types import (
    ActionOrigin,
    CallBudget,
    PendingAction,
    ToolBudgetExhausted,
    ToolOutcome,
    ToolTier,
    VerifiedIdentity,
)

__all__ = ["confirmation_answer", "make_act"]

logger = logging.getLogger(__name__)

_YES = re.compile(
    r"^\W*(?:yes|yep|yeah|yup|sure|ok(?:ay)?|please do|please go ahead|go ahead|do it|confirm(?:ed)?|correct|"
    r"that'?s right|y)\b(?!\s+(?:but|wait))",
    re.IGNORECASE,
)
_NO = re.compile(r"^\W*(?:no|nope|nah|don'?t|do not|cancel|stop|never ?mind|not now|n)\b", re.IGNORECASE)
_MAX_CONFIRM_WORDS = 8
_MAX_VERIFY_ATTEMPTS = 3
_TOOL_CONFIDENCE = 0.95


def confirmation_answer(text: str) -> str | None:
    """``"yes"`` or ``"no"`` when a short message answers a yes/no question, else None."""
    if len(text.split()) > _MAX_CONFIRM_WORDS:
        return None
    if _NO.search(text):
        return "no"
    if _YES.search(text):
        return "yes"
    return None


def _outcome_update(kind: str, reason: str | None, text: str, **extra: Any) -> dict[str, Any]:
    return {"action": {"kind": kind, "reason": reason, "text": text, **extra}}


def _identity(state: AgentState, context: ConversationContext) -> VerifiedIdentity | None:
    if context.verified and context.customer_id:
        return VerifiedIdentity(customer_id=context.customer_id, method="widget_signature")
    stored = state.get("identity") or {}
    if stored.get("customer_id"):
        return VerifiedIdentity.model_validate(stored)
    return None


def make_act(deps: AgentDeps) -> Callable[[AgentState, Runtime[ConversationContext]], dict[str, Any]]:
    """The act node (only reached for tool intents and answers to a pending confirmation)."""

    @timed("act", compute=False)  # tool calls wait on back-ends
    def act(state: AgentState, runtime: Runtime[ConversationContext]) -> dict[str, Any]:
        toolbox = deps.toolbox
        route = state.get("route") or {}
        context = runtime.context or ConversationContext()
        if toolbox is None:  # no back-ends configured: decide asks for the slot, then escalates for a person
            return {}
        if route.get("mode") != "confirm" and route.get("tool") not in toolbox:
            return _outcome_update("escalate", "needs_account_access", deps.settings.handoff_message)
        identity = _identity(state, context)
        budget = toolbox.budget(int(state.get("tool_runs") or 0))
        update = _run(state, deps, toolbox, identity, route, budget)
        update["tool_runs"] = budget.used  # kept in the checkpoint: the budget is per conversation
        return update

    return act


def _run(
    state: AgentState,
    deps: AgentDeps,
    toolbox: Toolbox,
    identity: VerifiedIdentity | None,
    route: dict[str, Any],
    budget: CallBudget,
) -> dict[str, Any]:
    """The turn's tool work, with every failure turned into the reply the customer gets."""
    try:
        if route.get("mode") == "confirm":
            return _confirmed(state, toolbox, identity, route, budget)
        return _tool_turn(state, deps, toolbox, identity, route, budget)
    except ToolBudgetExhausted:
        logger.warning("tool budget exhausted", extra={"tool": route.get("tool"), "limit": budget.limit})
        update = _outcome_update("escalate", "tool_budget_exhausted", deps.settings.handoff_message)
        update["pending_action"] = {}
        update["awaiting"] = {}
        return update
    except ConnectorError as exc:
        logger.warning("tool failed", extra={"tool": route.get("tool"), "code": str(exc.code)})
        tool = toolbox.get(str(route.get("tool") or (state.get("pending_action") or {}).get("tool")))
        if exc.code in (ErrorCode.CONNECTOR_VALIDATION, ErrorCode.RECORD_NOT_FOUND):
            # The system answered and refused (an order still in transit cannot be returned): say why.
            update = _outcome_update(
                "clarify", "action_rejected", f"The {tool.system} didn't accept that: {exc.detail}", tool=tool.name
            )
            update["pending_action"] = {}
            return update
        text = (
            f"I can't reach our {tool.system} right now, so I can't check that for you without guessing. "
            "I'm passing your question to a colleague, who will reply here."
        )
        update = _outcome_update("escalate", "tool_failure", text, tool=tool.name, error=exc.to_dict())
        update["pending_action"] = {}
        return update


def _confirmed(
    state: AgentState, toolbox: Toolbox, identity: VerifiedIdentity | None, route: dict[str, Any], budget: CallBudget
) -> dict[str, Any]:
    pending = PendingAction.model_validate(state.get("pending_action") or {})
    if (route.get("slots") or {}).get("answer") != "yes":
        update = _outcome_update("answer", "action_declined", "Okay, I won't do that. Is there anything else I can do?")
        update["pending_action"] = {}
        return update
    if identity is None or identity.customer_id != pending.customer_id:
        update = _outcome_update("escalate", "verification_failed", "")
        update["pending_action"] = {}
        return update
    outcome = toolbox.run(
        pending.tool,
        pending.args,
        identity=identity,
        origin=ActionOrigin.CUSTOMER_CONFIRMED,  # the customer's own yes to the stated action
        idempotency_key=pending.idempotency_key,
        budget=budget,
    )
    update = _answer(outcome)
    update["pending_action"] = {}
    return update


def _answer(outcome: ToolOutcome) -> dict[str, Any]:
    if not outcome.ok:
        return _outcome_update("clarify", outcome.error_code or "record_not_found", outcome.text, tool=outcome.tool)
    return _outcome_update(
        "answer",
        None,
        outcome.text,
        tool=outcome.tool,
        system=outcome.system,
        records=outcome.records,
        confidence=_TOOL_CONFIDENCE,
        reasons=[f"read live from the {outcome.system}" if not outcome.wrote else f"done in the {outcome.system}"],
        data=outcome.data,
    )


def _tool_turn(
    state: AgentState,
    deps: AgentDeps,
    toolbox: Toolbox,
    identity: VerifiedIdentity | None,
    route: dict[str, Any],
    budget: CallBudget,
) -> dict[str, Any]:
    name = str(route["tool"])
    tool = toolbox.get(name)
    slots: dict[str, str] = dict(route.get("slots") or {})
    update: dict[str, Any] = {}
    if tool.account_specific and identity is None:
        verified = _verify(state, deps, toolbox, slots, budget)
        if isinstance(verified, dict):
            return {**verified, "awaiting": {"tool": name, "slots": slots}}
        identity = verified
        update["identity"] = identity.model_dump()
    assert identity is not None or not tool.account_specific
    _fill_from_account(deps, name, slots, identity)
    args, missing = _arguments(name, slots, state)
    if missing:
        question = deps.slot_questions.get(missing, f"Could you tell me your {missing.replace('_', ' ')}?")
        return {
            **update,
            **_outcome_update("clarify", "missing_slot", question),
            "awaiting": {"tool": name, "slots": slots},
        }
    key = action_key(
        str(state.get("conversation_id") or ""),
        str(state.get("client_message_id") or state.get("turn_index") or ""),
        name,
        args,
    )
    update["awaiting"] = {}
    if tool.tier is ToolTier.READ:
        outcome = toolbox.run(
            name, args, identity=identity, origin=ActionOrigin.CUSTOMER_REQUEST, idempotency_key=key, budget=budget
        )
        return {**update, **_answer(outcome)}
    toolbox.validate(name, args)
    pending = PendingAction(
        tool=name,
        tier=tool.tier,
        args=args,
        summary=_summary(name, args),
        idempotency_key=key,
        customer_id=identity.customer_id if identity else "",
        conversation_id=str(state.get("conversation_id") or ""),
        turn_index=int(state.get("turn_index") or 0),
    )
    update["pending_action"] = pending.model_dump(mode="json")
    if tool.tier is ToolTier.CONFIRM:
        text = f"{pending.summary} Shall I go ahead? Please reply yes or no."
        return {**update, **_outcome_update("clarify", "confirm_action", text, tool=name)}
    text = (
        f"{pending.summary} A member of our support team needs to approve this first; "
        "they'll reply here as soon as they have looked at it."
    )
    return {**update, **_outcome_update("escalate", "approval_required", text, tool=name)}


def _verify(
    state: AgentState, deps: AgentDeps, toolbox: Toolbox, slots: dict[str, str], budget: CallBudget
) -> VerifiedIdentity | dict[str, Any]:
    """The playbook's check: the email address given owns the order or case named. Else a question."""
    emails = list((state.get("contact") or {}).get("emails") or [])
    record = slots.get("order_id") or slots.get("case_number")
    attempts = int(state.get("verify_attempts") or 0)
    ask = (
        "Before I can look at your account I need to confirm it's you. If you're signed in on our website, "
        "please chat from there; otherwise tell me the email address you use with us"
    )
    if not emails or not record:
        need = " and your order or case number" if not record else ""
        return _outcome_update("clarify", "verify_identity", f"{ask}{need}.")
    if "lookup_customer" in toolbox:
        found = toolbox.run(
            "lookup_customer",
            {"email": emails[0]},
            identity=None,
            origin=ActionOrigin.CUSTOMER_REQUEST,
            idempotency_key="",
            budget=budget,
        )
        customer_id = str(found.data.get("customer_id") or "") if found.ok else ""
        if customer_id and _owns(deps, slots, customer_id):
            return VerifiedIdentity(customer_id=customer_id, method="email_and_record")
    attempts += 1
    if attempts >= _MAX_VERIFY_ATTEMPTS:
        update = _outcome_update("escalate", "verification_failed", deps.settings.handoff_message)
    else:
        update = _outcome_update(
            "clarify",
            "verification_failed",
            f"I couldn't match that email address to {record}. Please check both and try again.",
        )
    update["verify_attempts"] = attempts
    return update


def _owns(deps: AgentDeps, slots: dict[str, str], customer_id: str) -> bool:
    try:
        if slots.get("order_id") and deps.erp is not None:
            return deps.erp.get_order(slots["order_id"]).customer_id == customer_id
        if slots.get("case_number") and deps.crm is not None:
            return deps.crm.get_case(slots["case_number"]).customer_id == customer_id
    except GrounddeskError as exc:
        if isinstance(exc, ConnectorError) and exc.code != "record_not_found":
            raise
    return False


def _fill_from_account(deps: AgentDeps, name: str, slots: dict[str, str], identity: VerifiedIdentity | None) -> None:
    """A verified customer who says "my order" means their latest order (and their latest open case)."""
    if identity is None:
        return
    order_tools = ("order_status", "track_shipment", "get_invoice", "request_return")
    if name in order_tools and not slots.get("order_id") and deps.erp is not None:
        orders = deps.erp.list_orders(identity.customer_id, limit=1)
        if orders:
            slots["order_id"] = orders[0].id
    if name in ("case_status", "add_case_comment") and not slots.get("case_number") and deps.crm is not None:
        open_states = [s for s in CaseStatus if s is not CaseStatus.CLOSED]
        cases = deps.crm.list_cases(identity.customer_id, statuses=open_states, limit=1)
        if cases:
            slots["case_number"] = cases[0].number


def _arguments(name: str, slots: dict[str, str], state: AgentState) -> tuple[dict[str, Any], str | None]:
    """The tool's arguments from the slots and the (masked) message; or the first missing slot."""
    message = str(state.get("question") or "").strip()
    order_id, case_number = slots.get("order_id"), slots.get("case_number")
    if name in ("order_status", "track_shipment", "get_invoice"):
        return ({"order_id": order_id}, None) if order_id else ({}, "order_id")
    if name == "case_status":
        return ({"case_number": case_number}, None) if case_number else ({}, "case_number")
    if name == "add_case_comment":
        if not case_number:
            return {}, "case_number"
        return {"case_number": case_number, "comment": message[:4000]}, None
    if name == "create_case":
        subject = f"Problem with order {order_id}" if order_id else "Problem reported in chat"
        args: dict[str, Any] = {"subject": subject, "description": message[:4000]}
        if order_id:
            args["order_id"] = order_id
        return args, None
    if name == "request_return":
        if not order_id:
            return {}, "order_id"
        return {"order_id": order_id, "kind": "return", "reason": message[:1000] or "Requested in chat"}, None
    return dict(slots), None


def _summary(name: str, args: dict[str, Any]) -> str:
    """Exactly what a write will do, in the words shown to the customer (and to the approving agent)."""
    if name == "create_case":
        return f"I'll open a support case “{args['subject']}” with your message as its description."
    if name == "add_case_comment":
        return f"I'll add your message as a note to case {args['case_number']}."
    if name == "request_return":
        return f"I'll request a {args['kind']} of order {args['order_id']} with your message as the reason."
    return f"I'll run {name}."
