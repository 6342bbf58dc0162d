"""The CRM and ERP seams: Protocols, the records they exchange, and the connector error family.

Every back-end (the SQLite demo, Salesforce through simple-salesforce, a REST ERP over httpx) implements one of
the Protocols below and maps its own records to these models. Identifiers:

* ``Customer.id`` is the company's customer number (``C-1001``), shared by the CRM and the ERP; the back-end's
  own record id (a Salesforce Contact id, say) is ``Customer.record_id``.
* ``Case.number`` is what a customer quotes ("case 00001027"); ``Case.record_id`` is the back-end's id.
* Orders, invoices and return requests are identified by their ERP numbers (``A1001``, ``INV-1001``, ``R-...``).

Writes take an ``idempotency_key``: the same key sent twice must give back the first result and change nothing
the second time. Back-ends that cannot honour a key natively are wrapped by
:class:`grounddesk.connectors.resilience.ResilientCRM` / ``ResilientERP``, whose SQL ledger makes them
idempotent.

Example:
    >>> crm = DemoCRM.open(home / "demo_backend.sqlite")
    >>> customer = crm.find_customer(email="alex.morgan@example.com")
    >>> [case.number for case in crm.list_cases(customer.id)]
    ['00001001']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = [
    "Account",
    "ApiUsage",
    "CRMConnector",
    "Case",
    "CaseComment",
    "CaseStatus",
    "CircuitOpen",
    "ConnectorAuthError",
    "ConnectorError",
    "ConnectorHealth",
    "ConnectorTimeout",
    "ConnectorUnavailable",
    "ConnectorValidationError",
    "Customer",
    "CustomerTier",
    "ERPConnector",
    "Invoice",
    "InvoiceStatus",
    "NewCase",
    "NewReturn",
    "Order",
    "OrderLine",
    "OrderStatus",
    "RateLimited",
    "RecordNotFound",
    "ReturnRequest",
    "Shipment",
    "TrackingEvent",
]


# --- errors ------------------------------------------------------------------------------------------------


class ConnectorError(GrounddeskError):
    """A CRM or ERP back-end failed. ``connector`` names which one (``demo-crm``, ``salesforce``, ``erp``)."""

    code = ErrorCode.CONNECTOR

    def __init__(self, detail: str, *, connector: str, code: ErrorCode | None = None, **fields: Any) -> None:
        super().__init__(detail, code=code, connector=connector, **fields)
        self.connector = connector


class ConnectorAuthError(ConnectorError):
    """The back-end refused our credentials (after the one re-login a connector may try)."""

    code = ErrorCode.CONNECTOR_AUTH


class ConnectorUnavailable(ConnectorError):
    """The back-end is down or failing; ``retry_after_s`` says when to try again when it told us."""

    code = ErrorCode.CONNECTOR_UNAVAILABLE

    def __init__(
        self,
        detail: str,
        *,
        connector: str,
        retry_after_s: float | None = None,
        code: ErrorCode | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(detail, connector=connector, code=code, retry_after_s=retry_after_s, **fields)
        self.retry_after_s = retry_after_s


class ConnectorTimeout(ConnectorUnavailable):
    """A call took longer than its timeout."""

    code = ErrorCode.CONNECTOR_TIMEOUT


class CircuitOpen(ConnectorUnavailable):
    """The connector's circuit breaker is open: calls fail at once until the probe after ``retry_after_s``."""

    code = ErrorCode.CIRCUIT_OPEN


class RateLimited(ConnectorUnavailable):
    """The back-end throttles us (HTTP 429, Salesforce ``REQUEST_LIMIT_EXCEEDED``). Not an auth failure."""

    code = ErrorCode.RATE_LIMITED


class RecordNotFound(ConnectorError):
    """No such customer, case, order or invoice. ``kind`` and ``key`` say what was looked for."""

    code = ErrorCode.RECORD_NOT_FOUND

    def __init__(self, detail: str, *, connector: str, kind: str, key: str, **fields: Any) -> None:
        super().__init__(detail, connector=connector, kind=kind, key=key, **fields)
        self.kind = kind
        self.key = key


class ConnectorValidationError(ConnectorError):
    """The back-end rejected the values we sent (a bad status, a field too long, a line not on the order)."""

    code = ErrorCode.CONNECTOR_VALIDATION


# --- records -----------------------------------------------------------------------------------------------


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CustomerTier(StrEnum):
    """Service tier; it raises the priority of a customer's tickets."""

    STANDARD = "standard"
    PREMIUM = "premium"
    ENTERPRISE = "enterprise"


class Account(_Record):
    """The organisation or household a customer belongs to."""

    id: str
    name: str
    tier: CustomerTier = CustomerTier.STANDARD
    status: Literal["active", "suspended", "closed"] = "active"
    record_id: str | None = None


class Customer(_Record):
    """A person the company serves (a Salesforce Contact)."""

    id: str = Field(description="The company's customer number, shared by CRM and ERP (C-1001)")
    name: str
    email: str | None = None
    phone: str | None = None
    account_id: str | None = None
    tier: CustomerTier = CustomerTier.STANDARD
    record_id: str | None = Field(default=None, description="The back-end's own id of the record")


class CaseStatus(StrEnum):
    """Life of a support case."""

    NEW = "new"
    WORKING = "working"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    ESCALATED = "escalated"
    CLOSED = "closed"


class CaseComment(_Record):
    """A comment on a case."""

    id: str
    body: str
    created_at: datetime
    public: bool = True


