"""The support tools over the CRM and ERP connectors: argument schemas, tiers, and what the customer is told.

Each tool is a :class:`SupportTool`: a name, a description a model can choose by, a pydantic argument schema,
a tier, whether it needs a verified customer, and a function that calls a connector and states the result
with the system it came from ("From the order system: ..."). Account-specific tools check that the record
belongs to the verified customer and say "not found" otherwise, so a guessed order number reveals nothing.

Example:
    >>> box = Toolbox.build(crm, erp)
    >>> outcome = box.run("order_status", {"order_id": "A1001"}, identity=VerifiedIdentity(customer_id="C-1001",
    ...     method="widget_signature"), origin=ActionOrigin.CUSTOMER_REQUEST, idempotency_key="k")
    >>> outcome.text
    'From the order system: order A1001, placed on 12 Nov 2026, has shipped ...'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from grounddesk.connectors.types import (
    CaseStatus,
    CRMConnector,
    ERPConnector,
    NewCase,
    NewReturn,
    Order,
    RecordNotFound,
    Shipment,
)
from grounddesk.tools.types import ToolOutcome, ToolTier, VerifiedIdentity

__all__ = [
    "AddCaseCommentArgs",
    "CaseArgs",
    "CreateCaseArgs",
    "LookupCustomerArgs",
    "OrderArgs",
    "RequestReturnArgs",
    "SupportTool",
    "support_tools",
]

_ORDER_ID = r"^[A-Za-z0-9][A-Za-z0-9-]{1,39}$"
_CASE_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9-]{1,39}$"


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LookupCustomerArgs(_Args):
    """Find a customer by email or phone."""

    email: str | None = Field(default=None, max_length=254, description="The email address on the account")
    phone: str | None = Field(default=None, max_length=40, description="The phone number on the account")


class OrderArgs(_Args):
    """An order of the verified customer."""

    order_id: str = Field(pattern=_ORDER_ID, description="The order number, e.g. A1001")


class CaseArgs(_Args):
    """A support case of the verified customer."""

    case_number: str = Field(pattern=_CASE_NUMBER, description="The case number, e.g. 00001001")


class CreateCaseArgs(_Args):
    """Open a support case for the verified customer."""

    subject: str = Field(min_length=1, max_length=200, description="A one-line summary of the problem")
    description: str = Field(default="", max_length=4000, description="What the customer reported")
    order_id: str | None = Field(default=None, pattern=_ORDER_ID, description="The order it concerns, if any")


class AddCaseCommentArgs(_Args):
    """Add the customer's information to one of their cases."""

    case_number: str = Field(pattern=_CASE_NUMBER)
    comment: str = Field(min_length=1, max_length=4000, description="What to add, in the customer's words")


class RequestReturnArgs(_Args):
    """Ask for a return or refund of an order."""

    order_id: str = Field(pattern=_ORDER_ID)
    kind: Literal["return", "refund"] = "return"
    reason: str = Field(min_length=1, max_length=1000)


Runner = Callable[[BaseModel, VerifiedIdentity | None, str], ToolOutcome]


@dataclass(frozen=True)
class SupportTool:
    """One tool: schema, tier, and the function that runs it.

    Attributes:
        name: The tool's name (the playbook's ``tool:`` refers to it).
        description: When to use it, for people and for models.
        args_schema: The pydantic model of its arguments.
        tier: ``read``, ``confirm`` or ``approve``.
        account_specific: Whether it needs a verified customer identity.
        system: The system its data comes from, as told to the customer.
        run: ``(args, identity, idempotency_key) -> ToolOutcome``.
    """

    name: str
    description: str
    args_schema: type[BaseModel]
    tier: ToolTier
    account_specific: bool
    system: str
    run: Runner

    @property
    def writes(self) -> bool:
        """Whether the tool changes a back-end (every tier but ``read``)."""
        return self.tier is not ToolTier.READ


def _day(value: date | datetime | None) -> str:
    if value is None:
        return "an unknown date"
    return f"{value.day} {value.strftime('%b %Y')}"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def _not_found(tool: str, system: str, what: str) -> ToolOutcome:
    return ToolOutcome(
        tool=tool,
        ok=False,
        system=system,
        error_code="record_not_found",
        text=f"I couldn't find {what} on your account. Could you check the number?",
    )


def _owned_order(erp: ERPConnector, order_id: str, identity: VerifiedIdentity | None) -> Order | None:
    try:
        order = erp.get_order(order_id)
    except RecordNotFound:
        return None
    if identity is None or order.customer_id != identity.customer_id:
        return None
    return order


def _shipment_line(shipment: Shipment) -> str:
    line = f"{shipment.carrier} tracking number {shipment.tracking_number}"
    if shipment.status == "delivered":
        return f"{line}, delivered on {_day(shipment.delivered_at)}"
    if shipment.estimated_delivery is not None:
        return f"{line}, expected on {_day(shipment.estimated_delivery)}"
    return line


_ORDER_STATES = {
    "pending": "has been received and is waiting for payment confirmation",
    "processing": "is being prepared in our warehouse and hasn't shipped yet",
    "shipped": "has shipped",
    "delivered": "has been delivered",
    "cancelled": "was cancelled",
    "returned": "was returned",
}


