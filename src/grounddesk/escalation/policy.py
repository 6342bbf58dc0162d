"""When a ticket is due and who can take it: pure functions over :class:`EscalationSettings`.

- priority: the escalation reason gives a base priority, the customer's tier raises it (premium one step,
  enterprise two), never above urgent;
- SLA: the first human reply is due a fixed number of minutes after the ticket opens, per priority (wall-clock
  minutes: urgent matters do not wait for office hours);
- availability: people answer within business hours when at least one support agent is online; otherwise (or
  when nobody claims the ticket for ``unclaimed_after_minutes``) the customer is offered to leave contact details.

Example:
    >>> settings = EscalationSettings()
    >>> priority_for("low_confidence", "premium", settings)
    <Priority.HIGH: 'high'>
    >>> sla_due(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), Priority.HIGH, settings)
    datetime.datetime(2026, 11, 20, 13, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

from grounddesk.escalation.types import Priority, Ticket, TicketStatus

__all__ = [
    "DEFAULT_REASON_PRIORITIES",
    "BusinessHours",
    "EscalationSettings",
    "agents_available",
    "next_business_opening",
    "priority_for",
    "priority_rank",
    "should_offer_contact",
    "sla_due",
    "within_business_hours",
]

#: Most urgent first; the queue sorts by this order.
_ORDER: tuple[Priority, ...] = (Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW)

#: Base priority of every reason the agent emits (``agent/nodes/decide.py`` and the topics of
#: ``agent/guard/policy.yaml``), plus generic names other callers may use.
DEFAULT_REASON_PRIORITIES: dict[str, Priority] = {
    # Harm, money or the law at stake: a person now.
    "self_harm": Priority.URGENT,
    "fraud_or_security": Priority.URGENT,
    "fraud": Priority.URGENT,
    "security": Priority.URGENT,
    "legal_threat": Priority.URGENT,
    "legal": Priority.URGENT,
    "sensitive_topic": Priority.URGENT,
    # People who need care, or an unhappy customer.
    "vulnerable_customer": Priority.HIGH,
    "bereavement": Priority.HIGH,
    "complaint": Priority.HIGH,
    # Someone got the model to repeat its instructions: a person should look at the conversation soon.
    "canary_leak": Priority.HIGH,
    # Work the bot cannot do on its own.
    "customer_requested_human": Priority.NORMAL,
    "customer_request": Priority.NORMAL,
    "needs_human": Priority.NORMAL,
    "needs_account_access": Priority.NORMAL,
    "account_closure": Priority.NORMAL,
    "tool_failure": Priority.NORMAL,
    "tool_budget_exhausted": Priority.NORMAL,
    "knowledge_unavailable": Priority.NORMAL,
    "llm_unavailable": Priority.NORMAL,
    "low_confidence": Priority.NORMAL,
    # Questions the knowledge does not cover.
    "no_answer_in_knowledge": Priority.LOW,
    "out_of_scope": Priority.LOW,
}


class BusinessHours(BaseModel):
    """When support agents work: the same hours on each working day, in one time zone.

    ``end`` must be after ``start`` (shifts across midnight are not supported).
    """

    timezone: str = Field(default="UTC", description="IANA time zone name, e.g. 'Europe/London'")
    weekdays: list[int] = Field(default=[0, 1, 2, 3, 4], description="Working days, Monday = 0 ... Sunday = 6")
    start: time = time(9, 0)
    end: time = time(17, 0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(day not in range(7) for day in value):
            raise ValueError("weekdays are 0 (Monday) ... 6 (Sunday), at least one")
        return sorted(set(value))

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("business hours must end after they start")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The time zone as an object."""
        return ZoneInfo(self.timezone)


class EscalationSettings(BaseModel):
    """How the human queue prioritises tickets and when people are available.

    Example:
        >>> EscalationSettings(business_hours=None, unclaimed_after_minutes=5)  # staffed around the clock
    """

    sla_minutes: dict[Priority, int] = Field(
        default={Priority.URGENT: 15, Priority.HIGH: 60, Priority.NORMAL: 240, Priority.LOW: 1440},
        description="Minutes from opening to the first human reply, per priority",
    )
    reason_priorities: dict[str, Priority] = Field(
        default_factory=lambda: dict(DEFAULT_REASON_PRIORITIES),
        description="Base priority per escalation reason code",
    )
    default_priority: Priority = Field(default=Priority.NORMAL, description="For reasons not in the table")
    tier_boost: dict[str, int] = Field(
        default={"premium": 1, "enterprise": 2},
        description="Steps a customer tier raises the priority (tier names are matched case-insensitively)",
    )
    business_hours: BusinessHours | None = Field(
        default_factory=BusinessHours, description="None: support agents work around the clock"
    )
    unclaimed_after_minutes: int = Field(
        default=10, ge=0, description="Offer to leave contact details when nobody claimed the ticket this long"
    )
    no_agent_message: str = Field(
        default=(
            "All of our support agents are busy or offline right now. Leave your name and an email address or "
            "phone number, and we will get back to you as soon as someone is available."
        ),
        description="Shown to the customer when no person can take the conversation now",
    )

    @field_validator("sla_minutes")
    @classmethod
    def _every_priority(cls, value: dict[Priority, int]) -> dict[Priority, int]:
        missing = [p.value for p in _ORDER if p not in value]
        if missing:
            raise ValueError(f"sla_minutes needs every priority; missing {missing}")
        if any(minutes <= 0 for minutes in value.values()):
            raise ValueError("sla_minutes must be positive")
        return value


