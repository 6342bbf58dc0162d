"""An emulated REST ERP ("Northwind ERP API v2") to run the REST ERP connector against over real HTTP.

The emulator holds :class:`~grounddesk.demo.seed.SeedData` orders, invoices and returns and serves them in a shape
of its own (see :mod:`grounddesk.testing._erp_emulator_shape`) under ``/api/v2``:

==========================================  ===========================================================
``POST /oauth/token``                       OAuth 2 client-credentials grant (form body or Basic client auth)
``GET  /api/v2/status``                     health
``GET  /api/v2/orders/{orderNo}``           ``{"data": {"order": {...}}}``
``GET  /api/v2/orders/{orderNo}/deliveries`` ``{"data": {"deliveries": [...]}}``
``GET  /api/v2/customers/{no}/orders``      ``?limit=&sort=-orderDate`` -> ``{"data": {"orders": [...]}}``
``GET  /api/v2/invoices?orderNo=``          ``{"data": {"invoices": [...]}}``
``POST /api/v2/returns``                    ``{"rma": {...}}`` -> 201, or 200 with the first answer for a used
                                            ``Idempotency-Key``; 422 for business rule violations
``GET  /api/v2/returns/{rmaNo}``            one return
==========================================  ===========================================================

Errors are ``{"error": {"code": ..., "message": ...}}`` (RFC 6749 bodies on the token endpoint). Every API call
needs credentials: an issued OAuth token, a static bearer token, an ``X-API-Key`` or Basic credentials.

Fault injection for tests: :meth:`ErpEmulator.fail_next` (5xx), :meth:`~ErpEmulator.throttle_next` (429 with
``Retry-After``), :attr:`~ErpEmulator.delay_s` (slow answers), :meth:`~ErpEmulator.expire_tokens`; and counters in
:attr:`~ErpEmulator.calls`.

Example:
    >>> emulator = ErpEmulator(generate_seed())
    >>> with emulator.serve() as server:
    ...     erp = HttpERP(server.erp_settings())
    ...     erp.get_order("A1001").status
    <OrderStatus.SHIPPED: 'shipped'>
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from grounddesk.connectors.types import Invoice, Order, ReturnRequest
from grounddesk.testing._erp_emulator_routes import ApiError, add_routes
from grounddesk.testing.asgi_server import AsgiServer

if TYPE_CHECKING:
    from grounddesk.connectors.erp_http import HttpERPSettings
    from grounddesk.demo.seed import SeedData

__all__ = ["API_PREFIX", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "ErpEmulator", "ErpEmulatorServer"]

API_PREFIX = "/api/v2"
DEFAULT_CLIENT_ID = "grounddesk"
DEFAULT_CLIENT_SECRET = "emulator-secret"


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after_s: float | None


class ErpEmulator:
    """State, credentials and faults of the emulated ERP, and the FastAPI :attr:`app` serving them.

    Args:
        seed: The records to hold; ``None`` generates the default seed.
        clients: OAuth clients, id -> secret (default ``grounddesk`` / ``emulator-secret``).
        tokens: Static bearer tokens accepted as they are.
        api_keys: Keys accepted in ``X-API-Key``.
        basic: Basic-auth users, name -> password.
        token_ttl_s: ``expires_in`` of issued tokens; they are refused after it.
        clock: The current time (UTC) used for new return requests.
    """

    def __init__(
        self,
        seed: SeedData | None = None,
        *,
        clients: Mapping[str, str] | None = None,
        tokens: Iterable[str] = (),
        api_keys: Iterable[str] = (),
        basic: Mapping[str, str] | None = None,
        token_ttl_s: int = 3600,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if seed is None:
            from grounddesk.demo.seed import generate_seed

            seed = generate_seed()
        self._seed = seed
        self.clients = dict(clients if clients is not None else {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET})
        self.static_tokens = frozenset(tokens)
        self.api_keys = frozenset(api_keys)
        self.basic = dict(basic or {})
        self.token_ttl_s = token_ttl_s
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self.app = self._build_app()
        self.reset()

    # --- state ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seed: records, issued tokens, idempotency keys, faults, delay and counters."""
        with self._lock:
            self.orders: dict[str, Order] = {order.id: order for order in self._seed.orders}
            self.invoices: dict[str, Invoice] = {invoice.order_id: invoice for invoice in self._seed.invoices}
            self.returns: dict[str, ReturnRequest] = {request.id: request for request in self._seed.returns}
            self.customers = {c.id for c in self._seed.customers} | {o.customer_id for o in self._seed.orders}
            self._issued: dict[str, float] = {}
            self._idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
            self._faults: dict[str, deque[_Fault]] = {"api": deque(), "token": deque()}
            self.delay_s = 0.0
            self.calls: Counter[str] = Counter()
            self.auth_failures = 0

    def next_return_id(self) -> str:
        """The next free ``R-<n>`` number."""
        number = 1001 + len(self.returns)
        while f"R-{number}" in self.returns:
            number += 1
        return f"R-{number}"

    def now(self) -> datetime:
        """The emulator's current time."""
        return self._clock()

    def remember(self, key: str, fingerprint: str, body: dict[str, Any]) -> None:
        """Store the answer to a write under its idempotency key."""
        self._idempotency[key] = (fingerprint, body)

    def recall(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """The fingerprint and answer stored under an idempotency key."""
        return self._idempotency.get(key)

    def serve(self, **options: Any) -> ErpEmulatorServer:
        """A server for this emulator on a free loopback port; use it as a context manager."""
        return ErpEmulatorServer(self, **options)

    # --- fault injection -----------------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        retry_after_s: float | None = None,
        target: Literal["api", "token"] = "api",
    ) -> None:
        """Answer the next ``count`` calls (API calls, or token requests) with ``status`` instead."""
        with self._lock:
            self._faults[target].extend(_Fault(status, retry_after_s) for _ in range(count))

    def throttle_next(self, count: int = 1, *, retry_after_s: float = 1.0) -> None:
        """Answer the next ``count`` API calls with 429 and ``Retry-After: <retry_after_s>``."""
        self.fail_next(count, status=429, retry_after_s=retry_after_s)

    def expire_tokens(self) -> None:
        """Make every token issued so far expired, as if its lifetime had passed."""
        with self._lock:
            self._issued = dict.fromkeys(self._issued, float("-inf"))

    @property
    def token_requests(self) -> int:
        """How many token requests reached the token endpoint (including refused ones)."""
        return self.calls["token"]

    # --- request gate --------------------------------------------------------------------------------------

    async def gate(self, request: Request, operation: str, *, target: Literal["api", "token"] = "api") -> None:
        """Count the call, then apply the delay, the next queued fault and (for API calls) authentication."""
        with self._lock:
            self.calls[operation] += 1
            delay = self.delay_s
            fault = self._faults[target].popleft() if self._faults[target] else None
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is not None:
            headers = {"Retry-After": f"{fault.retry_after_s:g}"} if fault.retry_after_s is not None else {}
            code = "RATE_LIMIT_EXCEEDED" if fault.status == 429 else "SERVICE_UNAVAILABLE"
            raise ApiError(fault.status, code, "Injected fault: please try again later", headers=headers)
        if target == "api":
            self._authenticate(request)

    def _authenticate(self, request: Request) -> None:
        key = request.headers.get("x-api-key")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if key is not None:
            problem = None if key in self.api_keys else "The API key is not valid"
        elif scheme.lower() == "bearer":
            problem = self._check_token(value.strip())
        elif scheme.lower() == "basic":
            user, password = _basic(value)
            problem = None if user is not None and self.basic.get(user) == password else "Bad user name or password"
        else:
            problem = "Authentication required"
        if problem is not None:
            with self._lock:
                self.auth_failures += 1
            challenge = (
                'Bearer realm="erp", error="invalid_token"' if scheme.lower() == "bearer" else 'Bearer realm="erp"'
            )
            raise ApiError(401, "UNAUTHORIZED", problem, headers={"WWW-Authenticate": challenge})

    def _check_token(self, token: str) -> str | None:
        if token in self.static_tokens:
            return None
        with self._lock:
            expires_at = self._issued.get(token)
        if expires_at is None:
            return "The access token is not valid"
        if time.monotonic() >= expires_at:
            return "The access token expired"
        return None

    # --- token endpoint ------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        try:
            await self.gate(request, "token", target="token")
        except ApiError as exc:
            return JSONResponse(
                {"error": "temporarily_unavailable", "error_description": exc.message},
                status_code=exc.status,
                headers=exc.headers,
            )
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        client_id, secret = _basic(credentials) if scheme.lower() == "basic" else (None, None)
        if client_id is None:
            client_id, secret = form.get("client_id"), form.get("client_secret")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported")
        if client_id is None or self.clients.get(client_id) != secret:
            return _oauth_error(401, "invalid_client", "Unknown client or wrong secret")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = time.monotonic() + self.token_ttl_s
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl_s}
        if "scope" in form:
            body["scope"] = form["scope"]
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Northwind ERP API (emulated)", version="2.3.0", openapi_url=None, docs_url=None)

        async def api_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, ApiError)
            body = {"error": {"code": exc.code, "message": exc.message}}
            return JSONResponse(body, status_code=exc.status, headers=exc.headers)

        app.add_exception_handler(ApiError, api_error)
        app.add_api_route("/oauth/token", self._token, methods=["POST"])
        add_routes(app, self, prefix=API_PREFIX)
        return app


class ErpEmulatorServer(AsgiServer):
    """An :class:`ErpEmulator` served on 127.0.0.1 (see :class:`~grounddesk.testing.asgi_server.AsgiServer`).

    Example:
        >>> with ErpEmulator().serve() as server:
        ...     server.api_url
        'http://127.0.0.1:40211/api/v2'
    """

    def __init__(self, emulator: ErpEmulator, **options: Any) -> None:
        super().__init__(emulator.app, **options)
        self.emulator = emulator

    @property
    def api_url(self) -> str:
        """The API root, the ``base_url`` of a mapping file."""
        return self.base_url + API_PREFIX

    def erp_settings(self, **overrides: Any) -> HttpERPSettings:
        """Settings of :class:`~grounddesk.connectors.erp_http.HttpERP` for this server with the bundled mapping."""
        from pydantic import SecretStr

        from grounddesk.connectors.erp_http import HttpERPSettings

        values: dict[str, Any] = {
            "base_url": self.api_url,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": SecretStr(self.emulator.clients.get(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)),
            "timeout_s": 5.0,
        }
        return HttpERPSettings.model_validate(values | overrides)


def _basic(value: str) -> tuple[str | None, str | None]:
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)
