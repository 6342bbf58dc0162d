"""Tables of the demo back-end (the fictional company's CRM and ERP in one SQLite file) and its seed loader.

They belong to their own :data:`demo_metadata`, not to grounddesk's: this database stands for the company's
systems, which grounddesk only reaches through connectors. Money is stored as text so that no digit is lost;
timestamps are UTC.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeDecorator

from grounddesk.db.types import UTCDateTime
from grounddesk.demo.seed import SeedData

__all__ = [
    "accounts",
    "case_comments",
    "cases",
    "customers",
    "demo_metadata",
    "has_data",
    "idempotency_keys",
    "invoices",
    "load_seed",
    "order_lines",
    "orders",
    "phone_digits",
    "returns",
    "shipments",
    "tracking_events",
]


class _Money(TypeDecorator[Decimal]):
    """A Decimal amount stored as its exact text."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        """Store the exact digits."""
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        """Read the digits back as a Decimal."""
        return None if value is None else Decimal(value)


demo_metadata = MetaData()

accounts = Table(
    "accounts",
    demo_metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("status", String(16), nullable=False),
)

customers = Table(
    "customers",
    demo_metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("email", String(255)),
    Column("email_lower", String(255), index=True),
    Column("phone", String(64)),
    Column("phone_digits", String(32), index=True),
    Column("account_id", String(32), ForeignKey("accounts.id")),
    Column("tier", String(16), nullable=False),
)

cases = Table(
    "cases",
    demo_metadata,
    Column("number", String(16), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("customer_id", String(32), ForeignKey("customers.id"), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("origin", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_cases_customer_created", "customer_id", "created_at"),
)

case_comments = Table(
    "case_comments",
    demo_metadata,
    Column("id", String(48), primary_key=True),
    Column("case_number", String(16), ForeignKey("cases.number"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

orders = Table(
    "orders",
    demo_metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_id", String(32), ForeignKey("customers.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", _Money, nullable=False),
    Index("ix_orders_customer_placed", "customer_id", "placed_at"),
)

order_lines = Table(
    "order_lines",
    demo_metadata,
    Column("order_id", String(32), ForeignKey("orders.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("description", String(255), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", _Money, nullable=False),
)

shipments = Table(
    "shipments",
    demo_metadata,
    Column("id", String(48), primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("carrier", String(32), nullable=False),
    Column("tracking_number", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("shipped_at", UTCDateTime),
    Column("estimated_delivery", Date),
    Column("delivered_at", UTCDateTime),
)

tracking_events = Table(
    "tracking_events",
    demo_metadata,
    Column("shipment_id", String(48), ForeignKey("shipments.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("location", String(255), nullable=False),
    Column("description", String(255), nullable=False),
)

invoices = Table(
    "invoices",
    demo_metadata,
    Column("id", String(48), primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False, unique=True),
    Column("customer_id", String(32), nullable=False),
    Column("issued_at", Date, nullable=False),
    Column("due_at", Date, nullable=False),
    Column("amount", _Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
)

returns = Table(
    "returns",
    demo_metadata,
    Column("id", String(32), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False, index=True),
    Column("customer_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("skus", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("amount", _Money),
)

#: One row per write done under an idempotency key, inserted in the write's own transaction.
idempotency_keys = Table(
    "idempotency_keys",
    demo_metadata,
    Column("operation", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("result_id", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


def phone_digits(phone: str) -> str:
    """The digits of a phone number, with the North American country code added to 10-digit numbers."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "1" + digits if len(digits) == 10 else digits


def has_data(conn: Connection) -> bool:
    """Whether the back-end already holds customers."""
    return bool(conn.execute(select(func.count()).select_from(customers)).scalar_one())


def load_seed(conn: Connection, seed: SeedData) -> None:
    """Insert every seed record (in the caller's transaction)."""
    conn.execute(accounts.insert(), [a.model_dump(include={"id", "name", "tier", "status"}) for a in seed.accounts])
    conn.execute(
        customers.insert(),
        [
            {
                **c.model_dump(include={"id", "name", "email", "phone", "account_id", "tier"}),
                "email_lower": c.email.lower() if c.email else None,
                "phone_digits": phone_digits(c.phone) if c.phone else None,
            }
            for c in seed.customers
        ],
    )
    if seed.cases:
        conn.execute(
            cases.insert(),
            [
                {
                    **c.model_dump(exclude={"comments", "record_id"}),
                    "seq": int(c.number),
                    "origin": "web",
                }
                for c in seed.cases
            ],
        )
    comments = [
        {**m.model_dump(), "case_number": c.number, "position": i} for c in seed.cases for i, m in enumerate(c.comments)
    ]
    if comments:
        conn.execute(case_comments.insert(), comments)
    _load_orders(conn, seed)
    if seed.invoices:
        conn.execute(invoices.insert(), [i.model_dump() for i in seed.invoices])
    if seed.returns:
        conn.execute(
            returns.insert(),
            [{**r.model_dump(), "skus": list(r.skus), "seq": int(r.id.rsplit("-", 1)[1])} for r in seed.returns],
        )


def _load_orders(conn: Connection, seed: SeedData) -> None:
    if not seed.orders:
        return
    conn.execute(orders.insert(), [o.model_dump(exclude={"lines", "shipments"}) for o in seed.orders])
    lines = [
        {**line.model_dump(), "order_id": o.id, "position": i} for o in seed.orders for i, line in enumerate(o.lines)
    ]
    if lines:
        conn.execute(order_lines.insert(), lines)
    parcels = [(o, i, s) for o in seed.orders for i, s in enumerate(o.shipments)]
    if parcels:
        conn.execute(shipments.insert(), [{**s.model_dump(exclude={"events"}), "position": i} for _, i, s in parcels])
    events = [
        {**e.model_dump(), "shipment_id": s.id, "position": k} for _, _, s in parcels for k, e in enumerate(s.events)
    ]
    if events:
        conn.execute(tracking_events.insert(), events)