def priority_rank(priority: Priority) -> int:
    """0 for urgent ... 3 for low: the queue's sort key."""
    return _ORDER.index(priority)


def priority_for(reason: str | None, tier: str | None, settings: EscalationSettings | None = None) -> Priority:
    """The priority of a ticket from its escalation reason and the customer's tier.

    Args:
        reason: The agent's escalation reason code (unknown or None: ``settings.default_priority``).
        tier: The customer's tier (``premium`` raises one step, ``enterprise`` two; None or unknown: no change).
        settings: The policy; defaults apply when None.

    Returns:
        The priority, never above urgent.
    """
    settings = settings or EscalationSettings()
    base = settings.reason_priorities.get(reason or "", settings.default_priority)
    boost = settings.tier_boost.get((tier or "").strip().lower(), 0)
    return _ORDER[max(0, priority_rank(base) - boost)]


def sla_due(created_at: datetime, priority: Priority, settings: EscalationSettings | None = None) -> datetime:
    """When the first human reply to a ticket of ``priority`` opened at ``created_at`` is due.

    Args:
        created_at: When the ticket opened (timezone-aware).
        priority: The ticket's priority.
        settings: The policy; defaults apply when None.

    Returns:
        The due moment in UTC.
    """
    settings = settings or EscalationSettings()
    return (created_at + timedelta(minutes=settings.sla_minutes[priority])).astimezone(UTC)


def within_business_hours(now: datetime, hours: BusinessHours | None) -> bool:
    """Whether ``now`` falls in the working hours (always, when ``hours`` is None).

    Args:
        now: A timezone-aware moment.
        hours: The working hours; None for around the clock.

    Returns:
        True inside the hours (start inclusive, end exclusive).
    """
    if hours is None:
        return True
    local = now.astimezone(hours.zone)
    return local.weekday() in hours.weekdays and hours.start <= local.time().replace(tzinfo=None) < hours.end


def next_business_opening(now: datetime, hours: BusinessHours | None) -> datetime:
    """The moment people are next at work: ``now`` itself when inside the hours.

    Args:
        now: A timezone-aware moment.
        hours: The working hours; None for around the clock.

    Returns:
        The moment in UTC.
    """
    if hours is None or within_business_hours(now, hours):
        return now.astimezone(UTC)
    local = now.astimezone(hours.zone)
    for days in range(8):
        day = local.date() + timedelta(days=days)
        opening = datetime.combine(day, hours.start, tzinfo=hours.zone)
        if day.weekday() in hours.weekdays and opening > local:
            return opening.astimezone(UTC)
    raise AssertionError("unreachable: BusinessHours has at least one weekday")  # pragma: no cover


def agents_available(now: datetime, settings: EscalationSettings, online_agents: int) -> bool:
    """Whether a person can take a conversation now.

    Args:
        now: A timezone-aware moment.
        settings: The policy.
        online_agents: How many support agents are signed in to the console now.

    Returns:
        True within business hours with at least one agent online.
    """
    return online_agents > 0 and within_business_hours(now, settings.business_hours)


def should_offer_contact(ticket: Ticket, now: datetime, settings: EscalationSettings, online_agents: int) -> bool:
    """Whether to offer the customer to leave contact details (show ``settings.no_agent_message``).

    True while the ticket is unclaimed and either nobody is available or nobody claimed it within
    ``settings.unclaimed_after_minutes``; never once contact details were left.

    Args:
        ticket: The conversation's ticket.
        now: A timezone-aware moment.
        settings: The policy.
        online_agents: How many support agents are signed in now.

    Returns:
        True when the offer should be shown.
    """
    if ticket.status is not TicketStatus.OPEN or ticket.contact is not None:
        return False
    if not agents_available(now, settings, online_agents):
        return True
    return now - ticket.created_at >= timedelta(minutes=settings.unclaimed_after_minutes)
