from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from grounddesk.agent.guard.topics import TopicPolicy
from grounddesk.agent.nodes import decide
from grounddesk.escalation import (
    BusinessHours,
    ContactDetails,
    EscalationSettings,
    Priority,
    Ticket,
    TicketStatus,
    agents_available,
    next_business_opening,
    priority_for,
    priority_rank,
    should_offer_contact,
    sla_due,
    within_business_hours,
)

# Friday 20 November 2026, 12:00 UTC (the seed data's "now").
FRIDAY_NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _agent_reasons() -> set[str]:
    """Every escalation reason the agent can emit: decide.py's literals and the packaged topic policy."""
    source = inspect.getsource(decide)
    literal = set(re.findall(r'"escalate", "([a-z_]+)"', source))
    literal |= set(re.findall(r"error_code in \(([^)]*)\)", source)[0].replace('"', "").replace(" ", "").split(","))
    topics = {rule.reason or rule.name for rule in TopicPolicy.load(None).policy.topics if rule.action == "escalate"}
    return literal | topics


def test_every_reason_the_agent_emits_has_an_explicit_priority() -> None:
    reasons = _agent_reasons()
    # The extraction itself must find the known ones, or the check below proves nothing.
    assert {"customer_requested_human", "low_confidence", "out_of_scope", "self_harm", "fraud_or_security"} <= reasons
    assert {"knowledge_unavailable", "llm_unavailable", "needs_account_access", "no_answer_in_knowledge"} <= reasons
    missing = reasons - set(EscalationSettings().reason_priorities)
    assert missing == set()


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("self_harm", Priority.URGENT),
        ("fraud_or_security", Priority.URGENT),
        ("legal_threat", Priority.URGENT),
        ("sensitive_topic", Priority.URGENT),
        ("vulnerable_customer", Priority.HIGH),
        ("complaint", Priority.HIGH),
        ("customer_requested_human", Priority.NORMAL),
        ("needs_account_access", Priority.NORMAL),
        ("tool_failure", Priority.NORMAL),
        ("low_confidence", Priority.NORMAL),
        ("out_of_scope", Priority.LOW),
        ("no_answer_in_knowledge", Priority.LOW),
        ("something_new", Priority.NORMAL),
        (None, Priority.NORMAL),
    ],
)
def test_base_priority_from_the_reason(reason: str | None, expected: Priority) -> None:
    assert priority_for(reason, None) is expected


@pytest.mark.parametrize(
    ("reason", "tier", "expected"),
    [
        ("out_of_scope", "premium", Priority.NORMAL),
        ("out_of_scope", "Enterprise", Priority.HIGH),
        ("low_confidence", "premium", Priority.HIGH),
        ("low_confidence", "enterprise", Priority.URGENT),
        ("complaint", "enterprise", Priority.URGENT),  # capped at urgent
        ("self_harm", "premium", Priority.URGENT),
        ("low_confidence", "standard", Priority.NORMAL),
        ("low_confidence", None, Priority.NORMAL),
    ],
)
def test_tier_raises_the_priority(reason: str, tier: str | None, expected: Priority) -> None:
    assert priority_for(reason, tier) is expected


def test_custom_reason_table_and_default() -> None:
    settings = EscalationSettings(reason_priorities={"refund_dispute": Priority.HIGH}, default_priority=Priority.LOW)
    assert priority_for("refund_dispute", None, settings) is Priority.HIGH
    assert priority_for("self_harm", None, settings) is Priority.LOW  # the table was replaced


def test_priority_rank_orders_most_urgent_first() -> None:
    ranked = sorted(Priority, key=priority_rank)
    assert ranked == [Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW]


@pytest.mark.parametrize(
    ("priority", "minutes"),
    [(Priority.URGENT, 15), (Priority.HIGH, 60), (Priority.NORMAL, 240), (Priority.LOW, 1440)],
)
def test_sla_due_per_priority(priority: Priority, minutes: int) -> None:
    due = sla_due(FRIDAY_NOON, priority)
    assert due == FRIDAY_NOON + timedelta(minutes=minutes)
    assert due.tzinfo is UTC


def test_sla_due_is_utc_whatever_the_input_zone() -> None:
    settings = EscalationSettings(
        sla_minutes={Priority.URGENT: 5, Priority.HIGH: 30, Priority.NORMAL: 120, Priority.LOW: 600}
    )
    local = FRIDAY_NOON.astimezone(BusinessHours(timezone="America/New_York").zone)
    assert sla_due(local, Priority.URGENT, settings) == datetime(2026, 11, 20, 12, 5, tzinfo=UTC)


