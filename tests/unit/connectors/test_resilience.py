from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from grounddesk.connectors.ledger import IdempotencyLedger
from grounddesk.connectors.resilience import (
    CircuitBreaker,
    ResilienceSettings,
    ResilientCRM,
    ResilientERP,
    RetryPolicy,
    idempotency_key,
    request_hash,
)
from grounddesk.connectors.types import (
    CaseStatus,
    CircuitOpen,
    ConnectorAuthError,
    ConnectorTimeout,
    ConnectorUnavailable,
    ConnectorValidationError,
    CRMConnector,
    ERPConnector,
    NewCase,
    NewReturn,
    RateLimited,
    RecordNotFound,
)
from grounddesk.db import create_engine_for, upgrade
from grounddesk.testing.faulty import ScriptedConnector


class FakeClock:
    """Monotonic seconds that move only when the test (or a fake sleep) moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSleep:
    """Records every wait and advances the fake clock by it instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


def _unavailable(name: str = "scripted") -> ConnectorUnavailable:
    return ConnectorUnavailable("HTTP 503 Service Unavailable", connector=name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep(clock: FakeClock) -> FakeSleep:
    return FakeSleep(clock)


@pytest.fixture
def fake() -> ScriptedConnector:
    return ScriptedConnector()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'grounddesk.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(engine: Engine) -> IdempotencyLedger:
    return IdempotencyLedger(engine)


def _crm(
    fake: ScriptedConnector,
    clock: FakeClock,
    sleep: FakeSleep,
    ledger: IdempotencyLedger | None = None,
    **settings: object,
) -> ResilientCRM:
    defaults: dict[str, object] = {"read_retries": 0, "breaker_failures": 5, "breaker_reset_s": 30.0}
    return ResilientCRM(
        fake,
        settings=ResilienceSettings.model_validate(defaults | settings),
        ledger=ledger,
        clock=clock,
        sleep=sleep,
        rng=lambda: 0.5,
    )


def _erp(
    fake: ScriptedConnector,
    clock: FakeClock,
    sleep: FakeSleep,
    ledger: IdempotencyLedger | None = None,
    **settings: object,
) -> ResilientERP:
    defaults: dict[str, object] = {"read_retries": 0, "breaker_failures": 5, "breaker_reset_s": 30.0}
    return ResilientERP(
        fake,
        settings=ResilienceSettings.model_validate(defaults | settings),
        ledger=ledger,
        clock=clock,
        sleep=sleep,
        rng=lambda: 0.5,
    )


# --- circuit breaker -------------------------------------------------------------------------------------


def test_wrappers_implement_the_protocols(fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep) -> None:
    assert isinstance(_crm(fake, clock, sleep), CRMConnector)
    assert isinstance(_erp(fake, clock, sleep), ERPConnector)


def test_a_burst_of_5xx_opens_the_circuit_and_calls_fail_fast(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep
) -> None:
    erp = _erp(fake, clock, sleep)
    fake.fail_next("get_order", _unavailable(), times=5)
    for _ in range(5):
        with pytest.raises(ConnectorUnavailable) as info:
            erp.get_order("A1001")
        assert not isinstance(info.value, CircuitOpen)

    clock.advance(10.0)
    with pytest.raises(CircuitOpen) as info:
        erp.get_order("A1001")

    assert fake.calls_to("get_order") == 5  # the sixth call never reached the back-end
    assert info.value.code == "circuit_open"
    assert info.value.retry_after_s == pytest.approx(20.0)
    assert erp.health().circuit == "open"


def test_after_the_reset_time_one_probe_goes_through_and_success_closes(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep
) -> None:
    erp = _erp(fake, clock, sleep)
    fake.fail_next("get_order", _unavailable(), times=5)
    for _ in range(5):
        with pytest.raises(ConnectorUnavailable):
            erp.get_order("A1001")

    clock.advance(29.9)
    with pytest.raises(CircuitOpen):
        erp.get_order("A1001")
    clock.advance(0.1)
    assert erp.breaker.state == "half_open"

    assert erp.get_order("A1001").id == "A1001"
    assert erp.breaker.state == "closed"
    assert erp.health().circuit == "closed"
    assert fake.calls_to("get_order") == 6
    # Closed again: the failure count starts from zero.
    fake.fail_next("get_order", _unavailable(), times=4)
    for _ in range(4):
        with pytest.raises(ConnectorUnavailable):
            erp.get_order("A1001")
    assert erp.breaker.state == "closed"


def test_a_failed_probe_reopens_the_circuit_for_another_reset_period(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep
) -> None:
    crm = _crm(fake, clock, sleep, breaker_failures=2)
    fake.fail_next("get_case", ConnectorTimeout("read timed out after 5s", connector="scripted"), times=3)
    for _ in range(2):
        with pytest.raises(ConnectorTimeout):
            crm.get_case("00001001")
    clock.advance(30.0)

    with pytest.raises(ConnectorTimeout):  # the probe
        crm.get_case("00001001")
    with pytest.raises(CircuitOpen) as info:
        crm.get_case("00001001")

    assert info.value.retry_after_s == pytest.approx(30.0)
    assert fake.calls_to("get_case") == 3


def test_callers_arriving_during_the_probe_fail_fast(fake: ScriptedConnector, clock: FakeClock) -> None:
    breaker = CircuitBreaker("scripted", failure_threshold=1, reset_s=30.0, clock=clock)
    erp = ResilientERP(fake, settings=ResilienceSettings(read_retries=0), breaker=breaker, clock=clock)
    fake.fail_next("get_order", _unavailable())
    with pytest.raises(ConnectorUnavailable):
        erp.get_order("A1001")
    clock.advance(30.0)
    gate = fake.hold("get_order")
    results: list[str] = []
    probe = threading.Thread(target=lambda: results.append(erp.get_order("A1001").id))
    probe.start()
    try:
        assert gate.entered.wait(10)
        with pytest.raises(CircuitOpen):
            erp.get_order("A1001")
        assert erp.health().circuit == "half_open"
    finally:
        gate.release.set()
        probe.join(10)

    assert results == ["A1001"]
    assert fake.calls_to("get_order") == 2  # the failure and the probe; the caller during the probe never got in
    assert breaker.state == "closed"


def test_not_found_validation_and_auth_errors_do_not_open_the_circuit(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep
) -> None:
    crm = _crm(fake, clock, sleep, breaker_failures=3)
    for _ in range(5):
        with pytest.raises(RecordNotFound):
            crm.get_case("99999999")
    fake.fail_next("get_account", ConnectorAuthError("INVALID_SESSION_ID", connector="scripted"), times=5)
    for _ in range(5):
        with pytest.raises(ConnectorAuthError):
            crm.get_account("ACC-1001")
    assert crm.breaker.state == "closed"

    # Failures must be consecutive: an answer from the back-end in between resets the count.
    fake.fail_next("get_case", _unavailable(), times=2)
    for _ in range(2):
        with pytest.raises(ConnectorUnavailable):
            crm.get_case("00001001")
    with pytest.raises(RecordNotFound):
        crm.get_case("99999999")
    fake.fail_next("get_case", _unavailable(), times=2)
    for _ in range(2):
        with pytest.raises(ConnectorUnavailable):
            crm.get_case("00001001")
    assert crm.breaker.state == "closed"
    assert sleep.waits == []  # non-retryable errors are not retried either


# --- retries ---------------------------------------------------------------------------------------------


def test_reads_are_retried_with_growing_bounded_backoff(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep
) -> None:
    erp = _erp(fake, clock, sleep, read_retries=4, backoff_base_s=0.2, backoff_max_s=1.0, jitter="none")
    fake.fail_next("track_shipment", _unavailable(), times=4)

    shipments = erp.track_shipment("A1001")

    assert [s.tracking_number for s in shipments] == ["1Z999AA10123456784"]
    assert fake.calls_to("track_shipment") == 5
    assert sleep.waits == pytest.approx([0.2, 0.4, 0.8, 1.0])


def test_full_jitter_draws_each_wait_below_its_ceiling() -> None:
    waits: list[float] = []
    draws = iter([0.5, 0.99, 0.0])
    policy = RetryPolicy(retries=3, base_s=0.2, max_s=0.5, sleep=waits.append, rng=lambda: next(draws))
    attempts = 0

    def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise _unavailable()
        return "ok"

    assert policy.run(flaky) == "ok"
    assert waits == pytest.approx([0.5 * 0.2, 0.99 * 0.4, 0.0])


def test_retries_stop_after_the_budget_and_raise_the_last_error(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep
) -> None:
    crm = _crm(fake, clock, sleep, read_retries=2)
    fake.fail_next("list_cases", _unavailable(), times=2)
    fake.fail_next("list_cases", ConnectorTimeout("read timed out", connector="scripted"))

    with pytest.raises(ConnectorTimeout):
        crm.list_cases("C-1001")

    assert fake.calls_to("list_cases") == 3
    assert len(sleep.waits) == 2


def test_rate_limit_retry_after_is_honoured(fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep) -> None:
    crm = _crm(fake, clock, sleep, read_retries=2, max_retry_after_s=5.0)
    fake.fail_next("find_customer", RateLimited("HTTP 429", connector="scripted", retry_after_s=1.5))

    customer = crm.find_customer(email="ALEX.MORGAN@example.com")

    assert customer is not None and customer.id == "C-1001"
    assert sleep.waits == [1.5]


def test_a_retry_after_beyond_the_cap_is_raised_at_once(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep
) -> None:
    crm = _crm(fake, clock, sleep, read_retries=2, max_retry_after_s=5.0)
    fake.fail_next("find_customer", RateLimited("REQUEST_LIMIT_EXCEEDED", connector="scripted", retry_after_s=600))

    with pytest.raises(RateLimited) as info:
        crm.find_customer(customer_id="C-1001")

    assert info.value.retry_after_s == 600
    assert fake.calls_to("find_customer") == 1
    assert sleep.waits == []


def test_retries_stop_when_the_circuit_opens(fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep) -> None:
    erp = _erp(fake, clock, sleep, read_retries=5, breaker_failures=2)
    fake.fail_next("get_invoice", _unavailable(), times=10)

    with pytest.raises(CircuitOpen):
        erp.get_invoice("A1001")

    assert fake.calls_to("get_invoice") == 2
    assert len(sleep.waits) == 2  # two retries: the second one met the open circuit and was not retried


# --- writes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_ledger", [False, True])
def test_writes_are_never_retried(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep, ledger: IdempotencyLedger, with_ledger: bool
) -> None:
    crm = _crm(fake, clock, sleep, ledger if with_ledger else None, read_retries=3)
    fake.fail_next("create_case", ConnectorTimeout("read timed out", connector="scripted"))

    with pytest.raises(ConnectorTimeout):
        crm.create_case(NewCase(customer_id="C-1001", subject="Broken screen"), idempotency_key="k-timeout")

    assert fake.calls_to("create_case") == 1
    assert sleep.waits == []
    assert crm.breaker.consecutive_failures == 1  # a timeout counts against the back-end


def test_a_duplicated_write_reaches_the_back_end_once(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep, ledger: IdempotencyLedger
) -> None:
    crm = _crm(fake, clock, sleep, ledger)
    key = idempotency_key("conv-1", "msg-1", "create_case", {"subject": "Broken screen"})
    request = NewCase(customer_id="C-1001", subject="Broken screen", priority="high")

    first = crm.create_case(request, idempotency_key=key)
    second = crm.create_case(request, idempotency_key=key)

    assert second == first
    assert fake.calls_to("create_case") == 1
    assert [c.subject for c in fake.cases.values()].count("Broken screen") == 1
    entry = ledger.get(key)
    assert entry is not None and entry.status == "done" and entry.operation == "create_case"


def test_reusing_a_key_for_another_request_is_refused(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep, ledger: IdempotencyLedger
) -> None:
    crm = _crm(fake, clock, sleep, ledger)
    crm.add_case_comment("00001001", "Thanks!", idempotency_key="k-comment")

    with pytest.raises(ConnectorValidationError, match="idempotency key reused with a different request") as info:
        crm.add_case_comment("00001001", "Thanks again!", idempotency_key="k-comment")
    with pytest.raises(ConnectorValidationError):
        crm.update_case_status("00001001", CaseStatus.CLOSED, idempotency_key="k-comment")

    assert info.value.code == "connector_validation_failed"
    assert info.value.fields["idempotency_key"] == "k-comment"
    assert fake.calls_to("add_case_comment") == 1
    assert fake.calls_to("update_case_status") == 0


def test_a_failed_write_is_recorded_and_may_be_retried_with_the_same_key(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep, ledger: IdempotencyLedger
) -> None:
    erp = _erp(fake, clock, sleep, ledger)
    request = NewReturn(order_id="A1001", customer_id="C-1001", reason="Arrived damaged")
    fake.fail_next("create_return", _unavailable())
    with pytest.raises(ConnectorUnavailable):
        erp.create_return(request, idempotency_key="k-return")
    entry = ledger.get("k-return")
    assert entry is not None and (entry.status, entry.error_code) == ("failed", "connector_unavailable")

    created = erp.create_return(request, idempotency_key="k-return")
    again = erp.create_return(request, idempotency_key="k-return")

    assert again == created
    assert again.amount == Decimal("49.90")
    assert fake.calls_to("create_return") == 2
    assert len(fake.returns) == 1


def test_a_write_refused_by_the_open_circuit_never_reaches_the_back_end(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep, ledger: IdempotencyLedger
) -> None:
    crm = _crm(fake, clock, sleep, ledger, breaker_failures=1)
    fake.fail_next("get_case", _unavailable())
    with pytest.raises(ConnectorUnavailable):
        crm.get_case("00001001")

    with pytest.raises(CircuitOpen):
        crm.update_case_status("00001001", CaseStatus.CLOSED, idempotency_key="k-close")

    assert fake.calls_to("update_case_status") == 0
    entry = ledger.get("k-close")
    assert entry is not None and (entry.status, entry.error_code) == ("failed", "circuit_open")
    clock.advance(30.0)
    assert crm.update_case_status("00001001", CaseStatus.CLOSED, idempotency_key="k-close").status == "closed"


def test_a_write_for_a_missing_record_is_recorded_as_failed(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep, ledger: IdempotencyLedger
) -> None:
    crm = _crm(fake, clock, sleep, ledger)
    with pytest.raises(RecordNotFound):
        crm.add_case_comment("99999999", "Hello", idempotency_key="k-missing")
    entry = ledger.get("k-missing")
    assert entry is not None and (entry.status, entry.error_code) == ("failed", "record_not_found")
    assert crm.breaker.state == "closed"


def test_a_duplicate_waits_for_a_write_in_flight_then_gives_up(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep, ledger: IdempotencyLedger
) -> None:
    request = NewCase(customer_id="C-1001", subject="Late parcel")
    ledger.claim(
        "k-inflight", connector="scripted", operation="create_case", request_hash=_case_hash(request)
    )  # another replica is calling the back-end right now
    crm = _crm(fake, clock, sleep, ledger, pending_wait_s=1.0, pending_poll_s=0.25)

    with pytest.raises(ConnectorUnavailable, match="still being processed") as info:
        crm.create_case(request, idempotency_key="k-inflight")

    assert not isinstance(info.value, CircuitOpen)
    assert fake.calls_to("create_case") == 0
    assert sleep.waits == [0.25, 0.25, 0.25, 0.25]
    assert crm.breaker.consecutive_failures == 0  # waiting on ourselves is not the back-end's failure


def test_a_write_left_pending_by_a_crash_is_taken_over_with_the_same_key(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep, engine: Engine
) -> None:
    request = NewCase(customer_id="C-1001", subject="Late parcel")
    crashed_at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    IdempotencyLedger(engine, now=lambda: crashed_at).claim(
        "k-crash", connector="scripted", operation="create_case", request_hash=_case_hash(request)
    )
    later = IdempotencyLedger(engine, now=lambda: crashed_at + timedelta(minutes=5))
    crm = _crm(fake, clock, sleep, later, pending_stale_s=60.0)

    case = crm.create_case(request, idempotency_key="k-crash")

    assert fake.keys_seen == ["k-crash"]  # the back-end got the very same key
    entry = later.get("k-crash")
    assert entry is not None and entry.status == "done" and entry.result["number"] == case.number


def _case_hash(request: NewCase) -> str:
    return request_hash("scripted", "create_case", {"case": request})


def test_invalid_keys_are_refused(fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep) -> None:
    crm = _crm(fake, clock, sleep)
    for key in ("", "k" * 201):
        with pytest.raises(ConnectorValidationError):
            crm.create_case(NewCase(customer_id="C-1001", subject="x"), idempotency_key=key)
    assert fake.calls_to("create_case") == 0


# --- health and keys -------------------------------------------------------------------------------------


def test_health_reports_the_inner_health_with_the_circuit_state(
    fake: ScriptedConnector, clock: FakeClock, sleep: FakeSleep
) -> None:
    erp = _erp(ScriptedConnector("erp", kind="erp"), clock, sleep, breaker_failures=1)
    assert erp.health().model_dump(include={"name", "kind", "ok", "circuit"}) == {
        "name": "erp",
        "kind": "erp",
        "ok": True,
        "circuit": "closed",
    }
    erp.inner.fail_next("get_order", _unavailable("erp"))  # type: ignore[attr-defined]
    with pytest.raises(ConnectorUnavailable):
        erp.get_order("A1001")
    assert erp.health().circuit == "open"
    assert erp.health().ok  # the back-end's own check still runs
    erp.close()
    assert erp.inner.closed  # type: ignore[attr-defined]


def test_idempotency_keys_are_stable_and_distinguish_turns() -> None:
    key = idempotency_key("conv-1", "msg-7", "create_return", {"order_id": "A1001", "skus": ("CHG-65W",)})

    assert len(key) == 64 and all(c in "0123456789abcdef" for c in key)
    assert key == idempotency_key("conv-1", "msg-7", "create_return", {"skus": ["CHG-65W"], "order_id": "A1001"})
    assert key != idempotency_key("conv-1", "msg-8", "create_return", {"order_id": "A1001", "skus": ("CHG-65W",)})
    assert key != idempotency_key("conv-2", "msg-7", "create_return", {"order_id": "A1001", "skus": ("CHG-65W",)})
    assert key != idempotency_key("conv-1", "msg-7", "create_case", {"order_id": "A1001", "skus": ("CHG-65W",)})
    assert key != idempotency_key("conv-1", "msg-7", "create_return", {"order_id": "A1002", "skus": ("CHG-65W",)})
    # Values that are not JSON natively still give a stable key.
    amount = {"amount": Decimal("12.50"), "at": datetime(2026, 11, 20, tzinfo=UTC)}
    assert idempotency_key("c", "m", "t", amount) == idempotency_key("c", "m", "t", dict(amount))
