"""A scripted CRM/ERP back-end for testing resilience: it fails when told to, and counts every call.

:class:`ScriptedConnector` implements both :class:`~grounddesk.connectors.types.CRMConnector` and
:class:`~grounddesk.connectors.types.ERPConnector` over a handful of in-memory records. Tests queue errors per
operation (``fail_next``), hold a call inside the back-end until they release it (``hold``), and check how
often the back-end was reached (``calls_to``). Like many real back-ends it does **not** honour idempotency
keys itself: every ``create_case`` makes a new case, so only a wrapper's ledger keeps writes idempotent.

Example:
    >>> fake = ScriptedConnector()
    >>> fake.fail_next("get_order", ConnectorUnavailable("HTTP 503", connector=fake.name), times=2)
    >>> ResilientERP(fake).get_order("A1001").id  # two retries later
    'A1001'
    >>> fake.calls_to("get_order")
    3
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from grounddesk.connectors.types import (
    Account,
    Case,
    CaseComment,
    CaseStatus,
    ConnectorHealth,
    ConnectorValidationError,
    Customer,
    CustomerTier,
    Invoice,
    InvoiceStatus,
    NewCase,
    NewReturn,
    Order,
    OrderLine,
    OrderStatus,
    RecordNotFound,
    ReturnRequest,
    Shipment,
    TrackingEvent,
)

__all__ = ["Hold", "ScriptedConnector"]

_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class Hold:
    """A gate inside the back-end: calls of one operation signal ``entered`` and wait for ``release``."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    timeout_s: float = 30.0


