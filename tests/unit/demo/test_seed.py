"""The demo seed data: deterministic, holding the guaranteed records, and internally consistent."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from grounddesk.connectors.types import CaseStatus, CustomerTier, InvoiceStatus, OrderStatus
from grounddesk.demo.seed import DEFAULT_NOW, SeedData, generate_seed
from grounddesk.errors import ErrorCode, GrounddeskError

SEEDS = [7, 1, 42]


@pytest.fixture(scope="module")
def data() -> SeedData:
    return generate_seed()


def _by_id(data: SeedData) -> dict[str, dict[str, object]]:
    return {
        "customers": {c.id: c for c in data.customers},
        "accounts": {a.id: a for a in data.accounts},
        "orders": {o.id: o for o in data.orders},
        "invoices": {i.id: i for i in data.invoices},
        "cases": {c.number: c for c in data.cases},
    }


def test_same_seed_same_data() -> None:
    assert generate_seed() == generate_seed(seed=7, customers=60, now=DEFAULT_NOW)
    assert generate_seed(seed=3).model_dump_json() == generate_seed(seed=3).model_dump_json()


def test_another_seed_other_people() -> None:
    assert [c.name for c in generate_seed(seed=1).customers[3:]] != [c.name for c in generate_seed().customers[3:]]


def test_json_round_trip(data: SeedData) -> None:
    text = data.model_dump_json()
    again = SeedData.model_validate_json(text)
    assert again == data
    assert isinstance(again.orders[0].total, Decimal)
    assert again.orders[0].placed_at.tzinfo is not None


def test_size_and_shape(data: SeedData) -> None:
    assert len(data.customers) == 60
    assert 40 <= len(data.accounts) <= 50
    members = Counter(c.account_id for c in data.customers)
    assert any(count == 2 for count in members.values())
    assert 20 <= len(data.cases) <= 30
    tiers = Counter(c.tier for c in data.customers)
    assert tiers[CustomerTier.STANDARD] > len(data.customers) / 2
    assert tiers[CustomerTier.PREMIUM] > 0 and tiers[CustomerTier.ENTERPRISE] > 0
    per_customer = Counter(o.customer_id for o in data.orders)
    assert all(1 <= per_customer[c.id] <= 4 for c in data.customers)
    assert {s.carrier for o in data.orders for s in o.shipments} == {"UPS", "FedEx", "USPS", "DHL"}
    assert len({c.status for c in data.cases}) >= 4
    assert len({o.status for o in data.orders}) >= 5
    assert len({i.status for i in data.invoices}) == 4


@pytest.mark.parametrize("seed", SEEDS)
def test_guaranteed_records(seed: int) -> None:
    data = generate_seed(seed=seed)
    ids = _by_id(data)
    alex = data.customers[0]
    assert (alex.id, alex.name, alex.email, alex.phone) == (
        "C-1001",
        "Alex Morgan",
        "alex.morgan@example.com",
        "+1 415 555 0101",
    )
    account = ids["accounts"][alex.account_id or ""]
    assert (account.id, account.name, account.tier) == ("ACC-1001", "Alex Morgan", CustomerTier.PREMIUM)

    a1001 = ids["orders"]["A1001"]
    assert (a1001.customer_id, a1001.status) == ("C-1001", OrderStatus.SHIPPED)
    (shipment,) = a1001.shipments
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == ("UPS", "1Z999AA10123456784", "in_transit")
    assert len(shipment.events) >= 2 and shipment.estimated_delivery is not None
    assert ids["invoices"]["INV-A1001"].status == InvoiceStatus.PAID

    case = ids["cases"]["00001001"]
    assert (case.customer_id, case.subject, case.status) == ("C-1001", "Charger stopped working", CaseStatus.WORKING)
    assert [c.public for c in case.comments] == [True]
    assert [c.number for c in data.cases if c.customer_id == "C-1001"] == ["00001001"]

    priya, jordan = data.customers[1], data.customers[2]
    assert (priya.id, priya.name, priya.email) == ("C-1002", "Priya Shah", "priya.shah@example.com")
    assert ids["orders"]["A1002"].customer_id == "C-1002"
    assert ids["orders"]["A1002"].status == OrderStatus.DELIVERED
    assert ids["invoices"]["INV-A1002"].status == InvoiceStatus.OPEN
    assert not [c for c in data.cases if c.customer_id == "C-1002"]
    assert (jordan.id, jordan.name, jordan.email) == ("C-1003", "Jordan Lee", "jordan.lee@example.com")
    a1003 = ids["orders"]["A1003"]
    assert (a1003.customer_id, a1003.status, a1003.shipments) == ("C-1003", OrderStatus.PROCESSING, ())


def test_generated_identifiers(data: SeedData) -> None:
    assert [c.id for c in data.customers] == [f"C-{1001 + i}" for i in range(60)]
    assert [o.id for o in data.orders] == [f"A{1001 + i}" for i in range(len(data.orders))]
    assert [c.number for c in data.cases] == [f"{1001 + i:08d}" for i in range(len(data.cases))]
    for customer in data.customers:
        first, last = customer.name.lower().split(" ")
        assert customer.email == f"{first}.{last}@example.com"
    assert len({c.email for c in data.customers}) == 60
    assert len({c.phone for c in data.customers}) == 60
    tracking = [s.tracking_number for o in data.orders for s in o.shipments]
    assert len(set(tracking)) == len(tracking)


@pytest.mark.parametrize("seed", SEEDS)
def test_references_resolve(seed: int) -> None:
    data = generate_seed(seed=seed)
    ids = _by_id(data)
    for customer in data.customers:
        assert ids["accounts"][customer.account_id or ""].tier == customer.tier
    for record in (*data.orders, *data.cases, *data.invoices, *data.returns):
        assert record.customer_id in ids["customers"]
    for request in data.returns:
        order = ids["orders"][request.order_id]
        assert order.customer_id == request.customer_id
        assert set(request.skus) <= {line.sku for line in order.lines}
        assert order.status in (OrderStatus.DELIVERED, OrderStatus.RETURNED)


@pytest.mark.parametrize("seed", SEEDS)
def test_money_adds_up(seed: int) -> None:
    data = generate_seed(seed=seed)
    assert [i.order_id for i in data.invoices] == [o.id for o in data.orders]
    for order, invoice in zip(data.orders, data.invoices, strict=True):
        assert order.lines
        assert order.total == sum(line.unit_price * line.quantity for line in order.lines)
        assert order.total.as_tuple().exponent == -2
        assert (invoice.id, invoice.amount, invoice.customer_id) == (f"INV-{order.id}", order.total, order.customer_id)
        assert invoice.issued_at <= invoice.due_at
        if order.status == OrderStatus.CANCELLED:
            assert invoice.status == InvoiceStatus.VOID
        else:
            assert invoice.status != InvoiceStatus.VOID
        if order.status == OrderStatus.PENDING:
            assert invoice.status == InvoiceStatus.OPEN
        if invoice.status == InvoiceStatus.OVERDUE:
            assert invoice.due_at < DEFAULT_NOW.date()
        if invoice.status == InvoiceStatus.OPEN:
            assert invoice.due_at >= DEFAULT_NOW.date() or order.status == OrderStatus.PENDING


@pytest.mark.parametrize("seed", SEEDS)
def test_shipments_follow_order_status(seed: int) -> None:
    data = generate_seed(seed=seed)
    for order in data.orders:
        shipped = order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.RETURNED)
        assert bool(order.shipments) == shipped, order.id
        for shipment in order.shipments:
            times = [event.at for event in shipment.events]
            assert 2 <= len(times) <= 5 and times == sorted(times)
            assert shipment.shipped_at is not None and order.placed_at < shipment.shipped_at
            assert times[-1] <= DEFAULT_NOW
            if order.status == OrderStatus.SHIPPED:
                assert shipment.status in ("in_transit", "out_for_delivery", "exception")
                assert shipment.delivered_at is None
            else:
                assert shipment.status == "delivered" and shipment.delivered_at == times[-1]
                assert shipment.events[-1].description.startswith("Delivered")


@pytest.mark.parametrize("seed", SEEDS)
def test_cases_are_coherent(seed: int) -> None:
    data = generate_seed(seed=seed)
    created = [case.created_at for case in data.cases[1:]]
    assert created == sorted(created)  # numbers follow the order cases were opened
    for case in data.cases:
        assert case.created_at <= case.updated_at <= DEFAULT_NOW
        assert len(case.comments) <= 3
        assert [c.created_at for c in case.comments] == sorted(c.created_at for c in case.comments)
        assert all(case.created_at <= c.created_at <= case.updated_at for c in case.comments)
        assert len({c.id for c in case.comments}) == len(case.comments)
        if case.status == CaseStatus.NEW:
            assert case.comments == ()
        orders = {o.id for o in data.orders if o.customer_id == case.customer_id}
        for word in case.subject.replace("?", "").split():
            if word.startswith("A1") and word[1:].isdigit():
                assert word in orders


def test_now_moves_every_date() -> None:
    now = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    data = generate_seed(now=now)
    stamps = [o.placed_at for o in data.orders] + [c.updated_at for c in data.cases]
    stamps += [e.at for o in data.orders for s in o.shipments for e in s.events] + [r.created_at for r in data.returns]
    assert max(stamps) <= now
    assert all(stamp.tzinfo == UTC for stamp in stamps)
    assert min(stamps) > now - timedelta(days=400)
    assert generate_seed(now=now) == data != generate_seed()


@pytest.mark.parametrize("count", [3, 4, 200])
def test_other_sizes(count: int) -> None:
    data = generate_seed(customers=count)
    assert len(data.customers) == count
    assert data.customers[0].id == "C-1001" and data.cases[0].number == "00001001"
    assert len({c.email for c in data.customers}) == count


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(GrounddeskError) as caught:
        generate_seed(customers=2)
    assert caught.value.code == ErrorCode.INVALID_INPUT
    with pytest.raises(GrounddeskError):
        generate_seed(now=datetime(2026, 1, 1))  # naive on purpose
