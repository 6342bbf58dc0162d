"""The tool budget per conversation: spent by every tool run, kept in the checkpoint, then a handoff."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_stack import ALEX, FixedRoute, agent_on_demo

from grounddesk.agent.types import Route
from grounddesk.connectors import DemoBackend
from grounddesk.escalation import Priority, priority_for
from grounddesk.tools import (
    ActionOrigin,
    CallBudget,
    Toolbox,
    ToolBudgetExhausted,
    ToolNotAllowed,
    VerifiedIdentity,
    support_tools,
)

ORDER_STATUS = Route(intent="order_status", score=0.95, mode="tool", tool="order_status", slots={"order_id": "A1001"})


def test_the_conversation_escalates_once_its_tool_runs_are_spent(tmp_path: Path) -> None:
    with agent_on_demo(tmp_path, FixedRoute(ORDER_STATUS), call_budget=2) as stack:
        first = stack.agent.turn("c1", "Where is my order A1001?", context=ALEX)
        second = stack.agent.turn("c1", "And now, where is A1001?", context=ALEX)
        third = stack.agent.turn("c1", "Where is A1001 now?", context=ALEX)
        other = stack.agent.turn("c2", "Where is my order A1001?", context=ALEX)

        assert [first.decision, second.decision] == ["answer", "answer"]
        assert (first.tool or {}).get("name") == "order_status"
        assert third.decision == "escalate" and third.escalation_reason == "tool_budget_exhausted"
        assert third.escalation is not None and third.escalation["reason"] == "tool_budget_exhausted"
        assert stack.agent.state("c1").get("tool_runs") == 2
        assert other.decision == "answer"  # the budget is per conversation
        assert [c.tool for c in stack.calls] == ["order_status"] * 3  # the third turn of c1 ran nothing


def test_the_budget_survives_a_restart_because_it_lives_in_the_checkpoint(tmp_path: Path) -> None:
    with agent_on_demo(tmp_path, FixedRoute(ORDER_STATUS), call_budget=3) as before:
        for text in ("Where is A1001?", "Where is A1001 now?"):
            assert before.agent.turn("c1", text, context=ALEX).decision == "answer"
    with agent_on_demo(tmp_path, FixedRoute(ORDER_STATUS), call_budget=3) as after:  # a new process, same store
        third = after.agent.turn("c1", "And now?", context=ALEX)
        fourth = after.agent.turn("c1", "And now?!", context=ALEX)
        assert third.decision == "answer"
        assert fourth.decision == "escalate" and fourth.escalation_reason == "tool_budget_exhausted"
        assert len(after.calls) == 1


def test_a_confirmed_write_spends_the_budget_too_and_is_refused_when_it_is_spent(tmp_path: Path) -> None:
    report = Route(intent="report_problem", score=0.95, mode="tool", tool="create_case", slots={})
    with agent_on_demo(tmp_path, FixedRoute(report), call_budget=1) as stack:
        cases = stack.cases()
        stated = stack.agent.turn("c1", "My tent pole snapped on the first night.", context=ALEX)
        assert stated.decision == "clarify" and stated.clarify_reason == "confirm_action"  # stating spends nothing
        done = stack.agent.turn("c1", "yes", context=ALEX)
        assert done.decision == "answer" and len(stack.cases()) == len(cases) + 1
        again = stack.agent.turn("c1", "The other pole snapped too.", context=ALEX)
        refused = stack.agent.turn("c1", "yes", context=ALEX)
        assert again.clarify_reason == "confirm_action"
        assert refused.decision == "escalate" and refused.escalation_reason == "tool_budget_exhausted"
        assert len(stack.cases()) == len(cases) + 1  # the second case was never opened
        assert stack.agent.state("c1").get("pending_action") in ({}, None)


def test_the_toolbox_checks_the_budget_before_it_runs_anything(tmp_path: Path) -> None:
    backend = tmp_path / "demo_backend.sqlite"
    DemoBackend.create(backend)
    crm, erp = DemoBackend.open(backend)
    ran: list[str] = []
    try:
        box = Toolbox(support_tools(crm, erp), on_call=lambda call: ran.append(call.tool), call_budget=1)
        alex = VerifiedIdentity(customer_id="C-1001", method="test")
        budget = box.budget(used=0)
        args = {"order_id": "A1001"}
        box.run(
            "order_status", args, identity=alex, origin=ActionOrigin.CUSTOMER_REQUEST, idempotency_key="", budget=budget
        )
        with pytest.raises(ToolBudgetExhausted) as caught:
            box.run(
                "order_status",
                args,
                identity=alex,
                origin=ActionOrigin.CUSTOMER_REQUEST,
                idempotency_key="",
                budget=budget,
            )
        # Still a ToolNotAllowed: whoever guards against the tier gate guards against this too.
        assert isinstance(caught.value, ToolNotAllowed)
        assert caught.value.to_dict()["code"] == "tool_budget_exhausted" and caught.value.fields["limit"] == 1
        assert ran == ["order_status"] and budget.used == 1
        # Without a budget object (a person's approved action, the CLI) nothing is counted.
        box.run("order_status", args, identity=alex, origin=ActionOrigin.CUSTOMER_REQUEST, idempotency_key="")
        assert ran == ["order_status", "order_status"]
    finally:
        crm.close()
        erp.close()


def test_an_unlimited_budget_never_refuses() -> None:
    budget = CallBudget(limit=None)
    for _ in range(1000):
        budget.spend("order_status")
    assert budget.used == 1000


def test_the_new_reasons_have_priorities_in_the_queue() -> None:
    assert priority_for("tool_budget_exhausted", None) is Priority.NORMAL
    assert priority_for("canary_leak", None) is Priority.HIGH
