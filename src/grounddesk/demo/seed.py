"""Deterministic seed data for the demo CRM and ERP: Northwind's customers, orders, invoices and cases.

The same ``seed`` and ``now`` always give the same records, so tests and the demo can name them. A few records
are guaranteed whatever the seed (the conversations in the README and the evals use them):

* ``C-1001`` Alex Morgan (``alex.morgan@example.com``, ``+1 415 555 0101``), account ``ACC-1001`` (premium),
  order ``A1001`` shipped by UPS ``1Z999AA10123456784`` and in transit, invoice ``INV-A1001`` paid, and case
  ``00001001`` "Charger stopped working" (working, one public comment); no other case.
* ``C-1002`` Priya Shah with the delivered order ``A1002`` and the open invoice ``INV-A1002``; no cases.
* ``C-1003`` Jordan Lee with the processing order ``A1003`` (not shipped yet).

Example:
    >>> data = generate_seed()
    >>> data.customers[0].name
    'Alex Morgan'
    >>> SeedData.model_validate_json(data.model_dump_json()) == data
    True
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from grounddesk.connectors.types import (
    Account,
    Case,
    Customer,
    CustomerTier,
    Invoice,
    Order,
    OrderLine,
    OrderStatus,
    ReturnRequest,
)
from grounddesk.demo import _catalog as cat
from grounddesk.demo._seed_records import RecordFactory
from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = ["DEFAULT_NOW", "SeedData", "generate_seed"]

#: The default "now" of the seed data, fixed so that the data (and the dates in it) never drift.
DEFAULT_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

_FIXED_PEOPLE = (
    ("C-1001", "Alex Morgan", "+1 415 555 0101", "San Francisco, CA", CustomerTier.PREMIUM),
    ("C-1002", "Priya Shah", "+1 303 555 0102", "Denver, CO", CustomerTier.STANDARD),
    ("C-1003", "Jordan Lee", "+1 206 555 0103", "Seattle, WA", CustomerTier.STANDARD),
)


class SeedData(BaseModel):
    """Everything the demo back-end holds at the start: CRM records (accounts, customers, cases) and ERP records.

    Attributes:
        accounts: Accounts, ``ACC-1001`` first.
        customers: Customers, ``C-1001`` first; each one's ``account_id`` is in ``accounts``.
        cases: Cases by number, with their comments.
        orders: Orders by id, with lines and shipments; ``total`` is the sum of the lines.
        invoices: One invoice per order (``INV-<order id>``), for the order's total.
        returns: Return and refund requests already open or done.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    accounts: list[Account]
    customers: list[Customer]
    cases: list[Case]
    orders: list[Order]
    invoices: list[Invoice]
    returns: list[ReturnRequest]


def generate_seed(*, seed: int = 7, customers: int = 60, now: datetime | None = None) -> SeedData:
    """Generate the demo data set.

    Args:
        seed: Seed of the random generator; the same seed and ``now`` give the same data.
        customers: How many customers (at least 3: the guaranteed ones). About three in four have an account
            of their own; the others share one (a household or a business), and about 25 cases come per 60
            customers.
        now: The moment the data describes (timezone-aware); defaults to :data:`DEFAULT_NOW`. Every timestamp
            in the data is at or before it.

    Returns:
        The seed data.

    Raises:
        GrounddeskError: ``customers`` < 3 or ``now`` is naive (code ``invalid_input``).
    """
    if customers < len(_FIXED_PEOPLE):
        raise GrounddeskError(
            f"The demo data needs at least {len(_FIXED_PEOPLE)} customers", code=ErrorCode.INVALID_INPUT
        )
    if now is None:
        now = DEFAULT_NOW
    if now.tzinfo is None:
        raise GrounddeskError("now must be timezone-aware", code=ErrorCode.INVALID_INPUT)
    now = now.astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    factory = RecordFactory(rng, now)
    accounts, people = _people(rng, customers)
    cities = {customer.id: city for customer, city in people}
    people_only = [customer for customer, _ in people]
    orders = _orders(rng, factory, people_only, cities, now)
    # A1001 was paid at checkout; A1002 is billed on 30-day terms and still open.
    at_checkout = {"A1001": True, "A1002": False}
    invoices = [
        factory.invoice(order, _tier(people_only, order.customer_id), paid_at_checkout=at_checkout.get(order.id))
        for order in orders
    ]
    returns = factory.returns(orders)
    cases = factory.cases(people_only, orders, count=max(1, round(customers * 25 / 60)))
    return SeedData(
        accounts=accounts, customers=people_only, cases=cases, orders=orders, invoices=invoices, returns=returns
    )


def _tier(customers: list[Customer], customer_id: str) -> CustomerTier:
    return next(c.tier for c in customers if c.id == customer_id)


def _email(name: str) -> str:
    first, _, last = name.partition(" ")
    return f"{first}.{last}@example.com".lower()


def _phone(rng: random.Random, index: int) -> tuple[str, str]:
    city, area = rng.choice(cat.CITIES)
    return f"+1 {area} 555 {100 + index:04d}", city