class Case(_Record):
    """A support case in the CRM."""

    number: str = Field(description="What the customer quotes, e.g. 00001001")
    customer_id: str
    subject: str
    description: str = ""
    status: CaseStatus = CaseStatus.NEW
    priority: Literal["low", "medium", "high", "urgent"] = "medium"
    created_at: datetime
    updated_at: datetime
    comments: tuple[CaseComment, ...] = ()
    record_id: str | None = None


class NewCase(_Record):
    """What the agent asks the CRM to open."""

    customer_id: str
    subject: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=32_000)
    priority: Literal["low", "medium", "high", "urgent"] = "medium"
    origin: str = "chat"


class OrderStatus(StrEnum):
    """Life of an order in the ERP."""

    PENDING = "pending"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class OrderLine(_Record):
    """One product line of an order."""

    sku: str
    description: str
    quantity: int = Field(ge=1)
    unit_price: Decimal


class TrackingEvent(_Record):
    """A carrier scan."""

    at: datetime
    location: str
    description: str


class Shipment(_Record):
    """A parcel of an order."""

    id: str
    order_id: str
    carrier: str
    tracking_number: str
    status: Literal["label_created", "in_transit", "out_for_delivery", "delivered", "exception"] = "in_transit"
    shipped_at: datetime | None = None
    estimated_delivery: date | None = None
    delivered_at: datetime | None = None
    events: tuple[TrackingEvent, ...] = ()


class Order(_Record):
    """An order in the ERP, with its lines and shipments."""

    id: str
    customer_id: str
    status: OrderStatus
    placed_at: datetime
    currency: str = "USD"
    total: Decimal
    lines: tuple[OrderLine, ...] = ()
    shipments: tuple[Shipment, ...] = ()


class InvoiceStatus(StrEnum):
    """Whether an invoice is paid."""

    OPEN = "open"
    PAID = "paid"
    OVERDUE = "overdue"
    VOID = "void"


class Invoice(_Record):
    """The invoice of an order."""

    id: str
    order_id: str
    customer_id: str
    issued_at: date
    due_at: date
    amount: Decimal
    currency: str = "USD"
    status: InvoiceStatus = InvoiceStatus.OPEN


class NewReturn(_Record):
    """A return or refund the agent asks the ERP to open."""

    order_id: str
    customer_id: str
    kind: Literal["return", "refund"] = "return"
    reason: str = Field(min_length=1, max_length=1000)
    skus: tuple[str, ...] = Field(default=(), description="Lines to return; empty means the whole order")


class ReturnRequest(_Record):
    """A return or refund request as the ERP recorded it."""

    id: str
    order_id: str
    customer_id: str
    kind: Literal["return", "refund"]
    reason: str
    skus: tuple[str, ...] = ()
    status: Literal["requested", "approved", "rejected", "received", "refunded"] = "requested"
    created_at: datetime
    amount: Decimal | None = None


class ApiUsage(_Record):
    """API calls used and allowed in the back-end's window (Salesforce ``Sforce-Limit-Info``)."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        """Calls left in the window."""
        return max(self.limit - self.used, 0)


class ConnectorHealth(_Record):
    """The result of a health check."""

    name: str
    kind: Literal["crm", "erp"]
    ok: bool
    latency_ms: float | None = None
    detail: str = ""
    circuit: Literal["closed", "open", "half_open"] = "closed"
    api_usage: ApiUsage | None = None


# --- seams -------------------------------------------------------------------------------------------------


@runtime_checkable
class CRMConnector(Protocol):
    """Customers, accounts and cases.

    Reads raise :class:`RecordNotFound` for a missing record (``find_customer`` returns ``None`` instead);
    every method raises a :class:`ConnectorError` subclass when the back-end fails.
    """

    name: str

    def find_customer(
        self, *, email: str | None = None, phone: str | None = None, customer_id: str | None = None
    ) -> Customer | None:
        """The customer with this email, phone number or customer number (exactly one must be given)."""
        ...

    def get_account(self, account_id: str) -> Account:
        """An account by id."""
        ...

    def list_cases(
        self, customer_id: str, *, statuses: Sequence[CaseStatus] | None = None, limit: int = 20
    ) -> list[Case]:
        """A customer's cases, newest first (without comments)."""
        ...

    def get_case(self, number: str) -> Case:
        """A case by its number, with its comments."""
        ...

    def create_case(self, case: NewCase, *, idempotency_key: str) -> Case:
        """Open a case; the same key again returns the case the first call made."""
        ...

    def add_case_comment(self, number: str, body: str, *, idempotency_key: str, public: bool = True) -> CaseComment:
        """Comment on a case; the same key again returns the first comment."""
        ...

    def update_case_status(self, number: str, status: CaseStatus, *, idempotency_key: str) -> Case:
        """Move a case to ``status``."""
        ...

    def health(self) -> ConnectorHealth:
        """Reach the back-end once and say how it is (never raises)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class ERPConnector(Protocol):
    """Orders, shipments, invoices and return requests."""

    name: str

    def get_order(self, order_id: str) -> Order:
        """An order with its lines and shipments."""
        ...

    def list_orders(self, customer_id: str, *, limit: int = 20) -> list[Order]:
        """A customer's orders, newest first."""
        ...

    def track_shipment(self, order_id: str) -> list[Shipment]:
        """The shipments of an order with their carrier events, oldest event first."""
        ...

    def get_invoice(self, order_id: str) -> Invoice:
        """The invoice of an order."""
        ...

    def create_return(self, request: NewReturn, *, idempotency_key: str) -> ReturnRequest:
        """Open a return or refund request; the same key again returns the first request."""
        ...

    def health(self) -> ConnectorHealth:
        """Reach the back-end once and say how it is (never raises)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
