"""The REST ERP connector: any JSON-over-HTTP ERP, described by a mapping file instead of code.

:class:`HttpERP` implements :class:`~grounddesk.connectors.types.ERPConnector` with a synchronous
:class:`httpx.Client`. Where each call goes, how it authenticates and how the ERP's JSON becomes our records is
read from a YAML mapping file (see :mod:`grounddesk.connectors.erp_mapping` and the bundled
``erp_mapping.yaml``, which maps the ERP emulator of :mod:`grounddesk.testing.erp_emulator`).

Writes send the caller's idempotency key in a header (``Idempotency-Key`` unless the mapping renames it); an ERP
that honours it makes ``create_return`` safe to retry. HTTP failures become connector errors: see
:mod:`grounddesk.connectors._erp_transport` for the table.

Example:
    >>> settings = HttpERPSettings(base_url="https://erp.example.com/api/v2", client_secret=SecretStr("..."))
    >>> with HttpERP(settings) as erp:
    ...     order = erp.get_order("A1001")
    >>> order.status
    <OrderStatus.SHIPPED: 'shipped'>
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from grounddesk.connectors._erp_auth import Authenticator, OAuthClientCredentials, StaticAuth
from grounddesk.connectors._erp_records import MISSING, RecordMapper, read_path
from grounddesk.connectors._erp_transport import ErrorReader, send
from grounddesk.connectors.erp_mapping import ErpMapping, Operation, load_mapping
from grounddesk.connectors.types import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorHealth,
    ConnectorUnavailable,
    Invoice,
    NewReturn,
    Order,
    RecordNotFound,
    ReturnRequest,
    Shipment,
)
from grounddesk.errors import ConfigurationError

__all__ = ["HttpERP", "HttpERPSettings"]

logger = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ROOT = Operation(path="/")


class HttpERPSettings(BaseModel):
    """Settings of the REST ERP connector (to be nested into ``Settings`` as ``erp_http``).

    The mapping file holds everything about the ERP that is not secret; the secrets live here so they come from
    the environment or a secrets store, never from a file a customer commits.
    """

    model_config = ConfigDict(extra="forbid")

    mapping_file: Path | None = Field(default=None, description="The YAML mapping; None = the bundled emulator one")
    base_url: str | None = Field(default=None, description="Overrides the mapping's base_url")
    timeout_s: float = Field(default=10.0, gt=0, description="Timeout of each HTTP call")
    token: SecretStr | None = Field(default=None, description="auth type bearer")
    api_key: SecretStr | None = Field(default=None, description="auth type api_key")
    client_id: str | None = Field(default=None, description="auth type oauth2_client_credentials (or the mapping)")
    client_secret: SecretStr | None = Field(default=None, description="auth type oauth2_client_credentials")
    username: str | None = Field(default=None, description="auth type basic (or the mapping)")
    password: SecretStr | None = Field(default=None, description="auth type basic")


class HttpERP:
    """An ERP reached over HTTP, as its mapping file describes it.

    Args:
        settings: Mapping file, base URL, secrets and timeout.
        mapping: An already loaded mapping (instead of ``settings.mapping_file``).
        client: An httpx client to use (the caller keeps ownership and closes it).
        transport: A transport for the client this connector builds (``httpx.MockTransport`` in tests).
        clock: Monotonic seconds, for OAuth token expiry.

    Raises:
        ConfigurationError: The mapping is invalid, there is no base URL, or a secret its auth needs is missing.

    Example:
        >>> erp = HttpERP(HttpERPSettings(base_url=server.api_url, client_secret=SecretStr("s3cret")))
        >>> [o.id for o in erp.list_orders("C-1001")]
        ['A1001']
    """

    name = "erp"

    def __init__(
        self,
        settings: HttpERPSettings | None = None,
        *,
        mapping: ErpMapping | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = settings or HttpERPSettings()
        self._mapping = mapping or load_mapping(settings.mapping_file)
        base_url = settings.base_url or self._mapping.base_url
        if not base_url:
            raise ConfigurationError("the ERP has no base URL: set base_url in the mapping file or the settings")
        self._base_url = base_url.rstrip("/")
        self._timeout_s = settings.timeout_s
        self._owns_client = client is None
        self._client = client or httpx.Client(transport=transport, timeout=settings.timeout_s)
        self._errors = ErrorReader(self._mapping.errors, connector=self.name)
        self._records = RecordMapper(self._mapping, connector=self.name)
        try:
            self._auth = self._authenticator(settings, clock)
        except ConfigurationError:
            self.close()
            raise

    # --- ERPConnector ----------------------------------------------------------------------------------------

    def get_order(self, order_id: str) -> Order:
        """An order with its lines and shipments (carrier events oldest first).

        Raises:
            RecordNotFound: The ERP has no such order (``kind="order"``).
            ConnectorError: The call failed, or the answer does not fit the mapping.
        """
        body = self._call("get_order", {"order_id": order_id}, not_found=("order", order_id))
        raw, at = self._single("get_order", body, ("order", order_id))
        return _events_in_order(self._records.order(raw, at=at, context={"order_id": order_id}))

    def list_orders(self, customer_id: str, *, limit: int = 20) -> list[Order]:
        """A customer's orders, newest first (sorted here, whatever order the ERP sends); events oldest first."""
        args = {"customer_id": customer_id, "limit": str(limit)}
        body = self._call("list_orders", args, not_found=("customer", customer_id))
        items, at = self._many("list_orders", body)
        context = {"customer_id": customer_id}
        orders = [
            _events_in_order(self._records.order(item, at=f"{at}.{i}", context=context)) for i, item in enumerate(items)
        ]
        orders.sort(key=lambda order: (order.placed_at, order.id), reverse=True)
        return orders[: max(limit, 0)]

    def track_shipment(self, order_id: str) -> list[Shipment]:
        """The shipments of an order, each with its carrier events oldest first.

        Uses ``operations.track_shipment`` when the mapping has it, the shipments of ``get_order`` otherwise.
        """
        if self._mapping.operations.track_shipment is None:
            shipments = list(self.get_order(order_id).shipments)
        else:
            body = self._call("track_shipment", {"order_id": order_id}, not_found=("order", order_id))
            items, at = self._many("track_shipment", body)
            context = {"order_id": order_id}
            shipments = [self._records.shipment(s, at=f"{at}.{i}", context=context) for i, s in enumerate(items)]
        return [_oldest_first(shipment) for shipment in shipments]

    def get_invoice(self, order_id: str) -> Invoice:
        """The invoice of an order (``RecordNotFound`` with ``kind="invoice"`` when there is none)."""
        body = self._call("get_invoice", {"order_id": order_id}, not_found=("invoice", order_id))
        raw, at = self._single("get_invoice", body, ("invoice", order_id))
        return self._records.invoice(raw, at=at, context={"order_id": order_id})

    def create_return(self, request: NewReturn, *, idempotency_key: str) -> ReturnRequest:
        """Open a return or refund, sending ``idempotency_key`` so the ERP can answer a repeat with the first one.

        Raises:
            ConnectorValidationError: The ERP refused the request (its message is in the detail).
            RecordNotFound: The ERP has no such order.
        """
        context = {"order_id": request.order_id, "customer_id": request.customer_id}
        body = self._call(
            "create_return",
            context,
            not_found=("order", request.order_id),
            json=self._records.return_body(request),
            idempotency_key=idempotency_key,
        )
        raw, at = self._single("create_return", body, ("order", request.order_id))
        return self._records.return_request(raw, at=at, context=context)

    def health(self) -> ConnectorHealth:
        """Call the health endpoint (the base URL when the mapping has none) once; never raises."""
        started = time.perf_counter()
        operation = self._mapping.operations.health
        try:
            self._call("health", {}, not_found=None, operation=operation or _ROOT)
        except ConnectorError as exc:
            # Without a health endpoint any answer that is not an outage or a refusal shows the ERP is there.
            answered = operation is None and "status" in exc.fields
            if answered and not isinstance(exc, ConnectorAuthError | ConnectorUnavailable):
                return self._health(True, started, "")
            return self._health(False, started, exc.detail)
        except Exception as exc:  # health() must not raise, whatever broke
            logger.warning("erp health check crashed", extra={"connector": self.name, "error": type(exc).__name__})
            return self._health(False, started, f"{type(exc).__name__}: {exc}")
        return self._health(True, started, "")

    def close(self) -> None:
        """Close the HTTP client if this connector created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- HTTP --------------------------------------------------------------------------------------------------

    def _call(
        self,
        name: str,
        args: Mapping[str, str],
        *,
        not_found: tuple[str, str] | None,
        json: Any = None,
        idempotency_key: str | None = None,
        operation: Operation | None = None,
    ) -> Any:
        operation = operation or getattr(self._mapping.operations, name)
        assert operation is not None  # the optional operations are checked by their callers
        url = self._base_url + _fill(operation.path, args, escape=True)
        params = {key: _fill(value, args) for key, value in operation.query.items()}
        headers = {"Accept": "application/json", **self._mapping.headers}
        headers |= {key: _fill(value, args) for key, value in operation.headers.items()}
        if idempotency_key is not None:
            headers[self._mapping.idempotency_header] = idempotency_key
        started = time.perf_counter()
        response = self._send(name, operation.method, url, params=params, headers=headers, json=json)
        logger.debug(
            "erp call",
            extra={
                "connector": self.name,
                "operation": name,
                "status": response.status_code,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        if response.status_code >= 400:
            raise self._errors.error(response, operation=name, not_found=not_found)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(
                f"ERP {name} answered HTTP {response.status_code} with a body that is not JSON",
                connector=self.name,
                operation=name,
                path="",
            ) from None

    def _send(
        self, name: str, method: str, url: str, *, params: dict[str, str], headers: dict[str, str], json: Any
    ) -> httpx.Response:
        def attempt(credentials: dict[str, str]) -> httpx.Response:
            request = self._client.build_request(
                method, url, params=params, headers={**headers, **credentials}, json=json, timeout=self._timeout_s
            )
            return send(self._client, request, connector=self.name, operation=name, timeout_s=self._timeout_s)

        credentials = self._auth.headers()
        response = attempt(credentials)
        if response.status_code == 401:
            renewed = self._auth.refresh(credentials)
            if renewed is not None:
                logger.info("erp refused the token, retrying once", extra={"connector": self.name, "operation": name})
                response = attempt(renewed)
        return response

    # --- answers -----------------------------------------------------------------------------------------------

    def _located(self, name: str, body: Any) -> tuple[Any, str]:
        operation: Operation = getattr(self._mapping.operations, name)
        found = read_path(body, operation.result)
        if found is MISSING:
            raise ConnectorError(
                f"ERP {name} answer has no value at {operation.result or 'the body'}",
                connector=self.name,
                operation=name,
                path=operation.result,
            )
        return found, operation.result

    def _single(self, name: str, body: Any, not_found: tuple[str, str]) -> tuple[Any, str]:
        found, at = self._located(name, body)
        if not isinstance(found, list):
            return found, at
        if not found:  # an ERP searched by a query (/invoices?orderNo=...) answers an empty list
            kind, key = not_found
            raise RecordNotFound(f"no {kind} {key!r} in the ERP", connector=self.name, kind=kind, key=key)
        return found[0], f"{at}.0" if at else "0"

    def _many(self, name: str, body: Any) -> tuple[list[Any], str]:
        found, at = self._located(name, body)
        if found is None:
            return [], at
        if not isinstance(found, list):
            raise ConnectorError(
                f"ERP {name} answer holds no list at {at or 'the body'}", connector=self.name, operation=name, path=at
            )
        return found, at

    def _health(self, ok: bool, started: float, detail: str) -> ConnectorHealth:
        latency = round((time.perf_counter() - started) * 1000, 1)
        return ConnectorHealth(name=self.name, kind="erp", ok=ok, latency_ms=latency, detail=detail)

    # --- credentials -----------------------------------------------------------------------------------------

    def _authenticator(self, settings: HttpERPSettings, clock: Callable[[], float]) -> Authenticator:
        spec = self._mapping.auth
        if spec.type == "none":
            return StaticAuth({})
        if spec.type == "bearer":
            return StaticAuth({"Authorization": f"Bearer {_secret(settings.token, 'token', spec.type)}"})
        if spec.type == "api_key":
            return StaticAuth({spec.header: spec.prefix + _secret(settings.api_key, "api_key", spec.type)})
        if spec.type == "basic":
            username = settings.username or spec.username
            if not username:
                raise ConfigurationError("ERP auth basic needs a username (mapping auth.username or settings)")
            pair = f"{username}:{_secret(settings.password, 'password', spec.type)}".encode()
            return StaticAuth({"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"})
        client_id = settings.client_id or spec.client_id
        if not client_id:
            raise ConfigurationError(f"ERP auth {spec.type} needs a client_id (mapping auth.client_id or settings)")
        _secret(settings.client_secret, "client_secret", spec.type)
        assert settings.client_secret is not None
        return OAuthClientCredentials(
            spec,
            token_url=str(httpx.URL(self._base_url + "/").join(spec.token_url)),
            client_id=client_id,
            client_secret=settings.client_secret,
            client=self._client,
            errors=self._errors,
            timeout_s=self._timeout_s,
            connector=self.name,
            clock=clock,
        )


def _oldest_first(shipment: Shipment) -> Shipment:
    events = tuple(sorted(shipment.events, key=lambda event: event.at))
    return shipment if events == shipment.events else shipment.model_copy(update={"events": events})


def _events_in_order(order: Order) -> Order:
    shipments = tuple(_oldest_first(shipment) for shipment in order.shipments)
    return order if shipments == order.shipments else order.model_copy(update={"shipments": shipments})


def _secret(value: SecretStr | None, name: str, auth: str) -> str:
    if value is None or not value.get_secret_value():
        raise ConfigurationError(f"ERP auth {auth} needs the secret {name} in the ERP settings", setting=name)
    return value.get_secret_value()


def _fill(template: str, args: Mapping[str, str], *, escape: bool = False) -> str:
    def one(match: re.Match[str]) -> str:
        value = args[match.group(1)]  # placeholders are checked against the operation when the mapping loads
        return quote(value, safe="") if escape else value

    return _PLACEHOLDER.sub(one, template)
