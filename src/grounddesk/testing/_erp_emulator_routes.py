"""The ``/api/v2`` routes of the ERP emulator, with the business rules a real ERP would enforce on returns."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grounddesk.connectors.types import Order, OrderStatus, ReturnRequest
from grounddesk.testing._erp_emulator_shape import (
    ORDER_STATES,
    delivery_json,
    invoice_json,
    order_json,
    return_json,
)

if TYPE_CHECKING:
    from grounddesk.testing.erp_emulator import ErpEmulator

__all__ = ["ApiError", "add_routes", "fingerprint"]

_NOT_RETURNABLE = frozenset({OrderStatus.PENDING, OrderStatus.CANCELLED})
_KINDS = {"RET": "return", "REF": "refund"}
_MAX_PAGE = 200


class ApiError(Exception):
    """An error answer of the emulated ERP: ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore")

    itemNo: str


class _Rma(BaseModel):
    model_config = ConfigDict(extra="ignore")

    orderNo: str
    customerNo: str
    type: Literal["RET", "REF"]
    reasonText: str = Field(max_length=1000)
    items: list[_Item] = Field(default_factory=list)


def fingerprint(body: Any) -> str:
    """A stable text of a JSON body, to tell a retried write from a different one under the same key."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _ok(data: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"data": data, "meta": {"apiVersion": "2.3"}}, status_code=status, headers=headers)


def add_routes(app: FastAPI, emulator: ErpEmulator, *, prefix: str) -> None:
    """Add the API routes of ``emulator`` to ``app`` under ``prefix``."""
    api = _Api(emulator, prefix)
    app.add_api_route(f"{prefix}/status", api.status, methods=["GET"])
    app.add_api_route(f"{prefix}/orders/{{order_no}}", api.get_order, methods=["GET"])
    app.add_api_route(f"{prefix}/orders/{{order_no}}/deliveries", api.get_deliveries, methods=["GET"])
    app.add_api_route(f"{prefix}/customers/{{customer_no}}/orders", api.list_orders, methods=["GET"])
    app.add_api_route(f"{prefix}/invoices", api.list_invoices, methods=["GET"])
    app.add_api_route(f"{prefix}/returns", api.create_return, methods=["POST"])
    app.add_api_route(f"{prefix}/returns/{{rma_no}}", api.get_return, methods=["GET"])


class _Api:
    """The route handlers; each passes the emulator's gate (count, delay, faults, auth) first."""

    def __init__(self, emulator: ErpEmulator, prefix: str) -> None:
        self._emulator = emulator
        self._prefix = prefix

    def _order(self, number: str) -> Order:
        found = self._emulator.orders.get(number)
        if found is None:
            raise ApiError(404, "ORDER_NOT_FOUND", f"Order {number} does not exist")
        return found

    async def status(self, request: Request) -> Response:
        await self._emulator.gate(request, "status")
        return _ok({"status": "UP", "version": "2.3.0"})

    async def get_order(self, request: Request) -> Response:
        await self._emulator.gate(request, "get_order")
        return _ok({"order": order_json(self._order(request.path_params["order_no"]))})

    async def get_deliveries(self, request: Request) -> Response:
        await self._emulator.gate(request, "track_shipment")
        found = self._order(request.path_params["order_no"])
        return _ok({"deliveries": [delivery_json(shipment) for shipment in found.shipments]})

    async def list_orders(self, request: Request) -> Response:
        await self._emulator.gate(request, "list_orders")
        customer_no = request.path_params["customer_no"]
        if customer_no not in self._emulator.customers:
            raise ApiError(404, "CUSTOMER_NOT_FOUND", f"Customer {customer_no} does not exist")
        limit, sort = _page(request)
        mine = [o for o in self._emulator.orders.values() if o.customer_id == customer_no]
        mine.sort(key=lambda o: (o.placed_at, o.id), reverse=sort == "-orderDate")
        page = [order_json(o) for o in mine[:limit]]
        return _ok({"orders": page, "paging": {"limit": limit, "returned": len(page), "total": len(mine)}})

    async def list_invoices(self, request: Request) -> Response:
        await self._emulator.gate(request, "get_invoice")
        order_no = request.query_params.get("orderNo")
        if not order_no:
            raise ApiError(400, "INVALID_PARAMETER", "The query parameter orderNo is required")
        invoice = self._emulator.invoices.get(order_no)
        return _ok({"invoices": [invoice_json(invoice)] if invoice else []})

    async def get_return(self, request: Request) -> Response:
        await self._emulator.gate(request, "get_return")
        number = request.path_params["rma_no"]
        found = self._emulator.returns.get(number)
        if found is None:
            raise ApiError(404, "RETURN_NOT_FOUND", f"Return {number} does not exist")
        return _ok({"return": return_json(found)})

    async def create_return(self, request: Request) -> Response:
        emulator = self._emulator
        await emulator.gate(request, "create_return")
        body = await _json_body(request)
        key = request.headers.get("idempotency-key")
        prior = emulator.recall(key) if key else None
        if prior is not None:
            if prior[0] != fingerprint(body):
                raise ApiError(
                    422, "IDEMPOTENCY_KEY_REUSED", f"Idempotency-Key {key} was already used with a different request"
                )
            return JSONResponse(prior[1], status_code=200, headers={"Idempotent-Replayed": "true"})
        rma = _rma(body)
        created = _validated_return(emulator, rma, self._order(rma.orderNo))
        emulator.returns[created.id] = created
        answer = {"data": {"return": return_json(created)}, "meta": {"apiVersion": "2.3"}}
        if key:
            emulator.remember(key, fingerprint(body), answer)
        return JSONResponse(answer, status_code=201, headers={"Location": f"{self._prefix}/returns/{created.id}"})