def test_business_hours_in_the_configured_zone() -> None:
    london = BusinessHours(timezone="Europe/London", start=time(9), end=time(17))
    new_york = BusinessHours(timezone="America/New_York", start=time(9), end=time(17))
    assert within_business_hours(FRIDAY_NOON, london)  # 12:00 in London
    assert not within_business_hours(FRIDAY_NOON, new_york)  # 07:00 in New York
    assert not within_business_hours(datetime(2026, 11, 20, 13, 59, tzinfo=UTC), new_york)  # 08:59 EST
    assert within_business_hours(datetime(2026, 11, 20, 14, 0, tzinfo=UTC), new_york)  # 09:00 EST
    assert not within_business_hours(datetime(2026, 11, 20, 17, 0, tzinfo=UTC), london)  # end is exclusive
    # British Summer Time: 08:30 UTC is 09:30 in London in July.
    assert within_business_hours(datetime(2026, 7, 1, 8, 30, tzinfo=UTC), london)
    assert not within_business_hours(datetime(2026, 11, 21, 12, 0, tzinfo=UTC), london)  # Saturday
    assert within_business_hours(datetime(2026, 11, 21, 12, 0, tzinfo=UTC), None)  # around the clock


def test_next_business_opening_skips_the_weekend() -> None:
    hours = BusinessHours(timezone="Europe/London")
    friday_evening = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    assert next_business_opening(friday_evening, hours) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    early_monday = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert next_business_opening(early_monday, hours) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert next_business_opening(FRIDAY_NOON, hours) == FRIDAY_NOON
    assert next_business_opening(friday_evening, None) == friday_evening


def test_agents_available_needs_hours_and_someone_online() -> None:
    settings = EscalationSettings(business_hours=BusinessHours(timezone="UTC"))
    assert agents_available(FRIDAY_NOON, settings, online_agents=2)
    assert not agents_available(FRIDAY_NOON, settings, online_agents=0)
    assert not agents_available(datetime(2026, 11, 20, 20, 0, tzinfo=UTC), settings, online_agents=2)
    always = EscalationSettings(business_hours=None)
    assert agents_available(datetime(2026, 11, 22, 3, 0, tzinfo=UTC), always, online_agents=1)


def _ticket(**changes: object) -> Ticket:
    values: dict[str, object] = {
        "id": "00000000-0000-4000-8000-000000000001",
        "conversation_id": "conv-1",
        "reason": "customer_requested_human",
        "priority": Priority.NORMAL,
        "status": TicketStatus.OPEN,
        "created_at": FRIDAY_NOON,
        "updated_at": FRIDAY_NOON,
        "sla_due_at": FRIDAY_NOON + timedelta(hours=4),
    }
    return Ticket.model_validate({**values, **changes})


def test_offer_contact_when_nobody_is_available_or_nobody_claims() -> None:
    settings = EscalationSettings(business_hours=BusinessHours(timezone="UTC"), unclaimed_after_minutes=10)
    ticket = _ticket()
    assert not should_offer_contact(ticket, FRIDAY_NOON + timedelta(minutes=9), settings, online_agents=3)
    assert should_offer_contact(ticket, FRIDAY_NOON + timedelta(minutes=10), settings, online_agents=3)
    assert should_offer_contact(ticket, FRIDAY_NOON, settings, online_agents=0)
    evening = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)
    assert should_offer_contact(_ticket(created_at=evening), evening, settings, online_agents=3)
    claimed = _ticket(status=TicketStatus.ASSIGNED, assignee="kim")
    assert not should_offer_contact(claimed, FRIDAY_NOON + timedelta(hours=1), settings, online_agents=0)
    left = _ticket(contact=ContactDetails(email="alex.morgan@example.com"))
    assert not should_offer_contact(left, FRIDAY_NOON + timedelta(hours=1), settings, online_agents=0)


def test_settings_reject_bad_values() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        BusinessHours(timezone="Mars/Olympus_Mons")
    with pytest.raises(ValidationError, match="end after"):
        BusinessHours(start=time(17), end=time(9))
    with pytest.raises(ValidationError, match="weekdays"):
        BusinessHours(weekdays=[7])
    with pytest.raises(ValidationError, match="missing"):
        EscalationSettings(sla_minutes={Priority.URGENT: 15})
    with pytest.raises(ValidationError, match="positive"):
        EscalationSettings(
            sla_minutes={Priority.URGENT: 0, Priority.HIGH: 60, Priority.NORMAL: 240, Priority.LOW: 1440}
        )


def test_settings_load_from_plain_values() -> None:
    settings = EscalationSettings.model_validate(
        {
            "sla_minutes": {"urgent": 10, "high": 30, "normal": 120, "low": 480},
            "business_hours": {"timezone": "Europe/Paris", "weekdays": [0, 1, 2, 3, 4, 5], "start": "08:00"},
            "no_agent_message": "Leave us your email.",
        }
    )
    assert settings.sla_minutes[Priority.URGENT] == 10
    assert settings.business_hours is not None
    assert settings.business_hours.start == time(8)
    assert within_business_hours(datetime(2026, 11, 21, 8, 0, tzinfo=UTC), settings.business_hours)  # Sat 09:00
    assert settings.no_agent_message == "Leave us your email."
