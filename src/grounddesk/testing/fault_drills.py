"""Fault drills against a running service: kill it under load, take its database away, and count what survived.

Both drills drive simulated widget customers (:mod:`grounddesk.testing._drill_customers`) over HTTP, inject the
fault while they chat, let them re-send what got no reply, and then audit every conversation through the API (and
the tickets in the SQL store): each accepted customer message must be stored once and have exactly one reply
(``answer``/``clarify``, or a ``handoff`` with its ticket), none duplicated.

- :func:`run_kill_drill`: ``kill -9`` the service process at random moments (``kills`` times), restart it.
- :func:`run_outage_drill`: call ``outage`` (e.g. restart PostgreSQL) mid-load; the service process stays up and
  must fail requests cleanly (an HTTP error in the ``{"code", "detail"}`` form, no hang) and recover by itself.

Example:
    >>> with ServiceProcess(service_env(settings)) as service:
    ...     report = run_kill_drill(service, settings.database_url(), kills=20)
    >>> report.audit.problems
    []
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import httpx
from pydantic import BaseModel, Field
from sqlalchemy import select

from grounddesk.testing._drill_customers import Customer, DrillLog
from grounddesk.testing.service_process import ServiceProcess

__all__ = ["Audit", "KillDrillReport", "OutageDrillReport", "audit_conversations", "run_kill_drill", "run_outage_drill"]

_REPLIES = ("answer", "clarify", "handoff")
_JOIN_S = 180.0
_RECOVERY_S = 120.0


class Audit(BaseModel):
    """What the conversations hold after a drill, and every broken promise found (``problems``)."""

    conversations: int
    messages_sent: int = Field(description="Distinct customer messages (client message ids)")
    sends: int = Field(description="Accepted POSTs, re-sends included")
    resent: int = Field(description="Messages sent more than once")
    answers: int
    clarifications: int
    handoffs: int
    tickets: int
    ticket_reasons: dict[str, int]
    error_events: int = Field(description="'Something went wrong' notes of turns that failed (re-sent later)")
    duplicate_messages: int = Field(description="Client message ids stored more than once")
    duplicate_replies: int = Field(description="Client message ids with more than one reply")
    duplicate_tickets: int = Field(description="Conversations with more than one ticket")
    unanswered: int = Field(description="Accepted messages without a reply")
    problems: list[str]


def audit_conversations(base_url: str, log: DrillLog, database_url: str) -> Audit:
    """Check every conversation of ``log`` through the API, and its tickets in the SQL store.

    Args:
        base_url: The running service.
        log: What the customers sent.
        database_url: The service's SQL store (for the tickets, which customers cannot read).
    """
    problems: list[str] = []
    stored: Counter[str] = Counter()
    replies: dict[str, list[str]] = {}
    errors = 0
    handoff_conversations: set[str] = set()
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for conversation_id, token in sorted(log.conversations.items()):
            response = client.get(f"/v1/conversations/{conversation_id}", headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            for event in response.json()["events"]:
                if event["type"] == "customer_message":
                    stored[str(event["client_message_id"])] += 1
                elif event["type"] in _REPLIES:
                    replies.setdefault(str(event["reply_to"]), []).append(event["type"])
                    if event["type"] == "handoff":
                        handoff_conversations.add(conversation_id)
                elif event["type"] == "error":
                    errors += 1
    tickets = _tickets(database_url, list(log.conversations))
    accepted = [m for m in log.messages.values() if m.accepted]
    for message in accepted:
        cid = message.client_message_id
        if stored[cid] != 1:
            problems.append(f"{cid}: stored {stored[cid]} times")
        got = replies.get(cid, [])
        if len(got) != 1:
            problems.append(f"{cid}: {len(got)} replies {got}")
    sent_ids = {m.client_message_id for m in log.messages.values()}
    problems += [f"{cid}: a reply to a message nobody sent" for cid in replies if cid not in sent_ids]
    per_conversation = Counter(conversation_id for conversation_id, _ in tickets)
    problems += [f"conversation {c}: {n} tickets" for c, n in per_conversation.items() if n > 1]
    problems += [
        f"conversation {c}: a hand-off without a ticket" for c in handoff_conversations - set(per_conversation)
    ]
    problems += [
        f"conversation {c}: a ticket without a hand-off" for c in set(per_conversation) - handoff_conversations
    ]
    # "needs_human" is what a ticket says when the agent's escalation (reason, transcript, draft) was lost; in a
    # drill nobody hands conversations back, so every ticket must carry the agent's own reason.
    problems += [f"conversation {c}: a ticket without the agent's escalation" for c, r in tickets if r == "needs_human"]
    problems += [f"{cid}: the customer gave up waiting" for cid in log.gave_up]
    kinds = Counter(kind for got in replies.values() for kind in got)
    return Audit(
        conversations=len(log.conversations),
        messages_sent=len(log.messages),
        sends=sum(m.sends for m in log.messages.values()),
        resent=sum(1 for m in log.messages.values() if m.sends > 1),
        answers=kinds["answer"],
        clarifications=kinds["clarify"],
        handoffs=kinds["handoff"],
        tickets=len(tickets),
        ticket_reasons=dict(Counter(reason for _, reason in tickets)),
        error_events=errors,
        duplicate_messages=sum(1 for n in stored.values() if n > 1),
        duplicate_replies=sum(1 for got in replies.values() if len(got) > 1),
        duplicate_tickets=sum(1 for n in per_conversation.values() if n > 1),
        unanswered=sum(1 for m in accepted if not replies.get(m.client_message_id)),
        problems=problems,
    )


def _tickets(database_url: str, conversation_ids: Sequence[str]) -> list[tuple[str, str]]:
    from grounddesk.db import create_engine_for
    from grounddesk.escalation.tables import tickets

    engine = create_engine_for(database_url)
    try:
        with engine.connect() as conn:
            query = select(tickets.c.conversation_id, tickets.c.reason).where(
                tickets.c.conversation_id.in_(list(conversation_ids))
            )
            return [(str(row[0]), str(row[1])) for row in conn.execute(query)]
    finally:
        engine.dispose()


class KillRecord(BaseModel):
    """One ``kill -9``: how many messages were waiting for a reply, and how long recovery took."""

    in_flight: int
    restart_s: float = Field(description="From the kill to the restarted service answering /readyz")
    caught_up_s: float | None = Field(
        description="From the kill until every message in flight at the kill had its reply (None: none in flight)"
    )


class KillDrillReport(BaseModel):
    """The figures of :func:`run_kill_drill`."""

    kills: int
    customers: int
    seconds: float
    kills_with_messages_in_flight: int
    restart_s_median: float
    restart_s_max: float
    caught_up_s_median: float | None
    caught_up_s_max: float | None
    failed_requests: dict[str, int]
    audit: Audit
    records: list[KillRecord]


class OutageDrillReport(BaseModel):
    """The figures of :func:`run_outage_drill`."""

    customers: int
    outage_s: float = Field(description="How long the outage call took (e.g. the PostgreSQL restart)")
    service_restarted: bool = Field(description="Whether the service process changed (it must not)")
    failed_requests: dict[str, int]
    failures_without_error_body: int = Field(description="Failed responses not in the {code, detail} form")
    requests_without_answer: int = Field(description="Requests that got no HTTP answer (a hang or a dropped socket)")
    longest_request_s: float
    failure_window_s: float | None = Field(description="From the first to the last failed request")
    first_reply_after_outage_s: float | None = Field(
        description="From the end of the outage call to the first reply a customer saw after it"
    )
    replies_after_outage: int
    audit: Audit


def _start_customers(
    base_url: str, count: int, seed: int, prefix: str, request_timeout_s: float = 15.0
) -> tuple[DrillLog, threading.Event, list[Customer]]:
    log, stop = DrillLog(), threading.Event()
    customers = [
        Customer(f"{prefix}{i}", base_url, log, stop, seed=seed * 1000 + i, request_timeout_s=request_timeout_s)
        for i in range(count)
    ]
    for customer in customers:
        customer.start()
    return log, stop, customers


def _stop_customers(stop: threading.Event, customers: list[Customer]) -> list[str]:
    stop.set()
    problems = []
    for customer in customers:
        customer.join(_JOIN_S)
        if customer.is_alive():
            problems.append(f"{customer.name} did not finish within {_JOIN_S:g}s")
        elif customer.error is not None:
            problems.append(f"{customer.name} failed: {customer.error!r}")
    return problems


def _wait_for_replies(log: DrillLog, count: int, since: float = 0.0, timeout_s: float = _RECOVERY_S) -> bool:
    """Whether the customers saw ``count`` replies after the moment ``since`` within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while _replied(log, since) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # watching other threads' progress
    return True