def _people(rng: random.Random, count: int) -> tuple[list[Account], list[tuple[Customer, str]]]:
    """Accounts and customers (each with the city parcels go to)."""
    accounts: list[Account] = []
    people: list[tuple[Customer, str]] = []
    for customer_id, name, phone, city, tier in _FIXED_PEOPLE:
        account_id = customer_id.replace("C-", "ACC-")
        accounts.append(Account(id=account_id, name=name, tier=tier))
        customer = Customer(
            id=customer_id, name=name, email=_email(name), phone=phone, account_id=account_id, tier=tier
        )
        people.append((customer, city))
    generated = count - len(_FIXED_PEOPLE)
    n_accounts = max(round(count * 0.75) - len(_FIXED_PEOPLE), (generated + 1) // 2)
    shared = set(rng.sample(range(n_accounts), generated - n_accounts))
    used: set[str] = {name for _, name, *_ in _FIXED_PEOPLE}
    businesses = list(cat.BUSINESS_NAMES)
    rng.shuffle(businesses)
    for index in range(n_accounts):
        account_id = f"ACC-{1004 + index}"
        if index not in shared:
            names = [_new_name(rng, used)]
            tier = CustomerTier.PREMIUM if rng.random() < 0.15 else CustomerTier.STANDARD
            account_name = names[0]
        elif businesses and rng.random() < 0.4:
            names = [_new_name(rng, used), _new_name(rng, used)]
            tier, account_name = CustomerTier.ENTERPRISE, businesses.pop()
        else:
            first = _new_name(rng, used)
            surname = first.split(" ", 1)[1]
            names = [first, _new_name(rng, used, surname=surname)]
            tier = CustomerTier.PREMIUM if rng.random() < 0.3 else CustomerTier.STANDARD
            account_name = f"{surname} household"
        accounts.append(Account(id=account_id, name=account_name, tier=tier))
        for name in names:
            index_in_all = len(people)
            phone, city = _phone(rng, index_in_all + 1)
            customer = Customer(
                id=f"C-{1001 + index_in_all}",
                name=name,
                email=_email(name),
                phone=phone,
                account_id=account_id,
                tier=tier,
            )
            people.append((customer, city))
    return accounts, people


def _new_name(rng: random.Random, used: set[str], *, surname: str | None = None) -> str:
    for _ in range(1000):
        name = f"{rng.choice(cat.FIRST_NAMES)} {surname or rng.choice(cat.LAST_NAMES)}"
        if name not in used:
            used.add(name)
            return name
    raise GrounddeskError("Ran out of distinct demo names", code=ErrorCode.INVALID_INPUT)


def _orders(
    rng: random.Random, factory: RecordFactory, customers: list[Customer], cities: dict[str, str], now: datetime
) -> list[Order]:
    """The three guaranteed orders, then everyone's generated orders numbered in the order they were placed."""
    products = {product.sku: product for product in cat.PRODUCTS}

    def lines(*items: tuple[str, int]) -> list[OrderLine]:
        return [
            OrderLine(sku=sku, description=products[sku].description, quantity=qty, unit_price=products[sku].price)
            for sku, qty in items
        ]

    at = now.replace(minute=0)
    fixed = [
        factory.order(
            "A1001",
            "C-1001",
            OrderStatus.SHIPPED,
            at - timedelta(days=4, hours=2, minutes=46),
            lines(("NW-HL-400", 1), ("NW-CBL-USBC2", 2)),
            cities["C-1001"],
            tracking=("UPS", "1Z999AA10123456784"),
        ),
        factory.order(
            "A1002",
            "C-1002",
            OrderStatus.DELIVERED,
            at - timedelta(days=21, hours=5, minutes=12),
            lines(("NW-JKT-EMB650", 1), ("NW-SCK-MERINO", 2)),
            cities["C-1002"],
        ),
        factory.order(
            "A1003",
            "C-1003",
            OrderStatus.PROCESSING,
            at - timedelta(hours=20, minutes=31),
            lines(("NW-TNT-2P", 1)),
            cities["C-1003"],
        ),
    ]
    # Alex's charger (case 00001001) came in an earlier order.
    plans: list[tuple[str, datetime, list[OrderLine]]] = [
        ("C-1001", at - timedelta(days=63, hours=3, minutes=8), lines(("NW-CHG-SOL20", 1), ("NW-PWR-10K", 1)))
    ]
    for customer in customers[len(_FIXED_PEOPLE) :]:
        for _ in range(rng.randint(1, 4)):
            recent = rng.random() < 0.25
            age = timedelta(days=rng.uniform(0.1, 12) if recent else rng.uniform(12, 330))
            placed = (now - age).replace(second=0)
            picks = rng.sample(cat.PRODUCTS, rng.choice((1, 1, 2, 2, 3)))
            chosen = [(p.sku, 2 if p.price < 40 and rng.random() < 0.4 else 1) for p in picks]
            plans.append((customer.id, placed, lines(*chosen)))
    plans.sort(key=lambda plan: plan[1])
    generated = [
        factory.order(
            f"A{1004 + index}", customer_id, _status(rng, now - placed), placed, order_lines, cities[customer_id]
        )
        for index, (customer_id, placed, order_lines) in enumerate(plans)
    ]
    return fixed + generated


def _status(rng: random.Random, age: timedelta) -> OrderStatus:
    days = age.total_seconds() / 86_400
    draw = rng.random()
    if draw < 0.05:
        return OrderStatus.CANCELLED
    if days < 1:
        return OrderStatus.PENDING if draw < 0.35 else OrderStatus.PROCESSING
    if days < 3:
        return OrderStatus.PROCESSING if draw < 0.4 else OrderStatus.SHIPPED
    if days < 9:
        return OrderStatus.SHIPPED if draw < 0.7 else OrderStatus.DELIVERED
    if days > 20 and draw > 0.92:
        return OrderStatus.RETURNED
    return OrderStatus.DELIVERED
