"""The JSON shape of the emulated ERP ("Northwind ERP API v2"), deliberately unlike grounddesk's records.

Codes instead of our statuses, ``orderNo``/``itemNo`` names, amounts as strings, nested customer and carrier
objects, tracking scans newest first, and no order number on deliveries: everything a mapping file has to
bridge. The functions here turn our records into that shape; the bundled ``erp_mapping.yaml`` turns it back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from grounddesk.connectors.types import Invoice, InvoiceStatus, Order, OrderStatus, ReturnRequest, Shipment

__all__ = [
    "DELIVERY_STATES",
    "INVOICE_STATES",
    "ORDER_STATES",
    "RETURN_STATES",
    "RETURN_TYPES",
    "delivery_json",
    "invoice_json",
    "order_json",
    "return_json",
    "timestamp",
]

ORDER_STATES: dict[OrderStatus, str] = {
    OrderStatus.PENDING: "PND",
    OrderStatus.PROCESSING: "PRC",
    OrderStatus.SHIPPED: "SHP",
    OrderStatus.DELIVERED: "DLV",
    OrderStatus.CANCELLED: "CNC",
    OrderStatus.RETURNED: "RTN",
}
DELIVERY_STATES: dict[str, str] = {
    "label_created": "LBL",
    "in_transit": "TRN",
    "out_for_delivery": "OFD",
    "delivered": "DLV",
    "exception": "EXC",
}
INVOICE_STATES: dict[InvoiceStatus, str] = {
    InvoiceStatus.OPEN: "OPEN",
    InvoiceStatus.PAID: "PAID",
    InvoiceStatus.OVERDUE: "OVERDUE",
    InvoiceStatus.VOID: "VOID",
}
RETURN_TYPES: dict[str, str] = {"return": "RET", "refund": "REF"}
RETURN_STATES: dict[str, str] = {
    "requested": "REQ",
    "approved": "APR",
    "rejected": "REJ",
    "received": "RCV",
    "refunded": "RFD",
}


def timestamp(at: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as the ERP writes every timestamp."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _money(amount: Decimal) -> str:
    return str(amount)


def order_json(order: Order) -> dict[str, Any]:
    """An order as ``GET /orders/{orderNo}`` shows it."""
    return {
        "orderNo": order.id,
        "customer": {"customerNo": order.customer_id},
        "state": ORDER_STATES[order.status],
        "orderDate": timestamp(order.placed_at),
        "currencyCode": order.currency,
        "totals": {"lineCount": len(order.lines), "grandTotal": _money(order.total)},
        "lines": [
            {
                "lineNo": 10 * (index + 1),
                "itemNo": line.sku,
                "itemDescription": line.description,
                "qty": line.quantity,
                "unitPrice": _money(line.unit_price),
                "lineAmount": _money(line.unit_price * line.quantity),
            }
            for index, line in enumerate(order.lines)
        ],
        "deliveries": [delivery_json(shipment) for shipment in order.shipments],
    }


def delivery_json(shipment: Shipment) -> dict[str, Any]:
    """A delivery (our shipment); carrier scans come newest first, as carriers list them."""
    return {
        "deliveryNo": shipment.id,
        "carrier": {"code": shipment.carrier.upper(), "name": shipment.carrier},
        "trackingNo": shipment.tracking_number,
        "deliveryState": DELIVERY_STATES[shipment.status],
        "shippedAt": timestamp(shipment.shipped_at) if shipment.shipped_at else None,
        "eta": shipment.estimated_delivery.isoformat() if shipment.estimated_delivery else None,
        "deliveredAt": timestamp(shipment.delivered_at) if shipment.delivered_at else None,
        "scans": [
            {"timestamp": timestamp(event.at), "location": event.location, "text": event.description}
            for event in sorted(shipment.events, key=lambda event: event.at, reverse=True)
        ],
    }


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    """An invoice as ``GET /invoices?orderNo=`` lists it."""
    return {
        "invoiceNo": invoice.id,
        "orderNo": invoice.order_id,
        "billTo": {"customerNo": invoice.customer_id},
        "invoiceDate": invoice.issued_at.isoformat(),
        "dueDate": invoice.due_at.isoformat(),
        "amount": {"value": _money(invoice.amount), "currency": invoice.currency},
        "paymentState": INVOICE_STATES[invoice.status],
    }


def return_json(request: ReturnRequest) -> dict[str, Any]:
    """A return merchandise authorisation (our return request)."""
    return {
        "rmaNo": request.id,
        "orderNo": request.order_id,
        "customerNo": request.customer_id,
        "type": RETURN_TYPES[request.kind],
        "reasonText": request.reason,
        "items": [{"itemNo": sku} for sku in request.skus],
        "state": RETURN_STATES[request.status],
        "createdAt": timestamp(request.created_at),
        "refundAmount": _money(request.amount) if request.amount is not None else None,
    }
