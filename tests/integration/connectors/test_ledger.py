"""The idempotency ledger and the resilient wrappers' writes on SQLite and PostgreSQL, across threads and restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from grounddesk.connectors.ledger import IdempotencyLedger
from grounddesk.connectors.resilience import ResilienceSettings, ResilientCRM, ResilientERP, request_hash
from grounddesk.connectors.types import Case, NewCase, NewReturn, ReturnRequest
from grounddesk.db import create_engine_for, upgrade
from grounddesk.testing.faulty import ScriptedConnector

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def open_engine(sql_url: str) -> Iterator[Callable[[], Engine]]:
    """Opens engines on one migrated database, as separate processes or replicas would; disposes them at the end."""
    engines: list[Engine] = []

    def open_() -> Engine:
        engine = create_engine_for(sql_url)
        engines.append(engine)
        return engine

    upgrade(open_())
    yield open_
    for engine in engines:
        engine.dispose()


def _run_together(*calls: Callable[[], object]) -> list[object]:
    """Runs the calls in threads released at the same instant; returns their results (or errors) in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait(10)
        try:
            results[index] = call()
        except BaseException as error:  # checked by the test
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_claim_complete_fail_and_get(open_engine: Callable[[], Engine]) -> None:
    clock = [T0]
    ledger = IdempotencyLedger(open_engine(), now=lambda: clock[0])

    first = ledger.claim("k1", connector="erp", operation="create_return", request_hash="h1")
    again = ledger.claim("k1", connector="erp", operation="create_return", request_hash="h1")
    assert (first.acquired, again.acquired, again.entry.status) == (True, False, "pending")

    clock[0] = T0 + timedelta(seconds=3)
    ledger.complete("k1", {"id": "R-00001", "amount": "49.90"})
    done = ledger.get("k1")
    assert done is not None
    assert (done.status, done.result, done.error_code) == ("done", {"id": "R-00001", "amount": "49.90"}, None)
    assert (done.created_at, done.updated_at) == (T0, T0 + timedelta(seconds=3))
    assert done.updated_at.tzinfo is not None
    assert ledger.claim("k1", connector="erp", operation="create_return", request_hash="h1").acquired is False

    ledger.claim("k2", connector="erp", operation="create_return", request_hash="h2")
    ledger.fail("k2", "connector_timeout")
    failed = ledger.get("k2")
    assert failed is not None and (failed.status, failed.error_code) == ("failed", "connector_timeout")
    assert ledger.claim("k2", connector="erp", operation="create_return", request_hash="other").acquired is False
    retaken = ledger.claim("k2", connector="erp", operation="create_return", request_hash="h2")
    assert retaken.acquired and (retaken.entry.status, retaken.entry.error_code) == ("pending", None)
    assert ledger.get("missing") is None


def test_only_one_of_two_concurrent_claims_wins(open_engine: Callable[[], Engine]) -> None:
    left, right = IdempotencyLedger(open_engine()), IdempotencyLedger(open_engine())
    for n in range(10):
        key = f"k-{n}"
        outcomes = _run_together(
            lambda k=key: left.claim(k, connector="crm", operation="create_case", request_hash="h").acquired,
            lambda k=key: right.claim(k, connector="crm", operation="create_case", request_hash="h").acquired,
        )
        assert sorted(outcomes, key=str) == [False, True]


def test_only_one_of_two_concurrent_takeovers_wins(open_engine: Callable[[], Engine]) -> None:
    IdempotencyLedger(open_engine(), now=lambda: T0).claim("k", connector="crm", operation="op", request_hash="h")
    later = T0 + timedelta(minutes=10)
    left = IdempotencyLedger(open_engine(), now=lambda: later)
    right = IdempotencyLedger(open_engine(), now=lambda: later)

    outcomes = _run_together(
        lambda: left.claim("k", connector="crm", operation="op", request_hash="h", stale_after_s=60).acquired,
        lambda: right.claim("k", connector="crm", operation="op", request_hash="h", stale_after_s=60).acquired,
    )

    assert sorted(outcomes, key=str) == [False, True]