def _replied(log: DrillLog, since: float) -> int:
    with log.lock:
        return sum(1 for m in log.messages.values() if m.replied_at is not None and m.replied_at > since)


def run_kill_drill(
    service: ServiceProcess,
    database_url: str,
    *,
    kills: int = 20,
    customers: int = 6,
    seed: int = 7,
    gap_s: tuple[float, float] = (0.3, 1.2),
) -> KillDrillReport:
    """``kill -9`` the service ``kills`` times while ``customers`` chat, restarting it each time; then audit.

    Args:
        service: The service (started here if it is not running); left running for the audit, then to the caller.
        database_url: Its SQL store.
        kills: How many times to kill it.
        customers: Simulated customers chatting meanwhile.
        seed: Seeds the customers' questions and the moments of the kills.
        gap_s: Each kill comes a random time in this range after the service was ready again.
    """
    rng = random.Random(seed)
    if service.pid is None:
        service.start()
    started = time.monotonic()
    log, stop, threads = _start_customers(service.base_url, customers, seed, "k")
    moments: list[tuple[list[str], float, float]] = []
    try:
        if not _wait_for_replies(log, customers):
            raise TimeoutError(f"the service did not answer {customers} messages within {_RECOVERY_S:g}s")
        for _ in range(kills):
            time.sleep(rng.uniform(*gap_s))  # the fault's random moment
            in_flight = log.unanswered()
            killed_at = time.monotonic()
            service.kill()
            service.start()
            moments.append((in_flight, killed_at, time.monotonic() - killed_at))
    finally:
        problems = _stop_customers(stop, threads)
    audit = audit_conversations(service.base_url, log, database_url)
    audit.problems[:0] = problems
    records = [_kill_record(log, in_flight, killed_at, restart_s) for in_flight, killed_at, restart_s in moments]
    restarts = [r.restart_s for r in records]
    caught_up = [r.caught_up_s for r in records if r.caught_up_s is not None]
    return KillDrillReport(
        kills=len(records),
        customers=customers,
        seconds=round(time.monotonic() - started, 1),
        kills_with_messages_in_flight=sum(1 for r in records if r.in_flight),
        restart_s_median=round(statistics.median(restarts), 2) if restarts else 0.0,
        restart_s_max=round(max(restarts, default=0.0), 2),
        caught_up_s_median=round(statistics.median(caught_up), 2) if caught_up else None,
        caught_up_s_max=round(max(caught_up), 2) if caught_up else None,
        failed_requests=log.failure_counts(),
        audit=audit,
        records=records,
    )


