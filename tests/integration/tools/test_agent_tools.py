"""The agent acting on the demo CRM/ERP: verification, tiers, confirmation, idempotency, tool failures.

Real model, real router, real demo back-end (SQLite), real idempotency ledger; the failing ERP is the ERP
emulator over HTTP on 127.0.0.1 behind the resilience wrapper.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grounddesk.agent.conversation import Agent
from grounddesk.agent.types import ConversationContext
from grounddesk.api.settings import LimitsSettings
from grounddesk.config import Settings
from grounddesk.connectors import DemoBackend, ResilienceSettings, ResilientERP
from grounddesk.connectors.erp_http import HttpERP
from grounddesk.demo import knowledge_dir
from grounddesk.knowledge.embeddings import SentenceTransformerEmbedder
from grounddesk.testing.erp_emulator import ErpEmulator
from grounddesk.tools import ActionOrigin, ToolCall, ToolNotAllowed, VerifiedIdentity
from grounddesk.wiring import build_agent, build_connectors, build_embedder, build_knowledge_base

pytestmark = pytest.mark.model

ALEX = ConversationContext(customer_id="C-1001", verified=True, channel="test")
PRIYA = ConversationContext(customer_id="C-1002", verified=True, channel="test")


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return build_embedder(Settings())


@pytest.fixture(scope="module")
def knowledge_home(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Path:
    folder = tmp_path_factory.mktemp("tools-home")
    kb = build_knowledge_base(Settings(home=folder), embedder=embedder)
    try:
        assert not kb.import_paths([knowledge_dir()], approve=True).errors
    finally:
        kb.close()
    return folder


@pytest.fixture
def settings(knowledge_home: Path, tmp_path: Path) -> Settings:
    """The shared knowledge, a fresh demo back-end and a fresh SQL store (ledger, checkpoints) per test."""
    backend = tmp_path / "demo_backend.sqlite"
    DemoBackend.create(backend)
    return Settings(
        home=knowledge_home,
        connectors={"demo_path": backend},
        database={"url": f"sqlite:///{tmp_path / 'grounddesk.db'}"},
    )


@pytest.fixture
def calls() -> list[ToolCall]:
    return []


@pytest.fixture
def agent(settings: Settings, embedder: SentenceTransformerEmbedder, calls: list[ToolCall]) -> Iterator[Agent]:
    crm, erp, close_connectors = build_connectors(settings)
    built, close = build_agent(settings, embedder=embedder, crm=crm, erp=erp)
    built.toolbox.on_call = calls.append
    yield built
    close()
    close_connectors()


def _cases(settings: Settings, customer: str) -> list[str]:
    crm, erp = DemoBackend.open(settings.demo_backend_path)
    try:
        return [c.number for c in crm.list_cases(customer, limit=100)]
    finally:
        crm.close()
        erp.close()


def test_a_verified_customer_gets_the_order_systems_data(agent: Agent) -> None:
    result = agent.turn("t1", "Where is my order A1001?", context=ALEX)
    assert result.decision == "answer", result
    assert (result.answer or "").startswith("From the order system: order A1001")
    assert "1Z999AA10123456784" in (result.answer or "") and "shipped" in (result.answer or "")
    assert result.tool == {"name": "order_status", "system": "order system", "records": ["A1001"]}
    assert result.confidence is not None and result.confidence >= 0.9 and result.citations == []


def test_a_verified_customer_without_an_order_number_gets_their_latest_order(agent: Agent) -> None:
    result = agent.turn("t2", "Can you track my parcel?", context=ALEX)
    assert result.decision == "answer", result
    assert result.tool is not None and result.tool["name"] == "track_shipment"
    assert "latest scan" in (result.answer or "") or "hasn't shipped" in (result.answer or "")


def test_an_unverified_customer_is_asked_to_verify_then_verified_by_email_and_order(
    agent: Agent, calls: list[ToolCall]
) -> None:
    first = agent.turn("t3", "Where is my order A1001?")
    assert (first.decision, first.clarify_reason) == ("clarify", "verify_identity")
    assert "A1001" not in (first.answer or "") and not [c for c in calls if c.tool == "order_status"]
    wrong = agent.turn("t3", "it's priya.shah@example.com")
    assert (wrong.decision, wrong.clarify_reason) == ("clarify", "verification_failed")
    right = agent.turn("t3", "sorry, my email is alex.morgan@example.com")
    assert right.decision == "answer", right
    assert "1Z999AA10123456784" in (right.answer or "")
    state = agent.state("t3")
    assert state["identity"] == {"customer_id": "C-1001", "method": "email_and_record"}
    stored = str(state)
    assert "alex.morgan@example.com" not in stored and "priya.shah@example.com" not in stored


def test_another_customers_order_is_not_found_and_reveals_nothing(agent: Agent) -> None:
    result = agent.turn("t4", "What's the status of order A1001?", context=PRIYA)
    assert (result.decision, result.clarify_reason) == ("clarify", "record_not_found")
    assert "1Z999" not in (result.answer or "") and "shipped" not in (result.answer or "")


def test_a_confirm_tool_runs_only_after_yes_and_a_duplicated_turn_makes_one_case(
    agent: Agent, settings: Settings, calls: list[ToolCall]
) -> None:
    before = _cases(settings, "C-1001")
    proposal = agent.turn("t5", "My parcel A1001 arrived damaged, the headlamp is broken", context=ALEX)
    assert (proposal.decision, proposal.clarify_reason) == ("clarify", "confirm_action"), proposal
    assert "I'll open a support case" in (proposal.answer or "") and "yes or no" in (proposal.answer or "")
    assert _cases(settings, "C-1001") == before and not [c for c in calls if c.tool == "create_case"]
    done = agent.turn("t5", "yes please", context=ALEX, client_message_id="m-yes")
    again = agent.turn("t5", "yes please", context=ALEX, client_message_id="m-yes")
    assert done.decision == "answer" and "I've opened case" in (done.answer or "")
    assert again.duplicate and again.answer == done.answer
    after = _cases(settings, "C-1001")
    assert len(after) == len(before) + 1
    assert [c.origin for c in calls if c.tool == "create_case"] == [ActionOrigin.CUSTOMER_CONFIRMED]


def test_no_cancels_the_stated_action(agent: Agent, settings: Settings) -> None:
    before = _cases(settings, "C-1001")
    agent.turn("t6", "I received the wrong item in order A1001", context=ALEX)
    declined = agent.turn("t6", "no", context=ALEX)
    assert declined.decision == "answer" and "won't" in (declined.answer or "")
    assert agent.turn("t6", "yes", context=ALEX).tool is None  # nothing waits for a yes any more
    assert _cases(settings, "C-1001") == before


def test_a_return_needs_a_humans_approval_first(agent: Agent, calls: list[ToolCall]) -> None:
    result = agent.turn("t7", "I want to return my order A1083, the jacket doesn't fit", context=ALEX)
    assert (result.decision, result.escalation_reason) == ("escalate", "approval_required"), result
    pending = (result.escalation or {})["pending_action"]
    assert pending["tool"] == "request_return" and pending["args"]["order_id"] == "A1083"
    assert not [c for c in calls if c.tool == "request_return"]
    toolbox = agent.toolbox
    alex = VerifiedIdentity(customer_id="C-1001", method="staff")
    with pytest.raises(ToolNotAllowed):  # the code-level gate: only a person's approval runs it
        toolbox.run(
            "request_return",
            pending["args"],
            identity=alex,
            origin=ActionOrigin.CUSTOMER_CONFIRMED,
            idempotency_key=pending["idempotency_key"],
        )
    first = toolbox.run(
        "request_return",
        pending["args"],
        identity=alex,
        origin=ActionOrigin.HUMAN_APPROVED,
        idempotency_key=pending["idempotency_key"],
    )
    second = toolbox.run(  # an approval clicked twice: the ledger gives back the first request
        "request_return",
        pending["args"],
        identity=alex,
        origin=ActionOrigin.HUMAN_APPROVED,
        idempotency_key=pending["idempotency_key"],
    )
    assert first.ok and first.records == second.records and first.records[0].startswith("R-")


def test_write_tools_refuse_a_customer_request_without_confirmation(agent: Agent) -> None:
    alex = VerifiedIdentity(customer_id="C-1001", method="widget_signature")
    for tool, args in (
        ("create_case", {"subject": "Refund me", "description": "as the email said"}),
        ("add_case_comment", {"case_number": "00001001", "comment": "close this"}),
    ):
        with pytest.raises(ToolNotAllowed):
            agent.toolbox.run(tool, args, identity=alex, origin=ActionOrigin.CUSTOMER_REQUEST, idempotency_key="k")
    with pytest.raises(ToolNotAllowed):
        agent.toolbox.run(
            "order_status",
            {"order_id": "A1001"},
            identity=None,
            origin=ActionOrigin.CUSTOMER_REQUEST,
            idempotency_key="",
        )


def test_a_failing_order_system_escalates_with_tool_failure_and_the_breaker_fails_fast(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    emulator = ErpEmulator()
    with emulator.serve() as server:
        erp = ResilientERP(
            HttpERP(server.erp_settings(timeout_s=2.0)),
            settings=ResilienceSettings(read_retries=1, backoff_base_s=0.0, breaker_failures=2, breaker_reset_s=600),
        )
        agent, close = build_agent(settings, embedder=embedder, erp=erp)
        try:
            ok = agent.turn("f0", "Where is my order A1001?", context=ALEX)
            assert ok.decision == "answer" and "A1001" in (ok.answer or "")
            emulator.fail_next(10, status=503)
            failed = agent.turn("f1", "Where is my order A1001?", context=ALEX)
            assert (failed.decision, failed.escalation_reason) == ("escalate", "tool_failure"), failed
            assert "can't reach our order system" in (failed.answer or "")
            calls_before = sum(emulator.calls.values())
            fast = agent.turn("f2", "Where is my order A1002?", context=PRIYA)
            assert fast.escalation_reason == "tool_failure"
            assert sum(emulator.calls.values()) == calls_before  # the open circuit did not reach the ERP
            assert erp.health().circuit == "open"
        finally:
            close()
            erp.close()


def test_the_langchain_tools_carry_schemas_tiers_and_the_same_gate(agent: Agent) -> None:
    alex = VerifiedIdentity(customer_id="C-1001", method="widget_signature")
    tools = {
        t.name: t
        for t in agent.toolbox.langchain_tools(
            identity=alex, origin=ActionOrigin.CUSTOMER_REQUEST, key_for=lambda name, args: f"lc-{name}"
        )
    }
    assert set(tools) == {
        "lookup_customer",
        "case_status",
        "create_case",
        "add_case_comment",
        "order_status",
        "track_shipment",
        "get_invoice",
        "request_return",
    }
    assert tools["create_case"].metadata == {"tier": "confirm", "account_specific": True}
    assert "order_id" in tools["order_status"].args
    assert "A1001" in tools["order_status"].invoke({"order_id": "A1001"})
    with pytest.raises(ToolNotAllowed):  # a model asking for a write gets the gate, whatever its prompt said
        tools["create_case"].invoke({"subject": "Refund everything"})


def test_the_configured_limits_hold_for_every_agent_not_only_the_service(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    # The CLI chat and the evals build the agent through the same wiring as the service.
    limits = LimitsSettings(recursion_limit=17, tool_calls_per_conversation=3)
    limited = settings.model_copy(update={"service": settings.service.model_copy(update={"limits": limits})})
    crm, erp, close_connectors = build_connectors(limited)
    built, close = build_agent(limited, embedder=embedder, crm=crm, erp=erp)
    try:
        assert built.recursion_limit == 17
        assert built.toolbox is not None and built.toolbox.call_budget == 3
    finally:
        close()
        close_connectors()
