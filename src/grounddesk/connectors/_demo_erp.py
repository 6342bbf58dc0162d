"""The ERP half of the demo back-end: orders, shipments, invoices and return requests (see ``demo.py``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Row, func, select
from sqlalchemy.engine import Connection, RowMapping

from grounddesk.connectors import _demo_schema as t
from grounddesk.connectors._demo_base import DemoConnectorBase, revalidate
from grounddesk.connectors.types import (
    ConnectorValidationError,
    Invoice,
    NewReturn,
    Order,
    OrderLine,
    OrderStatus,
    RecordNotFound,
    ReturnRequest,
    Shipment,
    TrackingEvent,
)

__all__ = ["DemoERP"]


class DemoERP(DemoConnectorBase):
    """Orders, shipments, invoices and return requests of the demo back-end.

    Example:
        >>> erp = DemoERP(tmp_path / "demo.sqlite")
        >>> [event.description for event in erp.track_shipment("A1001")[0].events][0]
        'Picked up by carrier'
    """

    name = "demo-erp"
    kind = "erp"

    def get_order(self, order_id: str) -> Order:
        """An order with its lines and shipments.

        Raises:
            RecordNotFound: No such order (``kind="order"``).
        """
        with self._read() as conn:
            row = self._order_row(conn, order_id)
            return _orders(conn, [row])[0]

    def list_orders(self, customer_id: str, *, limit: int = 20) -> list[Order]:
        """A customer's orders, newest first (an unknown customer has none)."""
        if limit < 1:
            raise ConnectorValidationError("limit must be at least 1", connector=self.name, limit=limit)
        query = (
            select(t.orders)
            .where(t.orders.c.customer_id == customer_id)
            .order_by(t.orders.c.placed_at.desc(), t.orders.c.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return _orders(conn, list(conn.execute(query)))

    def track_shipment(self, order_id: str) -> list[Shipment]:
        """The shipments of an order with their carrier scans, oldest first (none before it ships).

        Raises:
            RecordNotFound: No such order.
        """
        with self._read() as conn:
            self._order_row(conn, order_id)
            return _shipments(conn, [order_id])[order_id]

    def get_invoice(self, order_id: str) -> Invoice:
        """The invoice of an order.

        Raises:
            RecordNotFound: No such order (``kind="order"``), or no invoice for it (``kind="invoice"``).
        """
        with self._read() as conn:
            self._order_row(conn, order_id)
            row = conn.execute(select(t.invoices).where(t.invoices.c.order_id == order_id)).first()
        if row is None:
            raise RecordNotFound(f"Order {order_id} has no invoice", connector=self.name, kind="invoice", key=order_id)
        return Invoice.model_validate(dict(row._mapping))

    def create_return(self, request: NewReturn, *, idempotency_key: str) -> ReturnRequest:
        """Open a return or refund request (status ``requested``); the same key again returns the first one.

        Raises:
            RecordNotFound: No such order.
            ConnectorValidationError: The order is someone else's, was never shipped, was cancelled or already
                returned, is still in transit (for a return), or does not hold the SKUs named.
        """
        request = revalidate(NewReturn, request, self.name)

        def write(conn: Connection) -> str:
            order = self._order_row(conn, request.order_id)._mapping
            self._check_returnable(conn, order, request)
            last = conn.execute(select(func.max(t.returns.c.seq))).scalar_one_or_none()
            seq = max(last or 0, 1000) + 1
            conn.execute(
                t.returns.insert().values(
                    id=f"R-{seq}",
                    seq=seq,
                    order_id=request.order_id,
                    customer_id=request.customer_id,
                    kind=request.kind,
                    reason=request.reason,
                    skus=list(request.skus),
                    status="requested",
                    created_at=self._now(),
                    amount=None,
                )
            )
            return f"R-{seq}"

        return_id = self._write_once("create_return", idempotency_key, write)
        with self._read() as conn:
            row = conn.execute(select(t.returns).where(t.returns.c.id == return_id)).one()
        return _return(row._mapping)

    # -- helpers -------------------------------------------------------------------------------------------

    def _order_row(self, conn: Connection, order_id: str) -> Row[tuple[object, ...]]:
        row = conn.execute(select(t.orders).where(t.orders.c.id == order_id)).first()
        if row is None:
            raise RecordNotFound(f"No order {order_id}", connector=self.name, kind="order", key=order_id)
        return row

    def _check_returnable(self, conn: Connection, order: RowMapping, request: NewReturn) -> None:
        order_id, status = order["id"], OrderStatus(order["status"])

        def refuse(detail: str) -> ConnectorValidationError:
            return ConnectorValidationError(detail, connector=self.name, order_id=order_id, order_status=status.value)

        if order["customer_id"] != request.customer_id:
            raise refuse(f"Order {order_id} does not belong to customer {request.customer_id}")
        if status == OrderStatus.CANCELLED:
            raise refuse(f"Order {order_id} was cancelled, so there is nothing to return or refund")
        if status in (OrderStatus.PENDING, OrderStatus.PROCESSING):
            raise refuse(f"Order {order_id} has not shipped yet ({status.value}); cancel it instead of returning it")
        if status == OrderStatus.RETURNED:
            raise refuse(f"Order {order_id} has already been returned")
        if status == OrderStatus.SHIPPED and request.kind == "return":
            raise refuse(f"Order {order_id} is still on its way; a return can be opened once it is delivered")
        skus = set(conn.execute(select(t.order_lines.c.sku).where(t.order_lines.c.order_id == order_id)).scalars())
        unknown = sorted(set(request.skus) - skus)
        if unknown:
            raise refuse(f"Order {order_id} has no line with SKU {', '.join(unknown)}")


def _orders(conn: Connection, rows: Sequence[Row[tuple[object, ...]]]) -> list[Order]:
    ids = [row._mapping["id"] for row in rows]
    lines: dict[str, list[OrderLine]] = defaultdict(list)
    query = select(t.order_lines).where(t.order_lines.c.order_id.in_(ids))
    for line in conn.execute(query.order_by(t.order_lines.c.order_id, t.order_lines.c.position)):
        m = line._mapping
        lines[m["order_id"]].append(
            OrderLine(sku=m["sku"], description=m["description"], quantity=m["quantity"], unit_price=m["unit_price"])
        )
    parcels = _shipments(conn, ids)
    return [
        Order.model_validate(
            {
                **{k: row._mapping[k] for k in ("id", "customer_id", "status", "placed_at", "currency", "total")},
                "lines": tuple(lines[row._mapping["id"]]),
                "shipments": tuple(parcels[row._mapping["id"]]),
            }
        )
        for row in rows
    ]


def _shipments(conn: Connection, order_ids: Sequence[str]) -> dict[str, list[Shipment]]:
    """The shipments of these orders (every id is a key), with their scans oldest first."""
    found = list(
        conn.execute(
            select(t.shipments)
            .where(t.shipments.c.order_id.in_(order_ids))
            .order_by(t.shipments.c.order_id, t.shipments.c.position)
        )
    )
    events: dict[str, list[TrackingEvent]] = defaultdict(list)
    query = select(t.tracking_events).where(t.tracking_events.c.shipment_id.in_([s._mapping["id"] for s in found]))
    for event in conn.execute(query.order_by(t.tracking_events.c.at, t.tracking_events.c.position)):
        m = event._mapping
        events[m["shipment_id"]].append(TrackingEvent(at=m["at"], location=m["location"], description=m["description"]))
    result: dict[str, list[Shipment]] = {order_id: [] for order_id in order_ids}
    for row in found:
        m = row._mapping
        fields = ("id", "order_id", "carrier", "tracking_number", "status", "shipped_at")
        result[m["order_id"]].append(
            Shipment.model_validate(
                {
                    **{k: m[k] for k in fields},
                    "estimated_delivery": m["estimated_delivery"],
                    "delivered_at": m["delivered_at"],
                    "events": tuple(events[m["id"]]),
                }
            )
        )
    return result


def _return(row: RowMapping) -> ReturnRequest:
    data = {key: value for key, value in row.items() if key != "seq"}
    return ReturnRequest.model_validate({**data, "skus": tuple(data["skus"])})