def _kill_record(log: DrillLog, in_flight: list[str], killed_at: float, restart_s: float) -> KillRecord:
    replied = [log.replied_at(cid) for cid in in_flight]
    done = [at for at in replied if at is not None]
    caught_up = round(max(done) - killed_at, 2) if done and len(done) == len(replied) else None
    return KillRecord(in_flight=len(in_flight), restart_s=round(restart_s, 2), caught_up_s=caught_up)


def run_outage_drill(
    service: ServiceProcess,
    database_url: str,
    outage: Callable[[], None],
    *,
    customers: int = 6,
    seed: int = 7,
    replies_after: int = 12,
    request_timeout_s: float = 20.0,
) -> OutageDrillReport:
    """Call ``outage`` while ``customers`` chat; the service must fail cleanly and recover without a restart.

    Args:
        service: The running service (started here if it is not); it is never restarted by the drill.
        database_url: Its SQL store.
        outage: Takes a dependency away and brings it back (e.g. restarts PostgreSQL); returns when it is back.
        customers: Simulated customers chatting meanwhile.
        seed: Seeds the customers' questions.
        replies_after: After the outage, the drill goes on until the customers saw this many new replies.
        request_timeout_s: A request without an answer by then is a hang.
    """
    if service.pid is None:
        service.start()
    pid = service.pid
    log, stop, threads = _start_customers(service.base_url, customers, seed, "o", request_timeout_s)
    try:
        if not _wait_for_replies(log, customers):
            raise TimeoutError(f"the service did not answer {customers} messages within {_RECOVERY_S:g}s")
        began = time.monotonic()
        outage()
        back = time.monotonic()
        recovered = _wait_for_replies(log, replies_after, since=back)
    finally:
        problems = _stop_customers(stop, threads)
    if not recovered:
        problems.insert(0, f"the service did not recover: fewer than {replies_after} replies {_RECOVERY_S:g}s after")
    audit = audit_conversations(service.base_url, log, database_url)
    audit.problems[:0] = problems
    after = sorted(m.replied_at for m in log.messages.values() if m.replied_at is not None and m.replied_at > back)
    failures = list(log.failures)
    return OutageDrillReport(
        customers=customers,
        outage_s=round(back - began, 2),
        service_restarted=service.pid != pid,
        failed_requests=log.failure_counts(),
        failures_without_error_body=sum(1 for f in failures if f.status is not None and not f.error_shape),
        requests_without_answer=sum(1 for f in failures if f.status is None),
        longest_request_s=round(log.longest_request_s, 2),
        failure_window_s=round(max(f.at for f in failures) - min(f.at for f in failures), 2) if failures else None,
        first_reply_after_outage_s=round(after[0] - back, 2) if after else None,
        replies_after_outage=len(after),
        audit=audit,
    )
