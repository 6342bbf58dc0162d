"""Builders of the seed records that depend on each other: shipments and their scans, invoices, returns, cases."""

from __future__ import annotations

import random
import string
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from grounddesk.connectors.types import (
    Case,
    CaseComment,
    CaseStatus,
    Customer,
    CustomerTier,
    Invoice,
    InvoiceStatus,
    Order,
    OrderLine,
    OrderStatus,
    ReturnRequest,
    Shipment,
    TrackingEvent,
)
from grounddesk.demo import _catalog as cat

__all__ = ["RecordFactory"]

_CENT = Decimal("0.01")
_PRIORITIES: tuple[Literal["low", "medium", "high", "urgent"], ...] = ("low", "medium", "high", "urgent")
_ShipmentStatus = Literal["in_transit", "out_for_delivery", "delivered", "exception"]
#: Scan kinds in the order a parcel meets them.
_SCANS = ("label", "pickup", "hub_in", "hub_out", "hub_in_2", "out", "exception", "delivered")
_GUARANTEED_CUSTOMERS = frozenset({"C-1001", "C-1002", "C-1003"})


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class RecordFactory:
    """Makes orders, invoices, returns and cases from one random generator, all dated at or before ``now``.

    Args:
        rng: The seeded generator; calls must come in the same order for the same data.
        now: The moment the data describes (UTC).
    """

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self._rng = rng
        self._now = now

    # --- orders and shipments -----------------------------------------------------------------------------

    def order(
        self,
        order_id: str,
        customer_id: str,
        status: OrderStatus,
        placed_at: datetime,
        lines: Sequence[OrderLine],
        city: str,
        *,
        tracking: tuple[str, str] | None = None,
    ) -> Order:
        """An order whose total is the sum of its lines, shipped to ``city`` once its status says so."""
        total = sum((line.unit_price * line.quantity for line in lines), Decimal("0")).quantize(_CENT)
        shipments: tuple[Shipment, ...] = ()
        if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.RETURNED):
            shipments = (self._shipment(order_id, status, placed_at, city, tracking),)
        return Order(
            id=order_id,
            customer_id=customer_id,
            status=status,
            placed_at=placed_at,
            total=total,
            lines=tuple(lines),
            shipments=shipments,
        )

    def _tracking_number(self, carrier: str) -> str:
        rng = self._rng
        digits = string.digits
        if carrier == "UPS":
            shipper = "".join(rng.choice(string.ascii_uppercase + digits) for _ in range(6))
            return f"1Z{shipper}03{''.join(rng.choice(digits) for _ in range(8))}"
        if carrier == "FedEx":
            return str(rng.randint(10**11, 10**12 - 1))
        if carrier == "USPS":
            return "9400" + "".join(rng.choice(digits) for _ in range(18))
        return str(rng.randint(10**9, 10**10 - 1))  # DHL Express waybill

    def _shipment(
        self, order_id: str, status: OrderStatus, placed_at: datetime, city: str, tracking: tuple[str, str] | None
    ) -> Shipment:
        rng, now = self._rng, self._now
        carrier = tracking[0] if tracking else rng.choice(("UPS", "UPS", "FedEx", "USPS", "DHL"))
        number = tracking[1] if tracking else self._tracking_number(carrier)
        transit = timedelta(hours=rng.uniform(40, 130))
        if status == OrderStatus.SHIPPED:
            shipped_at = _minute(min(placed_at + timedelta(hours=rng.uniform(8, 30)), now - timedelta(hours=6)))
            draw = rng.random()
            kind: _ShipmentStatus = "in_transit"
            if not tracking and draw > 0.8:
                kind = "out_for_delivery" if draw > 0.9 else "exception"
            last = _minute(shipped_at + (now - shipped_at) * rng.uniform(0.5, 0.9))
            estimated = max((shipped_at + transit).date(), now.date() + timedelta(days=1))
            delivered_at = None
        else:
            shipped_at = _minute(placed_at + timedelta(hours=rng.uniform(8, 30)))
            kind = "delivered"
            last = delivered_at = _minute(min(shipped_at + transit, now - timedelta(hours=1)))
            estimated = (shipped_at + transit).date()
        events = self._events(carrier, kind, shipped_at, last, city)
        return Shipment(
            id=f"SHP-{order_id}-1",
            order_id=order_id,
            carrier=carrier,
            tracking_number=number,
            status=kind,
            shipped_at=shipped_at,
            estimated_delivery=estimated,
            delivered_at=delivered_at,
            events=events,
        )

    def _events(
        self, carrier: str, kind: _ShipmentStatus, shipped_at: datetime, last: datetime, city: str
    ) -> tuple[TrackingEvent, ...]:
        """2-5 scans, oldest first: the pickup, the scan that says ``kind``, and some of the ones between."""
        rng = self._rng
        final = {"delivered": "delivered", "out_for_delivery": "out", "exception": "exception"}.get(kind)
        optional = ["label", "hub_in", "hub_out", "hub_in_2"] if final is None else ["label", "hub_in", "out"]
        if final == "out":
            optional.remove("out")
        mandatory = ["pickup"] + ([final] if final else [])
        count = rng.randint(2, min(5, len(mandatory) + len(optional)))
        scans = sorted(mandatory + rng.sample(optional, count - len(mandatory)), key=_SCANS.index)
        hubs = rng.sample(cat.CARRIER_HUBS[carrier], 2)
        places = {"label": cat.ORIGIN, "pickup": cat.ORIGIN, "hub_in": hubs[0], "hub_out": hubs[0]}
        places |= {"hub_in_2": hubs[1], "out": city, "delivered": city, "exception": hubs[1]}
        texts = {
            "label": "Shipping label created",
            "pickup": "Picked up by carrier",
            "hub_in": "Arrived at carrier facility",
            "hub_out": "Departed carrier facility",
            "hub_in_2": "Arrived at carrier facility",
            "out": "Out for delivery",
            "exception": "Delivery exception: severe weather, delivery rescheduled",
            "delivered": "Delivered, left at front door",
        }
        first = shipped_at - timedelta(hours=rng.uniform(2, 6)) if scans[0] == "label" else shipped_at
        step = (last - first) / (len(scans) - 1)
        times = [_minute(first + step * i) for i in range(len(scans) - 1)] + [last]
        if "pickup" in scans and scans[0] == "label":
            times[1] = max(times[1], shipped_at)
        return tuple(
            TrackingEvent(at=at, location=places[scan], description=texts[scan])
            for at, scan in zip(times, scans, strict=True)
        )

    # --- invoices and returns -----------------------------------------------------------------------------

    def invoice(self, order: Order, tier: CustomerTier, *, paid_at_checkout: bool | None = None) -> Invoice:
        """The order's invoice: void if cancelled, open while pending, paid or on 30-day terms otherwise."""
        if paid_at_checkout is None:
            paid_at_checkout = self._rng.random() < (0.25 if tier == CustomerTier.ENTERPRISE else 0.85)
        issued = order.placed_at.date()
        due = issued + timedelta(days=30)
        if order.status == OrderStatus.CANCELLED:
            status = InvoiceStatus.VOID
        elif order.status == OrderStatus.PENDING:
            status = InvoiceStatus.OPEN
        elif paid_at_checkout or order.status == OrderStatus.RETURNED:
            status = InvoiceStatus.PAID
        elif due < self._now.date():
            status = InvoiceStatus.PAID if self._rng.random() < 0.6 else InvoiceStatus.OVERDUE
        else:
            status = InvoiceStatus.OPEN
        return Invoice(
            id=f"INV-{order.id}",
            order_id=order.id,
            customer_id=order.customer_id,
            issued_at=issued,
            due_at=due,
            amount=order.total,
            currency=order.currency,
            status=status,
        )

    def returns(self, orders: Sequence[Order]) -> list[ReturnRequest]:
        """Refunded returns of the returned orders, and a few requests on recent deliveries; ids by date."""
        rng, now = self._rng, self._now
        drafts: list[ReturnRequest] = []
        for order in orders:
            delivered_at = order.shipments[0].delivered_at if order.shipments else None
            if delivered_at is None or order.customer_id in _GUARANTEED_CUSTOMERS:
                continue
            reason = rng.choice(cat.RETURN_REASONS)
            kind: Literal["return", "refund"] = "refund" if reason == "Arrived damaged." else "return"
            if order.status == OrderStatus.RETURNED:
                created = min(delivered_at + timedelta(days=rng.uniform(2, 14)), now - timedelta(days=1))
                status: Literal["requested", "approved", "received", "refunded"] = "refunded"
                skus: tuple[str, ...] = ()
                amount: Decimal | None = order.total
            elif now - delivered_at < timedelta(days=30) and rng.random() < 0.3:
                created = delivered_at + (now - delivered_at) * rng.uniform(0.2, 0.9)
                status = rng.choice(("requested", "approved", "received"))
                line = rng.choice(order.lines)
                skus = (line.sku,) if len(order.lines) > 1 else ()
                amount = None if status == "requested" else (line.unit_price * line.quantity).quantize(_CENT)
            else:
                continue
            drafts.append(
                ReturnRequest(
                    id="",
                    order_id=order.id,
                    customer_id=order.customer_id,
                    kind=kind,
                    reason=reason,
                    skus=skus,
                    status=status,
                    created_at=_minute(created),
                    amount=amount,
                )
            )
        drafts.sort(key=lambda draft: draft.created_at)
        return [draft.model_copy(update={"id": f"R-{1001 + i}"}) for i, draft in enumerate(drafts)]

    # --- cases --------------------------------------------------------------------------------------------

    def cases(self, customers: Sequence[Customer], orders: Sequence[Order], *, count: int) -> list[Case]:
        """Case ``00001001`` of Alex Morgan, then ``count - 1`` cases of other customers, numbered by date."""
        now = self._now
        opened = _minute(now - timedelta(days=2, hours=3, minutes=12))
        answered = opened + timedelta(hours=5, minutes=40)
        first = Case(
            number="00001001",
            customer_id="C-1001",
            subject="Charger stopped working",
            description="My Sunpeak 20W solar charger no longer charges my phone, even in full sun. "
            "The light blinks red.",
            status=CaseStatus.WORKING,
            priority="high",
            created_at=opened,
            updated_at=answered,
            comments=(
                CaseComment(
                    id="CMT-00001001-1",
                    body="Sorry to hear that! Could you try a different cable and tell us whether the light still "
                    "blinks red? If it does, we'll replace the charger under warranty.",
                    created_at=answered,
                    public=True,
                ),
            ),
        )
        by_customer: dict[str, list[Order]] = defaultdict(list)
        for order in orders:
            by_customer[order.customer_id].append(order)
        eligible = [customer for customer in customers if customer.id not in _GUARANTEED_CUSTOMERS]
        drafts = [self._case(self._rng.choice(eligible), by_customer) for _ in range(count - 1)] if eligible else []
        drafts.sort(key=lambda draft: draft.created_at)
        numbered = []
        for i, draft in enumerate(drafts):
            number = f"{1002 + i:08d}"
            comments = tuple(
                comment.model_copy(update={"id": f"CMT-{number}-{k + 1}"}) for k, comment in enumerate(draft.comments)
            )
            numbered.append(draft.model_copy(update={"number": number, "comments": comments}))
        return [first, *numbered]

    def _case(self, customer: Customer, by_customer: dict[str, list[Order]]) -> Case:
        rng, now = self._rng, self._now
        choices = [(t, o) for t in cat.CASE_TEMPLATES for o in _orders_for(t, by_customer[customer.id])]
        # People write about recent orders far more often than about last winter's.
        weights = [0.25 if o is None else 30 / (30 + (now - o.placed_at).days) for _, o in choices]
        template, order = rng.choices(choices, weights=weights)[0]
        product = ""
        if order is not None:
            start = order.placed_at + timedelta(hours=2)
            lines = [line for line in order.lines if _matches(template, line)]
            product = rng.choice(lines).description
        else:
            start = now - timedelta(days=30)
        span = max(min(now - timedelta(hours=1) - start, timedelta(days=21)), timedelta(0))
        created = _minute(start + span * rng.random())
        age = now - created
        status = self._case_status(age)
        n_comments = 0 if status == CaseStatus.NEW else rng.randint(1, 3)
        updated = created if n_comments == 0 else _minute(created + min(age, timedelta(days=6)) * rng.uniform(0.3, 1))
        comments = self._comments(created, updated, n_comments, escalated=status == CaseStatus.ESCALATED)
        bump = 1 if customer.tier != CustomerTier.STANDARD else 0
        level = rng.choices(range(4), weights=(25, 50, 20, 5))[0]
        fill = {"order": order.id if order else "", "product": product}
        return Case(
            number="",
            customer_id=customer.id,
            subject=template.subject.format(**fill),
            description=template.description.format(**fill),
            status=status,
            priority=_PRIORITIES[min(level + bump, 3)],
            created_at=created,
            updated_at=updated,
            comments=comments,
        )

    def _case_status(self, age: timedelta) -> CaseStatus:
        rng = self._rng
        if age > timedelta(days=30):
            return CaseStatus.CLOSED if rng.random() < 0.85 else CaseStatus.WAITING_ON_CUSTOMER
        if age < timedelta(days=2):
            return rng.choice((CaseStatus.NEW, CaseStatus.NEW, CaseStatus.WORKING))
        return rng.choices(
            (CaseStatus.WORKING, CaseStatus.WAITING_ON_CUSTOMER, CaseStatus.ESCALATED, CaseStatus.CLOSED),
            weights=(3, 2, 1, 3),
        )[0]

    def _comments(
        self, created: datetime, updated: datetime, count: int, *, escalated: bool
    ) -> tuple[CaseComment, ...]:
        rng = self._rng
        comments = []
        for k in range(count):
            at = updated if k == count - 1 else _minute(created + (updated - created) * (k + 1) / count)
            agent = k % 2 == 0
            body = rng.choice(cat.COMMENTS_AGENT if agent else cat.COMMENTS_CUSTOMER)
            public = True
            if escalated and k == count - 1:
                body, public = "Internal: escalated to tier 2 after a second contact; customer verified.", False
            comments.append(CaseComment(id="", body=body, created_at=at, public=public))
        return tuple(comments)


def _matches(template: cat.CaseTemplate, line: OrderLine) -> bool:
    return template.families is None or line.sku.split("-")[1] in template.families


def _orders_for(template: cat.CaseTemplate, orders: list[Order]) -> list[Order | None]:
    if template.statuses is None:
        return [None]
    return [
        order
        for order in orders
        if (not template.statuses or order.status in template.statuses)
        and any(_matches(template, line) for line in order.lines)
    ]
