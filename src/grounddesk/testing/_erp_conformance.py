"""The conformance tests every :class:`~grounddesk.connectors.types.ERPConnector` must pass."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from grounddesk.connectors.types import (
    ConnectorHealth,
    ConnectorValidationError,
    ERPConnector,
    InvoiceStatus,
    NewReturn,
    OrderStatus,
    RecordNotFound,
)
from grounddesk.testing._connector_data import new_key, seed, seed_order

__all__ = ["ERPConformance"]


def _jacket_return(**fields: object) -> NewReturn:
    return NewReturn.model_validate(
        {
            "order_id": "A1002",
            "customer_id": "C-1002",
            "kind": "return",
            "reason": "Too warm for where I live.",
            "skus": ("NW-JKT-EMB650",),
            **fields,
        }
    )


class ERPConformance:
    """Tests of the ERP contract; a subclass provides a function-scoped ``erp`` fixture holding seed data.

    The fixture returns an :class:`ERPConnector` that holds ``generate_seed()`` data; it may be shared
    between tests (the only writes are return requests on order ``A1002``).
    """

    def test_satisfies_the_protocol(self, erp: ERPConnector) -> None:
        """The connector is a runtime-checkable ``ERPConnector`` with a name."""
        assert isinstance(erp, ERPConnector)
        assert isinstance(erp.name, str) and erp.name

    def test_health_is_ok(self, erp: ERPConnector) -> None:
        """A reachable back-end reports ok, as an ERP, under its own name."""
        health = erp.health()
        assert isinstance(health, ConnectorHealth)
        assert health.ok, health.detail
        assert health.kind == "erp"
        assert health.name == erp.name
        assert health.latency_ms is None or health.latency_ms >= 0

    # -- orders and shipments ------------------------------------------------------------------------------

    def test_get_order_with_lines_and_shipments(self, erp: ERPConnector) -> None:
        """Orders come back exactly as seeded: lines, total, shipments and their scans."""
        for order_id in ("A1001", "A1002", "A1003", seed().orders[-1].id):
            assert erp.get_order(order_id) == seed_order(order_id)
        order = erp.get_order("A1001")
        assert order.status == OrderStatus.SHIPPED
        assert order.total == sum(line.unit_price * line.quantity for line in order.lines)
        assert [s.tracking_number for s in order.shipments] == ["1Z999AA10123456784"]

    def test_get_unknown_order_raises(self, erp: ERPConnector) -> None:
        """An unknown order is ``RecordNotFound`` naming it."""
        with pytest.raises(RecordNotFound) as caught:
            erp.get_order("A0000")
        assert (caught.value.kind, caught.value.key) == ("order", "A0000")
        assert caught.value.connector == erp.name

    def test_list_orders_newest_first(self, erp: ERPConnector) -> None:
        """A customer's orders come newest first, as many as ``limit`` allows."""
        customer_id = max(
            (c.id for c in seed().customers), key=lambda cid: sum(o.customer_id == cid for o in seed().orders)
        )
        expected = sorted(
            (o for o in seed().orders if o.customer_id == customer_id),
            key=lambda o: (o.placed_at, o.id),
            reverse=True,
        )
        assert len(expected) >= 2
        assert erp.list_orders(customer_id) == expected
        assert [o.id for o in erp.list_orders(customer_id, limit=1)] == [expected[0].id]
        assert [o.id for o in erp.list_orders("C-1003")] == ["A1003"]

    def test_track_shipment(self, erp: ERPConnector) -> None:
        """Tracking gives the carrier, the number and the scans oldest first."""
        shipments = erp.track_shipment("A1001")
        assert shipments == list(seed_order("A1001").shipments)
        (shipment,) = shipments
        assert (shipment.carrier, shipment.status) == ("UPS", "in_transit")
        assert shipment.estimated_delivery is not None
        times = [event.at for event in shipment.events]
        assert len(times) >= 2 and times == sorted(times)

    def test_track_order_not_shipped_yet(self, erp: ERPConnector) -> None:
        """An order still being prepared has no shipments."""
        assert erp.track_shipment("A1003") == []

    def test_track_unknown_order_raises(self, erp: ERPConnector) -> None:
        """Tracking a missing order is ``RecordNotFound``."""
        with pytest.raises(RecordNotFound) as caught:
            erp.track_shipment("A0000")
        assert caught.value.key == "A0000"

    # -- invoices ------------------------------------------------------------------------------------------

    def test_get_invoice(self, erp: ERPConnector) -> None:
        """Invoices come back as seeded: A1001 paid, A1002 open."""
        for invoice in seed().invoices[:3]:
            assert erp.get_invoice(invoice.order_id) == invoice
        assert erp.get_invoice("A1001").status == InvoiceStatus.PAID
        assert erp.get_invoice("A1002").status == InvoiceStatus.OPEN

    def test_get_invoice_of_unknown_order_raises(self, erp: ERPConnector) -> None:
        """No order, no invoice: ``RecordNotFound``."""
        with pytest.raises(RecordNotFound) as caught:
            erp.get_invoice("A0000")
        assert caught.value.kind in {"order", "invoice"}

    # -- returns -------------------------------------------------------------------------------------------

    def test_create_return_is_idempotent(self, erp: ERPConnector) -> None:
        """A return request is opened once per key, as asked."""
        key = new_key()
        request = erp.create_return(_jacket_return(), idempotency_key=key)
        assert (request.order_id, request.customer_id, request.kind) == ("A1002", "C-1002", "return")
        assert (request.reason, request.skus, request.status) == (
            "Too warm for where I live.",
            ("NW-JKT-EMB650",),
            "requested",
        )
        assert request.id not in {r.id for r in seed().returns}
        again = erp.create_return(_jacket_return(), idempotency_key=key)
        assert again.id == request.id
        other = erp.create_return(_jacket_return(kind="refund", skus=()), idempotency_key=new_key())
        assert other.id != request.id

    def test_return_of_another_customers_order_is_refused(self, erp: ERPConnector) -> None:
        """Nobody can return someone else's order."""
        with pytest.raises(ConnectorValidationError):
            erp.create_return(_jacket_return(customer_id="C-1001"), idempotency_key=new_key())

    def test_return_of_unknown_order_raises(self, erp: ERPConnector) -> None:
        """Returning a missing order is ``RecordNotFound`` (or refused as invalid)."""
        with pytest.raises((RecordNotFound, ConnectorValidationError)):
            erp.create_return(_jacket_return(order_id="A0000"), idempotency_key=new_key())

    def test_return_needs_a_reason(self, erp: ERPConnector) -> None:
        """An empty reason never reaches the back-end."""
        with pytest.raises((ValidationError, ConnectorValidationError)):
            erp.create_return(_jacket_return(reason=""), idempotency_key=new_key())