def support_tools(crm: CRMConnector | None, erp: ERPConnector | None) -> list[SupportTool]:
    """The tools the configured back-ends allow (no CRM: no case tools; no ERP: no order tools)."""
    tools: list[SupportTool] = []
    if crm is not None:
        tools.extend(_crm_tools(crm))
    if erp is not None:
        tools.extend(_erp_tools(erp))
        tools.append(_return_tool(erp))
    return tools


def _erp_tools(erp: ERPConnector) -> list[SupportTool]:
    system = "order system"

    def order_status(args: BaseModel, identity: VerifiedIdentity | None, key: str) -> ToolOutcome:
        assert isinstance(args, OrderArgs)
        order = _owned_order(erp, args.order_id, identity)
        if order is None:
            return _not_found("order_status", system, f"an order {args.order_id}")
        text = f"From the order system: order {order.id}, placed on {_day(order.placed_at)}, "
        text += _ORDER_STATES.get(order.status.value, f"is {order.status.value}")
        if order.shipments and order.status.value in ("shipped", "delivered"):
            text += " (" + "; ".join(_shipment_line(s) for s in order.shipments) + ")"
        items = ", ".join(f"{line.quantity} × {line.description}" for line in order.lines[:4])
        if items:
            text += f". It contains {items}"
        return ToolOutcome(
            tool="order_status",
            ok=True,
            system=system,
            text=text + ".",
            records=[order.id],
            data=order.model_dump(mode="json"),
        )

    def track_shipment(args: BaseModel, identity: VerifiedIdentity | None, key: str) -> ToolOutcome:
        assert isinstance(args, OrderArgs)
        order = _owned_order(erp, args.order_id, identity)
        if order is None:
            return _not_found("track_shipment", system, f"an order {args.order_id}")
        shipments = erp.track_shipment(order.id)
        if not shipments:
            text = (
                f"From the order system: order {order.id} hasn't shipped yet, so there is no tracking "
                f"number; it {_ORDER_STATES.get(order.status.value, 'is ' + order.status.value)}."
            )
        else:
            parts = []
            for shipment in shipments:
                part = _shipment_line(shipment)
                if shipment.events:
                    last = shipment.events[-1]
                    part += f"; latest scan: {last.description} in {last.location} on {_day(last.at)}"
                parts.append(part)
            text = f"From the order system: order {order.id} — " + ". ".join(parts) + "."
        return ToolOutcome(
            tool="track_shipment",
            ok=True,
            system=system,
            text=text,
            records=[order.id, *(s.tracking_number for s in shipments)],
            data={"shipments": [s.model_dump(mode="json") for s in shipments]},
        )

    def get_invoice(args: BaseModel, identity: VerifiedIdentity | None, key: str) -> ToolOutcome:
        assert isinstance(args, OrderArgs)
        order = _owned_order(erp, args.order_id, identity)
        if order is None:
            return _not_found("get_invoice", "billing system", f"an order {args.order_id}")
        try:
            invoice = erp.get_invoice(order.id)
        except RecordNotFound:
            return _not_found("get_invoice", "billing system", f"an invoice for order {order.id}")
        text = (
            f"From the billing system: invoice {invoice.id} for order {order.id}, "
            f"{_money(invoice.amount, invoice.currency)}, issued on {_day(invoice.issued_at)}, "
            f"is {invoice.status.value}"
        )
        if invoice.status.value in ("open", "overdue"):
            text += f" (due on {_day(invoice.due_at)})"
        return ToolOutcome(
            tool="get_invoice",
            ok=True,
            system="billing system",
            text=text + ".",
            records=[invoice.id],
            data=invoice.model_dump(mode="json"),
        )

    return [
        SupportTool(
            "order_status",
            "The status, items and shipments of one of the customer's orders.",
            OrderArgs,
            ToolTier.READ,
            True,
            system,
            order_status,
        ),
        SupportTool(
            "track_shipment",
            "Carrier tracking of one of the customer's orders: tracking numbers and the latest scans.",
            OrderArgs,
            ToolTier.READ,
            True,
            system,
            track_shipment,
        ),
        SupportTool(
            "get_invoice",
            "The invoice of one of the customer's orders: amount, dates and whether it is paid.",
            OrderArgs,
            ToolTier.READ,
            True,
            "billing system",
            get_invoice,
        ),
    ]


def _return_tool(erp: ERPConnector) -> SupportTool:
    system = "order system"

    def request_return(args: BaseModel, identity: VerifiedIdentity | None, key: str) -> ToolOutcome:
        assert isinstance(args, RequestReturnArgs)
        order = _owned_order(erp, args.order_id, identity)
        if order is None or identity is None:
            return _not_found("request_return", system, f"an order {args.order_id}")
        request = erp.create_return(
            NewReturn(order_id=order.id, customer_id=identity.customer_id, kind=args.kind, reason=args.reason),
            idempotency_key=key,
        )
        return ToolOutcome(
            tool="request_return",
            ok=True,
            system=system,
            wrote=True,
            text=(
                f"From the order system: {args.kind} request {request.id} for order {order.id} is "
                f"{request.status}. You'll get an email with the next steps."
            ),
            records=[request.id],
            data=request.model_dump(mode="json"),
        )

    return SupportTool(
        "request_return",
        "Ask for a return or a refund of one of the customer's orders; a support agent approves it first.",
        RequestReturnArgs,
        ToolTier.APPROVE,
        True,
        system,
        request_return,
    )