def test_two_replicas_sending_the_same_write_at_once_reach_the_back_end_once(
    open_engine: Callable[[], Engine],
) -> None:
    backend = ScriptedConnector()
    gate = backend.hold("create_case")
    duplicate_waiting = threading.Event()

    def sleep(seconds: float) -> None:
        duplicate_waiting.set()
        time.sleep(seconds)

    settings = ResilienceSettings(pending_poll_s=0.01, pending_wait_s=20.0)
    replicas = [
        ResilientCRM(backend, settings=settings, ledger=IdempotencyLedger(open_engine()), sleep=sleep) for _ in range(2)
    ]
    request = NewCase(customer_id="C-1001", subject="Charger stopped working again")

    def release_once_both_are_in() -> None:
        # One replica is inside the back-end and the other is waiting on the ledger: let the first one finish.
        assert gate.entered.wait(20) and duplicate_waiting.wait(20)
        gate.release.set()

    releaser = threading.Thread(target=release_once_both_are_in)
    releaser.start()
    results = _run_together(*(lambda r=r: r.create_case(request, idempotency_key="k-dup") for r in replicas))
    releaser.join(30)

    assert all(isinstance(result, Case) for result in results), results
    assert results[0] == results[1]
    assert backend.calls_to("create_case") == 1
    assert backend.keys_seen == ["k-dup"]


def test_two_threads_of_one_wrapper_write_once(open_engine: Callable[[], Engine]) -> None:
    backend = ScriptedConnector("erp", kind="erp")
    erp = ResilientERP(
        backend, settings=ResilienceSettings(pending_poll_s=0.01), ledger=IdempotencyLedger(open_engine())
    )
    request = NewReturn(order_id="A1002", customer_id="C-1002", kind="refund", reason="Changed my mind")

    results = _run_together(*(lambda: erp.create_return(request, idempotency_key="k-refund") for _ in range(2)))

    assert all(isinstance(result, ReturnRequest) for result in results), results
    assert results[0] == results[1]
    assert backend.calls_to("create_return") == 1


def test_the_ledger_survives_a_restart(open_engine: Callable[[], Engine]) -> None:
    request = NewReturn(order_id="A1001", customer_id="C-1001", reason="Arrived damaged", skus=("CHG-65W",))
    before = ScriptedConnector("erp", kind="erp")
    engine = open_engine()
    first = ResilientERP(before, ledger=IdempotencyLedger(engine)).create_return(request, idempotency_key="k-r")
    engine.dispose()

    after = ScriptedConnector("erp", kind="erp")  # a new process: new wrapper, new engine, same database
    again = ResilientERP(after, ledger=IdempotencyLedger(open_engine())).create_return(request, idempotency_key="k-r")

    assert again == first
    assert after.calls_to("create_return") == 0


def test_a_crashed_write_is_taken_over_after_it_goes_stale(open_engine: Callable[[], Engine]) -> None:
    request = NewCase(customer_id="C-1002", subject="Where is my refund?")
    fingerprint = request_hash("scripted", "create_case", {"case": request})
    IdempotencyLedger(open_engine(), now=lambda: T0).claim(
        "k-crash", connector="scripted", operation="create_case", request_hash=fingerprint
    )
    backend = ScriptedConnector()
    ledger = IdempotencyLedger(open_engine(), now=lambda: T0 + timedelta(seconds=61))
    crm = ResilientCRM(backend, settings=ResilienceSettings(pending_stale_s=60.0), ledger=ledger)

    case = crm.create_case(request, idempotency_key="k-crash")

    assert backend.keys_seen == ["k-crash"]
    entry = ledger.get("k-crash")
    assert entry is not None and entry.status == "done"
    assert Case.model_validate(entry.result) == case
