"""Behaviour of the demo back-end beyond the conformance suites: its file, native idempotency, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from grounddesk.connectors.demo import DemoBackend, DemoCRM, DemoERP
from grounddesk.connectors.types import (
    CaseStatus,
    ConnectorUnavailable,
    ConnectorValidationError,
    NewCase,
    NewReturn,
    OrderStatus,
)
from grounddesk.db import create_engine_for
from grounddesk.demo.seed import SeedData, generate_seed
from grounddesk.errors import ConfigurationError

SEED = generate_seed()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "demo_backend.sqlite"
    DemoBackend.create(path, SEED)
    return path


@pytest.fixture
def crm(path: Path) -> Iterator[DemoCRM]:
    with DemoCRM(path) as connector:
        yield connector


@pytest.fixture
def erp(path: Path) -> Iterator[DemoERP]:
    with DemoERP(path) as connector:
        yield connector


def _case(subject: str = "Lantern flickers") -> NewCase:
    return NewCase(customer_id="C-1004", subject=subject)


def _order_with(status: OrderStatus, data: SeedData = SEED) -> tuple[str, str]:
    order = next(o for o in data.orders if o.status == status and o.customer_id != "C-1001")
    return order.id, order.customer_id


def _seed_number(seed: int) -> SeedData:
    return generate_seed(seed=seed)


# -- the file ----------------------------------------------------------------------------------------------


def test_create_seeds_once_and_keeps_later_writes(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "backend.sqlite"
    assert DemoBackend.create(path, generate_seed(customers=5)) is True
    crm, erp = DemoBackend.open(path)
    try:
        case = crm.create_case(_case(), idempotency_key="k-1")
        assert DemoBackend.create(path) is False  # a filled back-end is left alone
        assert crm.get_case(case.number).subject == "Lantern flickers"
        assert crm.find_customer(customer_id="C-1005") is not None
        assert crm.find_customer(customer_id="C-1006") is None  # still the 5-customer seed
        assert erp.get_order("A1001").status == OrderStatus.SHIPPED
    finally:
        crm.close()
        erp.close()


def test_create_with_the_default_seed(tmp_path: Path) -> None:
    path = tmp_path / "backend.sqlite"
    assert DemoBackend.create(path)
    crm, erp = DemoBackend.open(path)
    with crm, erp:
        assert (crm.name, erp.name) == ("demo-crm", "demo-erp")
        assert crm.find_customer(customer_id=SEED.customers[-1].id) is not None
        assert erp.list_orders("C-1001", limit=100) == sorted(
            (o for o in SEED.orders if o.customer_id == "C-1001"), key=lambda o: o.placed_at, reverse=True
        )


def test_open_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        DemoBackend.open(tmp_path / "missing.sqlite")
    assert "DemoBackend.create" in caught.value.detail
    assert not (tmp_path / "missing.sqlite").exists()


def test_writes_survive_reopening(path: Path) -> None:
    with DemoCRM(path) as crm:
        case = crm.create_case(_case(), idempotency_key="k-open")
        crm.add_case_comment(case.number, "Sent a replacement bulb.", idempotency_key="k-comment")
    with DemoCRM.open(path) as crm:
        assert [c.body for c in crm.get_case(case.number).comments] == ["Sent a replacement bulb."]
        assert crm.create_case(_case("Something else"), idempotency_key="k-open").number == case.number


def test_a_caller_engine_is_not_disposed(path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        DemoCRM(engine).close()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == len(SEED.customers)
    finally:
        engine.dispose()


def test_a_plain_sqlite_engine_is_refused(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(ConfigurationError):
            DemoCRM(engine)
    finally:
        engine.dispose()


def test_health_reports_a_broken_file_without_raising(path: Path) -> None:
    crm = DemoCRM(path)
    health = crm.health()
    assert health.ok and health.latency_ms is not None and health.latency_ms >= 0
    assert health.detail == f"{len(SEED.customers)} customers"
    crm._engine.dispose()  # drop pooled connections so the next one reads the damaged file
    for leftover in path.parent.glob(path.name + "-*"):
        leftover.unlink()
    path.write_bytes(b"this is not a database" * 100)
    broken = crm.health()
    assert (broken.ok, broken.kind, broken.name) == (False, "crm", "demo-crm")
    assert "database" in broken.detail
    with pytest.raises(ConnectorUnavailable):
        crm.get_case("00001001")
    crm.close()


# -- numbering and idempotency -----------------------------------------------------------------------------


def test_numbers_continue_from_the_seed(crm: DemoCRM, erp: DemoERP) -> None:
    case = crm.create_case(_case(), idempotency_key="k-number")
    assert case.number == f"{1001 + len(SEED.cases):08d}"
    order_id, customer_id = _order_with(OrderStatus.DELIVERED)
    request = erp.create_return(
        NewReturn(order_id=order_id, customer_id=customer_id, reason="Too big"), idempotency_key="k-return"
    )
    assert request.id == f"R-{1001 + len(SEED.returns)}"
    assert (request.status, request.amount) == ("requested", None)


def test_idempotency_holds_across_connector_instances(path: Path) -> None:
    with DemoCRM(path) as first, DemoCRM(path) as second:
        before = len(first.list_cases("C-1004", limit=100))
        one = first.create_case(_case(), idempotency_key="shared-key")
        other = second.create_case(_case(), idempotency_key="shared-key")
        assert other.number == one.number
        assert len(second.list_cases("C-1004", limit=100)) == before + 1
        status = first.update_case_status(one.number, CaseStatus.WORKING, idempotency_key="status-key")
        second.update_case_status(one.number, CaseStatus.CLOSED, idempotency_key="other-status-key")
        replay = first.update_case_status(one.number, CaseStatus.WORKING, idempotency_key="status-key")
        assert status.status == CaseStatus.WORKING
        assert replay.status == CaseStatus.CLOSED  # the replay changed nothing


def test_keys_are_per_operation(crm: DemoCRM) -> None:
    case = crm.create_case(_case(), idempotency_key="same")
    comment = crm.add_case_comment(case.number, "First reply", idempotency_key="same")
    assert comment.id == f"CMT-{case.number}-1"


def test_concurrent_creates_with_one_key_make_one_case(path: Path) -> None:
    barrier = threading.Barrier(2)
    connectors = [DemoCRM(path), DemoCRM(path)]

    def create(connector: DemoCRM) -> str:
        barrier.wait()
        return connector.create_case(_case("Race"), idempotency_key="race-key").number

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            numbers = list(pool.map(create, connectors))
        assert numbers[0] == numbers[1]
        assert [c.subject for c in connectors[0].list_cases("C-1004", limit=100)].count("Race") == 1
    finally:
        for connector in connectors:
            connector.close()


def test_concurrent_creates_with_distinct_keys_get_distinct_numbers(crm: DemoCRM) -> None:
    barrier = threading.Barrier(4)

    def create(worker: int) -> list[str]:
        barrier.wait()
        return [crm.create_case(_case(), idempotency_key=f"w{worker}-{i}").number for i in range(5)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = [n for batch in pool.map(create, range(4)) for n in batch]
    assert len(set(numbers)) == 20
    assert sorted(numbers) == [f"{1001 + len(SEED.cases) + i:08d}" for i in range(20)]


# -- validation --------------------------------------------------------------------------------------------


def test_find_customer_by_phone_in_any_format(crm: DemoCRM) -> None:
    for phone in ("+14155550101", "(415) 555-0101", "415.555.0101"):
        found = crm.find_customer(phone=phone)
        assert found is not None and found.id == "C-1001", phone


def test_find_customer_needs_exactly_one_key(crm: DemoCRM) -> None:
    with pytest.raises(ConnectorValidationError):
        crm.find_customer()
    with pytest.raises(ConnectorValidationError):
        crm.find_customer(email="alex.morgan@example.com", customer_id="C-1001")


def test_unvalidated_input_is_refused_and_writes_nothing(crm: DemoCRM) -> None:
    before = len(crm.list_cases("C-1004", limit=100))
    blank = NewCase.model_construct(customer_id="C-1004", subject="   ", description="", priority="low")
    with pytest.raises(ConnectorValidationError):
        crm.create_case(blank, idempotency_key="k-blank")
    bad_priority = NewCase.model_construct(customer_id="C-1004", subject="Hi", description="", priority="asap")
    with pytest.raises(ConnectorValidationError):
        crm.create_case(bad_priority, idempotency_key="k-priority")
    with pytest.raises(ConnectorValidationError):
        crm.create_case(_case(), idempotency_key="")
    with pytest.raises(ConnectorValidationError):
        crm.add_case_comment("00001001", "  ", idempotency_key="k-empty-comment")
    assert len(crm.list_cases("C-1004", limit=100)) == before
    assert len(crm.get_case("00001001").comments) == 1


def test_clock_dates_new_records(path: Path) -> None:
    moment = datetime(2026, 11, 21, 8, 30, 15, 123456, tzinfo=UTC)
    with DemoCRM(path, clock=lambda: moment) as crm:
        case = crm.create_case(_case(), idempotency_key="k-clock")
        assert case.created_at == case.updated_at == moment.replace(microsecond=0)
        assert crm.list_cases("C-1004")[0].number == case.number


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (OrderStatus.CANCELLED, "refund", "was cancelled"),
        (OrderStatus.PENDING, "return", "has not shipped yet"),
        (OrderStatus.PROCESSING, "refund", "has not shipped yet"),
        (OrderStatus.RETURNED, "return", "already been returned"),
        (OrderStatus.SHIPPED, "return", "still on its way"),
    ],
)
def test_returns_need_a_returnable_order(tmp_path: Path, status: OrderStatus, kind: str, words: str) -> None:
    data = next(d for d in map(_seed_number, range(7, 60)) if any(o.status == status for o in d.orders[3:]))
    DemoBackend.create(tmp_path / "backend.sqlite", data)
    erp = DemoERP(tmp_path / "backend.sqlite")
    order_id, customer_id = _order_with(status, data)
    request = NewReturn.model_validate(
        {"order_id": order_id, "customer_id": customer_id, "reason": "Not needed", "kind": kind}
    )
    with pytest.raises(ConnectorValidationError) as caught:
        erp.create_return(request, idempotency_key="k-refused")
    assert words in caught.value.detail and order_id in caught.value.detail
    assert caught.value.fields["order_status"] == status.value
    # A refused write leaves its key unused: the same key works for a valid request.
    delivered, owner = _order_with(OrderStatus.DELIVERED, data)
    request = NewReturn(order_id=delivered, customer_id=owner, reason="Fine")
    assert erp.create_return(request, idempotency_key="k-refused").order_id == delivered
    erp.close()


def test_refund_of_a_parcel_in_transit_is_accepted(erp: DemoERP) -> None:
    order_id, customer_id = _order_with(OrderStatus.SHIPPED)
    request = NewReturn(order_id=order_id, customer_id=customer_id, kind="refund", reason="Parcel lost")
    assert erp.create_return(request, idempotency_key="k-lost").kind == "refund"


def test_return_of_a_sku_not_on_the_order_is_refused(erp: DemoERP) -> None:
    request = NewReturn(order_id="A1002", customer_id="C-1002", reason="Wrong size", skus=("NW-TNT-2P",))
    with pytest.raises(ConnectorValidationError) as caught:
        erp.create_return(request, idempotency_key="k-sku")
    assert "NW-TNT-2P" in caught.value.detail


def test_return_of_someone_elses_order_names_both(erp: DemoERP) -> None:
    request = NewReturn(order_id="A1002", customer_id="C-1001", reason="Not mine")
    with pytest.raises(ConnectorValidationError) as caught:
        erp.create_return(request, idempotency_key="k-other")
    assert caught.value.detail == "Order A1002 does not belong to customer C-1001"