def _crm_tools(crm: CRMConnector) -> list[SupportTool]:
    system = "case system"

    def lookup_customer(args: BaseModel, identity: VerifiedIdentity | None, key: str) -> ToolOutcome:
        assert isinstance(args, LookupCustomerArgs)
        customer = crm.find_customer(email=args.email) if args.email else crm.find_customer(phone=args.phone)
        if customer is None:
            return ToolOutcome(tool="lookup_customer", ok=False, system="CRM", error_code="record_not_found", text="")
        # The customer's name and id go to the agent, never their contact details back to the chat.
        return ToolOutcome(
            tool="lookup_customer",
            ok=True,
            system="CRM",
            text=f"Found customer {customer.id}.",
            records=[customer.id],
            data={"customer_id": customer.id, "name": customer.name, "tier": customer.tier.value},
        )

    def _owned_case(number: str, identity: VerifiedIdentity | None) -> Any:
        try:
            case = crm.get_case(number)
        except RecordNotFound:
            return None
        return case if identity is not None and case.customer_id == identity.customer_id else None

    def case_status(args: BaseModel, identity: VerifiedIdentity | None, key: str) -> ToolOutcome:
        assert isinstance(args, CaseArgs)
        case = _owned_case(args.case_number, identity)
        if case is None:
            return _not_found("case_status", system, f"a case {args.case_number}")
        states = {
            CaseStatus.NEW: "is open and waiting for a support agent",
            CaseStatus.WORKING: "is being worked on",
            CaseStatus.WAITING_ON_CUSTOMER: "is waiting for information from you",
            CaseStatus.ESCALATED: "has been escalated to a specialist team",
            CaseStatus.CLOSED: "is closed",
        }
        text = (
            f"From our case system: case {case.number} “{case.subject}” {states[case.status]} "
            f"(last updated on {_day(case.updated_at)})."
        )
        public = [c for c in case.comments if c.public]
        if public:
            # Comment text is data: quoted as it stands, never read for instructions.
            text += f" The latest note on it, from {_day(public[-1].created_at)}, says: “{public[-1].body}”"
        return ToolOutcome(
            tool="case_status",
            ok=True,
            system=system,
            text=text,
            records=[case.number],
            data=case.model_dump(mode="json"),
        )

    def create_case(args: BaseModel, identity: VerifiedIdentity | None, key: str) -> ToolOutcome:
        assert isinstance(args, CreateCaseArgs)
        if identity is None:
            return _not_found("create_case", system, "your account")
        description = args.description + (f"\n\nOrder: {args.order_id}" if args.order_id else "")
        case = crm.create_case(
            NewCase(customer_id=identity.customer_id, subject=args.subject, description=description.strip()),
            idempotency_key=key,
        )
        return ToolOutcome(
            tool="create_case",
            ok=True,
            system=system,
            wrote=True,
            text=(
                f"From our case system: I've opened case {case.number} “{case.subject}”. "
                "A support agent will follow up by email; quote the case number if you contact us again."
            ),
            records=[case.number],
            data=case.model_dump(mode="json"),
        )

    def add_case_comment(args: BaseModel, identity: VerifiedIdentity | None, key: str) -> ToolOutcome:
        assert isinstance(args, AddCaseCommentArgs)
        case = _owned_case(args.case_number, identity)
        if case is None:
            return _not_found("add_case_comment", system, f"a case {args.case_number}")
        comment = crm.add_case_comment(case.number, args.comment, idempotency_key=key)
        return ToolOutcome(
            tool="add_case_comment",
            ok=True,
            system=system,
            wrote=True,
            text=f"From our case system: I've added your note to case {case.number}.",
            records=[case.number, comment.id],
            data=comment.model_dump(mode="json"),
        )

    return [
        SupportTool(
            "lookup_customer",
            "Find the customer record by the email address or phone number on the account.",
            LookupCustomerArgs,
            ToolTier.READ,
            False,
            "CRM",
            lookup_customer,
        ),
        SupportTool(
            "case_status",
            "The status and latest public note of one of the customer's support cases.",
            CaseArgs,
            ToolTier.READ,
            True,
            system,
            case_status,
        ),
        SupportTool(
            "create_case",
            "Open a support case for the customer (damaged, wrong or missing items; problems to investigate).",
            CreateCaseArgs,
            ToolTier.CONFIRM,
            True,
            system,
            create_case,
        ),
        SupportTool(
            "add_case_comment",
            "Add information from the customer to one of their existing support cases.",
            AddCaseCommentArgs,
            ToolTier.CONFIRM,
            True,
            system,
            add_case_comment,
        ),
    ]
