"""A Salesforce REST API emulator (FastAPI on 127.0.0.1) to test the Salesforce connector through simple-salesforce.

What it speaks:

* logins: SOAP ``login``, and the OAuth token endpoint with the ``password``, ``client_credentials`` and JWT
  bearer grants (see :mod:`grounddesk.testing._salesforce_auth` for what is verified);
* ``GET /services/data/vXX.X/query/?q=`` and ``queryAll/`` with paging (``nextRecordsUrl``,
  ``GET .../query/{locator}``), over a SOQL subset (:mod:`grounddesk.testing._soql`);
* sObjects Account, Contact, Case and CaseComment: create (POST), get (GET by id or external id), update (PATCH),
  delete (DELETE) and describe, with Salesforce's validation errors;
* ``GET .../limits/``; every response carries ``Sforce-Limit-Info: api-usage=N/M``.

Errors are Salesforce's ``[{"message", "errorCode"}]`` with its statuses (401 ``INVALID_SESSION_ID``, 403
``REQUEST_LIMIT_EXCEEDED``, 404 ``NOT_FOUND``, 400 ``MALFORMED_QUERY`` / ``INVALID_FIELD`` /
``REQUIRED_FIELD_MISSING``, 5xx). Faults are injected from the test through thread-safe methods, and counters
say what the client did (logins by flow, calls by endpoint, the SOQL received).

The emulator serves plain HTTP; clients reach it as ``https://*.salesforce.com`` through
:func:`salesforce_session`, a ``requests.Session`` with an adapter that rewrites those URLs.

Example:
    >>> with SalesforceEmulator(seed=generate_seed(), batch_size=50) as emulator:  # doctest: +SKIP
    ...     sf = Salesforce(username=emulator.credentials.username, password=emulator.credentials.password,
    ...                     security_token=emulator.credentials.security_token, session=salesforce_session(emulator))
    ...     sf.query_all("SELECT Id FROM Contact")["totalSize"]
    60
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from grounddesk.testing._salesforce_adapter import EmulatorAdapter, salesforce_session
from grounddesk.testing._salesforce_auth import AuthRegistry, ConnectedApp
from grounddesk.testing._salesforce_routes import build_app
from grounddesk.testing._salesforce_store import SalesforceStore

if TYPE_CHECKING:
    from grounddesk.demo.seed import SeedData
    from grounddesk.testing.asgi_server import AsgiServer

__all__ = ["EmulatorAdapter", "EmulatorCredentials", "SalesforceEmulator", "SteppingClock", "salesforce_session"]

_ORG_ID = "00DGd0000000001AAA"


class SteppingClock:
    """A clock for deterministic timestamps: each reading is ``step`` later than the one before (thread-safe).

    Args:
        start: The first reading (timezone-aware).
        step: How much later each following reading is.
    """

    def __init__(self, start: datetime, step: timedelta = timedelta(seconds=1)) -> None:
        self._next = start
        self._step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        """The next reading."""
        with self._lock:
            now, self._next = self._next, self._next + self._step
            return now


@dataclass(frozen=True)
class EmulatorCredentials:
    """The user and connected app every emulator starts with."""

    username: str = "integration@northwind.example"
    password: str = "correct-horse-battery"
    security_token: str = "TOKEN4EMULATOR"
    consumer_key: str = "3MVG9emulatorConsumerKey"
    consumer_secret: str = "emulator-consumer-secret"


@dataclass
class _Faults:
    server_errors: int = 0
    server_status: int = 503
    server_errors_hit_logins: bool = False
    request_limit: int = 0
    invalid_session: int = 0
    delay_s: float = 0.0


class SalesforceEmulator:
    """An emulated Salesforce org served on a free 127.0.0.1 port.

    Args:
        seed: Demo data to load (accounts, contacts, cases, comments); None starts an empty org.
        batch_size: Rows per query page (Salesforce's default is 2000; tests use a few).
        api_limit: Daily API request limit; calls beyond it get ``REQUEST_LIMIT_EXCEEDED``.
        instance_host: The host name of the org's instance (``*.salesforce.com``).
        clock: The time stamped on records (timezone-aware); defaults to the wall clock.
        credentials: The user and connected app registered at start.
    """

    def __init__(
        self,
        *,
        seed: SeedData | None = None,
        batch_size: int = 2000,
        api_limit: int = 15_000,
        instance_host: str = "northwind-dev.my.salesforce.com",
        clock: Callable[[], datetime] | None = None,
        credentials: EmulatorCredentials | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.batch_size = batch_size
        self.api_limit = api_limit
        self.instance_url = f"https://{instance_host}"
        self.credentials = credentials or EmulatorCredentials()
        self.store = SalesforceStore(clock=self.clock)
        # JWT expiry is about real time (clients sign with the wall clock), whatever the records' clock says.
        self.auth = AuthRegistry(org_id=_ORG_ID, instance_url=self.instance_url, clock=lambda: datetime.now(UTC))
        creds = self.credentials
        self.auth.add_user(creds.username, creds.password, creds.security_token)
        self.auth.add_app(ConnectedApp(creds.consumer_key, creds.consumer_secret, run_as=creds.username))
        if seed is not None:
            self.store.load_seed(seed)
        self._lock = threading.Lock()
        self._faults = _Faults()
        self._calls: Counter[str] = Counter()
        self._queries: list[str] = []
        self._api_used = 0
        self._closing = threading.Event()
        self._server: AsgiServer | None = None
        self.app = build_app(self)

    # --- running -------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve on a free loopback port (returns once serving)."""
        from grounddesk.testing.asgi_server import AsgiServer

        self._closing.clear()
        self._server = AsgiServer(self.app).start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed requests are released at once (idempotent)."""
        self._closing.set()
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running emulator."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return self._server.base_url

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- set-up --------------------------------------------------------------------------------------------

    def add_user(self, username: str, password: str, security_token: str = "") -> None:
        """Register another user."""
        self.auth.add_user(username, password, security_token)

    def add_connected_app(
        self, consumer_key: str, consumer_secret: str, *, public_key: bytes | None = None, run_as: str | None = None
    ) -> None:
        """Register a connected app; ``public_key`` (PEM key or certificate) enables the JWT bearer flow."""
        self.auth.add_app(ConnectedApp(consumer_key, consumer_secret, public_key, run_as))

    def open_session(self, username: str | None = None) -> str:
        """A session token issued out of band (as for ``auth="session"``); not counted as a login."""
        return self.auth.issue(username or self.credentials.username, "issued")

    # --- fault injection -----------------------------------------------------------------------------------

    def expire_sessions(self) -> None:
        """End every open session: the next call with one gets 401 ``INVALID_SESSION_ID``."""
        self.auth.expire_all()

    def fail_with_invalid_session(self, calls: int) -> None:
        """Answer the next ``calls`` data calls with 401 ``INVALID_SESSION_ID`` whatever their session."""
        with self._lock:
            self._faults.invalid_session = calls

    def fail_with_request_limit(self, calls: int) -> None:
        """Answer the next ``calls`` data calls with 403 ``REQUEST_LIMIT_EXCEEDED``."""
        with self._lock:
            self._faults.request_limit = calls

    def fail_with_server_error(self, calls: int, *, status: int = 503, include_logins: bool = False) -> None:
        """Answer the next ``calls`` data calls (and logins, if told) with HTTP ``status`` (5xx)."""
        with self._lock:
            self._faults.server_errors = calls
            self._faults.server_status = status
            self._faults.server_errors_hit_logins = include_logins

    def set_delay(self, seconds: float) -> None:
        """Hold every request (logins included) this long before answering."""
        with self._lock:
            self._faults.delay_s = seconds

    def reset_faults(self) -> None:
        """Clear every injected fault and the delay."""
        with self._lock:
            self._faults = _Faults()

    # --- counters ------------------------------------------------------------------------------------------

    @property
    def logins(self) -> dict[str, int]:
        """Successful logins by flow (``soap``, ``password``, ``client_credentials``, ``jwt``)."""
        return {flow: n for flow, n in self.auth.logins.items() if flow != "issued"}

    @property
    def login_count(self) -> int:
        """Successful logins, all flows."""
        return sum(self.logins.values())

    @property
    def calls(self) -> dict[str, int]:
        """Requests received by endpoint (``soap_login``, ``oauth_token``, ``query``, ``query_more``, ...)."""
        with self._lock:
            return dict(self._calls)

    def call_count(self, endpoint: str) -> int:
        """Requests received at ``endpoint``."""
        return self.calls.get(endpoint, 0)

    @property
    def queries(self) -> list[str]:
        """Every SOQL text received, in order."""
        with self._lock:
            return list(self._queries)

    @property
    def api_used(self) -> int:
        """API requests counted against :attr:`api_limit`."""
        with self._lock:
            return self._api_used

    def reset_counters(self) -> None:
        """Forget calls, logins and queries received (the API usage stays)."""
        with self._lock:
            self._calls.clear()
            self._queries.clear()
        self.auth.reset_logins()

    def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Run a query directly on the org's data (no HTTP, not counted), for assertions."""
        return self.store.query(soql, include_deleted=include_deleted, version="59.0")

    # --- used by the routes --------------------------------------------------------------------------------

    def limit_info(self) -> str:
        """The ``Sforce-Limit-Info`` header value."""
        with self._lock:
            return f"api-usage={self._api_used}/{self.api_limit}"

    def record_call(self, endpoint: str, soql: str | None = None) -> None:
        """Count a request (and keep its SOQL)."""
        with self._lock:
            self._calls[endpoint] += 1
            if soql is not None:
                self._queries.append(soql)

    async def pause(self) -> None:
        """Wait the injected delay (cut short when the emulator stops)."""
        with self._lock:
            delay = self._faults.delay_s
        deadline = time.monotonic() + delay
        while not self._closing.is_set() and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.05))

    def take_login_fault(self) -> int | None:
        """The 5xx status a login must fail with now, if one is injected for logins."""
        with self._lock:
            if self._faults.server_errors and self._faults.server_errors_hit_logins:
                self._faults.server_errors -= 1
                return self._faults.server_status
        return None

    def admit(self, token: str | None) -> tuple[int, str, str] | None:
        """Decide whether a data call goes through; if not, its (status, errorCode, message).

        Order: injected 5xx, then the session (401), then the request limit (403); admitted calls count
        against the limit.
        """
        with self._lock:
            faults = self._faults
            if faults.server_errors:
                faults.server_errors -= 1
                code = "SERVER_UNAVAILABLE" if faults.server_status == 503 else "UNKNOWN_EXCEPTION"
                return faults.server_status, code, "An unexpected error occurred. Please try again later."
            valid = self.auth.valid(token)
            if faults.invalid_session:
                faults.invalid_session -= 1
                valid = False
            if not valid:
                return 401, "INVALID_SESSION_ID", "Session expired or invalid"
            if faults.request_limit or self._api_used >= self.api_limit:
                faults.request_limit = max(faults.request_limit - 1, 0)
                return 403, "REQUEST_LIMIT_EXCEEDED", f"TotalRequests Limit exceeded. Limit: {self.api_limit}"
            self._api_used += 1
        return None