def _page(request: Request) -> tuple[int, str]:
    raw_limit = request.query_params.get("limit", "50")
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= _MAX_PAGE:
        raise ApiError(400, "INVALID_PARAMETER", f"limit must be a whole number from 1 to {_MAX_PAGE}")
    sort = request.query_params.get("sort", "orderDate")
    if sort not in {"orderDate", "-orderDate"}:
        raise ApiError(400, "INVALID_PARAMETER", "sort must be orderDate or -orderDate")
    return limit, sort


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "MALFORMED_JSON", "The request body is not JSON") from None


def _rma(body: Any) -> _Rma:
    if not isinstance(body, dict) or not isinstance(body.get("rma"), dict):
        raise ApiError(400, "INVALID_REQUEST", "The body must be an object with an rma object")
    try:
        return _Rma.model_validate(body["rma"])
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(["rma", *(str(part) for part in error["loc"])])
        raise ApiError(400, "INVALID_REQUEST", f"{where}: {error['msg']}") from None


def _validated_return(emulator: ErpEmulator, rma: _Rma, found: Order) -> ReturnRequest:
    if found.customer_id != rma.customerNo:
        raise ApiError(422, "ORDER_CUSTOMER_MISMATCH", f"Order {found.id} does not belong to customer {rma.customerNo}")
    if found.status in _NOT_RETURNABLE:
        state = ORDER_STATES[found.status]
        raise ApiError(
            422, "ORDER_NOT_RETURNABLE", f"Order {found.id} is {found.status} ({state}) and cannot be returned"
        )
    if not rma.reasonText.strip():
        raise ApiError(422, "REASON_REQUIRED", "A reason is required for a return")
    on_order = {line.sku for line in found.lines}
    skus = tuple(item.itemNo for item in rma.items)
    missing = [sku for sku in skus if sku not in on_order]
    if missing:
        raise ApiError(422, "ITEM_NOT_ON_ORDER", f"Item {missing[0]} is not on order {found.id}")
    return ReturnRequest(
        id=emulator.next_return_id(),
        order_id=found.id,
        customer_id=found.customer_id,
        kind="return" if _KINDS[rma.type] == "return" else "refund",
        reason=rma.reasonText,
        skus=skus,
        status="requested",
        created_at=emulator.now(),
    )