class ScriptedConnector:
    """A CRM and ERP in one, serving fixed records and failing as scripted.

    Args:
        name: The connector's name (appears in errors).
        kind: What :meth:`health` reports it to be.
    """

    def __init__(self, name: str = "scripted", *, kind: Literal["crm", "erp"] = "crm") -> None:
        self.name = name
        self.kind: Literal["crm", "erp"] = kind
        self._lock = threading.Lock()
        self._script: dict[str, deque[BaseException]] = defaultdict(deque)
        self._holds: dict[str, Hold] = {}
        self.calls: list[str] = []
        self.customers = {c.id: c for c in _customers()}
        self.accounts = {"ACC-1001": Account(id="ACC-1001", name="Alex Morgan", tier=CustomerTier.PREMIUM)}
        self.cases: dict[str, Case] = {case.number: case for case in _cases()}
        self.orders = {order.id: order for order in _orders()}
        self.returns: dict[str, ReturnRequest] = {}
        self.keys_seen: list[str] = []
        self.closed = False

    # --- scripting -----------------------------------------------------------------------------------------

    def fail_next(self, operation: str, error: BaseException, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``operation`` raise ``error``."""
        with self._lock:
            self._script[operation].extend([error] * times)

    def hold(self, operation: str) -> Hold:
        """Make calls of ``operation`` wait inside the back-end until ``release`` is set."""
        gate = Hold()
        with self._lock:
            self._holds[operation] = gate
        return gate

    def calls_to(self, operation: str) -> int:
        """How many times ``operation`` reached the back-end (failed calls included)."""
        with self._lock:
            return self.calls.count(operation)

    def _enter(self, operation: str) -> None:
        with self._lock:
            self.calls.append(operation)
            error = self._script[operation].popleft() if self._script[operation] else None
            gate = self._holds.get(operation)
        if gate is not None:
            gate.entered.set()
            if not gate.release.wait(gate.timeout_s):
                raise TimeoutError(f"{operation} was held for {gate.timeout_s}s and never released")
        if error is not None:
            raise error

    # --- CRM -----------------------------------------------------------------------------------------------

    def find_customer(
        self, *, email: str | None = None, phone: str | None = None, customer_id: str | None = None
    ) -> Customer | None:
        """The customer matching exactly one of the given keys."""
        self._enter("find_customer")
        for customer in self.customers.values():
            if (
                (email is not None and customer.email is not None and customer.email.lower() == email.lower())
                or (phone is not None and customer.phone == phone)
                or (customer_id is not None and customer.id == customer_id)
            ):
                return customer
        return None

    def get_account(self, account_id: str) -> Account:
        """An account by id."""
        self._enter("get_account")
        if account_id not in self.accounts:
            raise RecordNotFound(f"No account {account_id}", connector=self.name, kind="account", key=account_id)
        return self.accounts[account_id]

    def list_cases(
        self, customer_id: str, *, statuses: Sequence[CaseStatus] | None = None, limit: int = 20
    ) -> list[Case]:
        """A customer's cases, newest first."""
        self._enter("list_cases")
        cases = [c for c in self.cases.values() if c.customer_id == customer_id]
        if statuses is not None:
            cases = [c for c in cases if c.status in statuses]
        cases.sort(key=lambda c: c.created_at, reverse=True)
        return [c.model_copy(update={"comments": ()}) for c in cases[:limit]]

    def get_case(self, number: str) -> Case:
        """A case with its comments."""
        self._enter("get_case")
        if number not in self.cases:
            raise RecordNotFound(f"No case {number}", connector=self.name, kind="case", key=number)
        return self.cases[number]

    def create_case(self, case: NewCase, *, idempotency_key: str) -> Case:
        """Open a case (a new one on every call: keys are not honoured)."""
        self._enter("create_case")
        with self._lock:
            self.keys_seen.append(idempotency_key)
            number = f"{1001 + len(self.cases):08d}"
            created = Case(
                number=number,
                customer_id=case.customer_id,
                subject=case.subject,
                description=case.description,
                priority=case.priority,
                created_at=_NOW,
                updated_at=_NOW,
            )
            self.cases[number] = created
        return created

    def add_case_comment(self, number: str, body: str, *, idempotency_key: str, public: bool = True) -> CaseComment:
        """Comment on a case."""
        self._enter("add_case_comment")
        with self._lock:
            self.keys_seen.append(idempotency_key)
            case = self.cases.get(number)
            if case is None:
                raise RecordNotFound(f"No case {number}", connector=self.name, kind="case", key=number)
            comment = CaseComment(id=f"CC-{number}-{len(case.comments) + 1}", body=body, created_at=_NOW, public=public)
            self.cases[number] = case.model_copy(update={"comments": (*case.comments, comment)})
        return comment

    def update_case_status(self, number: str, status: CaseStatus, *, idempotency_key: str) -> Case:
        """Move a case to ``status``."""
        self._enter("update_case_status")
        with self._lock:
            self.keys_seen.append(idempotency_key)
            case = self.cases.get(number)
            if case is None:
                raise RecordNotFound(f"No case {number}", connector=self.name, kind="case", key=number)
            updated = case.model_copy(update={"status": status, "updated_at": _NOW})
            self.cases[number] = updated
        return updated

    # --- ERP -----------------------------------------------------------------------------------------------

    def get_order(self, order_id: str) -> Order:
        """An order with lines and shipments."""
        self._enter("get_order")
        if order_id not in self.orders:
            raise RecordNotFound(f"No order {order_id}", connector=self.name, kind="order", key=order_id)
        return self.orders[order_id]

    def list_orders(self, customer_id: str, *, limit: int = 20) -> list[Order]:
        """A customer's orders, newest first."""
        self._enter("list_orders")
        orders = sorted((o for o in self.orders.values() if o.customer_id == customer_id), key=lambda o: o.placed_at)
        return orders[::-1][:limit]

    def track_shipment(self, order_id: str) -> list[Shipment]:
        """The shipments of an order."""
        self._enter("track_shipment")
        if order_id not in self.orders:
            raise RecordNotFound(f"No order {order_id}", connector=self.name, kind="order", key=order_id)
        return list(self.orders[order_id].shipments)

    def get_invoice(self, order_id: str) -> Invoice:
        """The invoice of an order."""
        self._enter("get_invoice")
        order = self.orders.get(order_id)
        if order is None:
            raise RecordNotFound(f"No invoice for {order_id}", connector=self.name, kind="invoice", key=order_id)
        return Invoice(
            id=f"INV-{order.id}",
            order_id=order.id,
            customer_id=order.customer_id,
            issued_at=order.placed_at.date(),
            due_at=order.placed_at.date() + timedelta(days=30),
            amount=order.total,
            status=InvoiceStatus.PAID,
        )

    def create_return(self, request: NewReturn, *, idempotency_key: str) -> ReturnRequest:
        """Open a return request (a new one on every call)."""
        self._enter("create_return")
        with self._lock:
            self.keys_seen.append(idempotency_key)
            order = self.orders.get(request.order_id)
            if order is None or order.customer_id != request.customer_id:
                raise ConnectorValidationError(
                    f"Order {request.order_id} is not an order of {request.customer_id}", connector=self.name
                )
            created = ReturnRequest(
                id=f"R-{len(self.returns) + 1:05d}",
                order_id=order.id,
                customer_id=order.customer_id,
                kind=request.kind,
                reason=request.reason,
                skus=request.skus,
                created_at=_NOW,
                amount=order.total,
            )
            self.returns[created.id] = created
        return created

    # --- both ----------------------------------------------------------------------------------------------

    def health(self) -> ConnectorHealth:
        """Ok unless a ``health`` failure is scripted (reported, not raised)."""
        try:
            self._enter("health")
        except Exception as error:
            return ConnectorHealth(name=self.name, kind=self.kind, ok=False, detail=str(error))
        return ConnectorHealth(name=self.name, kind=self.kind, ok=True, latency_ms=1.0)

    def close(self) -> None:
        """Mark the connector closed."""
        self.closed = True


def _customers() -> list[Customer]:
    return [
        Customer(
            id="C-1001",
            name="Alex Morgan",
            email="alex.morgan@example.com",
            phone="+1 415 555 0101",
            account_id="ACC-1001",
            tier=CustomerTier.PREMIUM,
        ),
        Customer(id="C-1002", name="Priya Shah", email="priya.shah@example.com", phone="+1 415 555 0102"),
    ]


def _cases() -> list[Case]:
    comment = CaseComment(id="CC-1", body="We are sending a replacement charger.", created_at=_NOW - timedelta(days=1))
    return [
        Case(
            number="00001001",
            customer_id="C-1001",
            subject="Charger stopped working",
            status=CaseStatus.WORKING,
            created_at=_NOW - timedelta(days=3),
            updated_at=_NOW - timedelta(days=1),
            comments=(comment,),
        )
    ]


def _orders() -> list[Order]:
    shipment = Shipment(
        id="SH-A1001-1",
        order_id="A1001",
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
        shipped_at=_NOW - timedelta(days=2),
        estimated_delivery=date(2026, 11, 22),
        events=(
            TrackingEvent(at=_NOW - timedelta(days=2), location="Louisville, KY", description="Picked up"),
            TrackingEvent(at=_NOW - timedelta(days=1), location="Oakland, CA", description="Arrived at facility"),
        ),
    )
    line = OrderLine(sku="CHG-65W", description="65 W USB-C charger", quantity=1, unit_price=Decimal("49.90"))
    return [
        Order(
            id="A1001",
            customer_id="C-1001",
            status=OrderStatus.SHIPPED,
            placed_at=_NOW - timedelta(days=4),
            total=Decimal("49.90"),
            lines=(line,),
            shipments=(shipment,),
        ),
        Order(
            id="A1002",
            customer_id="C-1002",
            status=OrderStatus.DELIVERED,
            placed_at=_NOW - timedelta(days=20),
            total=Decimal("129.00"),
            lines=(OrderLine(sku="HUB-7", description="7-port hub", quantity=2, unit_price=Decimal("64.50")),),
        ),
    ]
