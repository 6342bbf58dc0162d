"""The Salesforce session behind :class:`~grounddesk.connectors.salesforce.SalesforceCRM`.

It logs in, shares one re-login when the session expires, backs off (bounded) on the request limit, and turns
Salesforce's errors into connector errors.

simple-salesforce can log in again by itself when a call gets ``INVALID_SESSION_ID``, but every thread that sees
the 401 does its own login. Here simple-salesforce only ever holds a session (its "direct" mode): this module logs
in through ``simple_salesforce.login.SalesforceLogin`` and keeps a *generation* of the session under a lock.
A caller whose call fails with 401 asks to renew the generation it used; the first one logs in, the others wait
on the lock, find a newer generation and retry with it — so any number of concurrent callers cause exactly one
re-login. A second 401 right after a fresh login is a :class:`ConnectorAuthError` (the credentials or the
user's permissions are the problem, and looping would lock the user out).

Errors (see :meth:`SalesforceClient.call`): 401 -> one re-login, then ``ConnectorAuthError``; 403
``REQUEST_LIMIT_EXCEEDED`` -> ``RateLimited`` (reads back off and retry, a bounded number of times; never a
re-login); other 403 -> ``ConnectorAuthError``; 404 -> ``RecordNotFound``; 400 -> ``ConnectorValidationError``
(with Salesforce's ``error_code``); 5xx, connection errors and unreadable answers -> ``ConnectorUnavailable``;
timeouts -> ``ConnectorTimeout``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import requests
from pydantic import SecretStr
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import SalesforceLogin

from grounddesk.connectors.types import (
    ApiUsage,
    ConnectorAuthError,
    ConnectorError,
    ConnectorTimeout,
    ConnectorUnavailable,
    ConnectorValidationError,
    RateLimited,
    RecordNotFound,
)
from grounddesk.errors import ConfigurationError, ErrorCode

if TYPE_CHECKING:
    from grounddesk.connectors.salesforce import SalesforceSettings

__all__ = ["CONNECTOR", "SalesforceClient"]

logger = logging.getLogger(__name__)

CONNECTOR = "salesforce"
T = TypeVar("T")
Call = Callable[[Salesforce, dict[str, Any]], T]
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_FAULT_CODE = re.compile(r"[A-Z][A-Z_]+")


@dataclass(frozen=True)
class _Generation:
    number: int
    sf: Salesforce


class _SessionExpired(Exception):
    """A call was answered 401 (``INVALID_SESSION_ID``)."""


class _TimedPoster:
    """The part of a ``requests.Session`` that ``SalesforceLogin`` uses (``post``), with our timeout added."""

    def __init__(self, session: requests.Session, timeout_s: float) -> None:
        self._session = session
        self._timeout_s = timeout_s
        self.last_status: int | None = None

    def post(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout_s)
        response = self._session.post(url, data, **kwargs)
        self.last_status = response.status_code
        return response


def _reveal(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _sf_error(error: SalesforceError) -> tuple[str, str, list[str]]:
    """Salesforce's ``errorCode``, message and fields from an error body ``[{"errorCode", "message"}]``."""
    content = error.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode", "")), str(first.get("message", "")), list(first.get("fields") or [])
    return "", str(content)[:300], []


def _next_page(url: str) -> Call[dict[str, Any]]:
    def fetch(sf: Salesforce, request_kwargs: dict[str, Any]) -> dict[str, Any]:
        return cast(dict[str, Any], sf.query_more(url, identifier_is_url=True, **request_kwargs))

    return fetch


class SalesforceClient:
    """A logged-in Salesforce API client shared by threads.

    Args:
        settings: Connection and credential settings.
        session: The ``requests.Session`` to send through (tests route it to an emulator); one is made if None.
        sleep: Sleeps between request-limit retries (injectable for tests).
    """

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._owns_session = session is None
        self._http = session if session is not None else requests.Session()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._current: _Generation | None = None
        self._usage_lock = threading.Lock()
        self._api_usage: ApiUsage | None = None
        self.logins = 0

    # --- session -------------------------------------------------------------------------------------------

    def _login(self) -> Salesforce:
        """Open a session with the configured credentials (called with the lock held)."""
        s = self.settings
        secret = _reveal
        if s.auth == "session":
            return Salesforce(
                session_id=secret(s.session_id), instance_url=s.instance_url, session=self._http, version=s.api_version
            )
        poster = _TimedPoster(self._http, s.timeout_s)
        kwargs: dict[str, Any] = {
            "session": cast(requests.Session, poster),
            "domain": s.domain,
            "sf_version": s.api_version,
        }
        if s.auth == "password" and s.consumer_key:
            kwargs |= {
                "username": s.username,
                "password": secret(s.password) + secret(s.security_token),
                "consumer_key": s.consumer_key,
                "consumer_secret": secret(s.consumer_secret),
            }
        elif s.auth == "password":
            token = secret(s.security_token)
            kwargs |= {"username": s.username, "password": secret(s.password), "security_token": token}
            kwargs["client_id"] = "grounddesk"
        elif s.auth == "jwt":
            kwargs |= {"username": s.username, "consumer_key": s.consumer_key}
            if s.privatekey_file is not None:
                kwargs["privatekey_file"] = str(s.privatekey_file)
            else:
                kwargs["privatekey"] = secret(s.private_key)
        else:
            kwargs |= {"consumer_key": s.consumer_key, "consumer_secret": secret(s.consumer_secret)}
        try:
            session_id, instance = SalesforceLogin(**kwargs)
        except SalesforceAuthenticationFailed as exc:
            # SOAP login faults (INVALID_LOGIN, ...) come with HTTP 500 too; only a 5xx without one is an outage.
            is_fault = isinstance(exc.code, str) and _FAULT_CODE.fullmatch(exc.code) is not None
            if (poster.last_status or 0) >= 500 and not is_fault:
                raise ConnectorUnavailable(
                    f"The Salesforce login service answered HTTP {poster.last_status}", connector=CONNECTOR
                ) from None
            raise ConnectorAuthError(
                f"Salesforce refused the {s.auth} login ({exc.code}): {exc.auth_message}",
                connector=CONNECTOR,
                sf_error_code=str(exc.code),
            ) from None
        except NotImplementedError as exc:  # pyjwt without cryptography cannot sign RS256
            raise ConfigurationError(
                'JWT login needs the cryptography package: pip install "grounddesk[salesforce]"',
                code=ErrorCode.MISSING_EXTRA,
                extra="salesforce",
            ) from exc
        except OSError as exc:
            if isinstance(exc, requests.RequestException):
                raise self._transport_error(exc, "login") from None
            raise ConfigurationError(f"Cannot read the JWT private key: {exc}", path=str(s.privatekey_file)) from exc
        self.logins += 1
        return Salesforce(session_id=session_id, instance=instance, session=self._http, version=s.api_version)

    def _session(self) -> _Generation:
        with self._lock:
            if self._current is None:
                self._current = _Generation(1, self._login())
            return self._current

    def _renew(self, stale: _Generation) -> _Generation:
        with self._lock:
            if self._current is not None and self._current.number != stale.number:
                return self._current  # another caller already logged in again
            if self.settings.auth == "session":
                raise ConnectorAuthError(
                    "The Salesforce session expired and auth='session' cannot log in again", connector=CONNECTOR
                )
            logger.info("salesforce session expired, logging in again", extra={"generation": stale.number + 1})
            self._current = _Generation(stale.number + 1, self._login())
            return self._current

    # --- calls ---------------------------------------------------------------------------------------------

    def call(self, operation: str, fn: Call[T], *, read: bool, not_found: tuple[str, str] | None = None) -> T:
        """Run ``fn(sf, request_kwargs)`` with a live session; translate failures; back off on the request limit.

        Args:
            operation: Names the call in errors and logs.
            fn: Makes the simple-salesforce call; it must pass ``request_kwargs`` (timeout, response hook) on.
            read: Reads are retried on ``REQUEST_LIMIT_EXCEEDED``; writes are not.
            not_found: ``(kind, key)`` of the :class:`RecordNotFound` a 404 means.

        Returns:
            What ``fn`` returns.

        Raises:
            ConnectorError: A subclass, as in the module docstring.
        """
        s = self.settings
        retry = 0
        while True:
            try:
                return self._authenticated(operation, fn, not_found)
            except RateLimited:
                if not read or retry >= s.max_rate_limit_retries:
                    raise
                delay = min(s.backoff_max_s, s.backoff_base_s * 2**retry)
                logger.warning(
                    "salesforce request limit reached, backing off",
                    extra={"operation": operation, "retry": retry + 1, "delay_s": delay},
                )
                self._sleep(delay)
                retry += 1

    def _authenticated(self, operation: str, fn: Call[T], not_found: tuple[str, str] | None) -> T:
        generation = self._session()
        try:
            return self._translated(operation, fn, generation.sf, not_found)
        except _SessionExpired:
            renewed = self._renew(generation)
        try:
            return self._translated(operation, fn, renewed.sf, not_found)
        except _SessionExpired:
            raise ConnectorAuthError(
                "Salesforce refused a fresh session (INVALID_SESSION_ID after logging in again)",
                connector=CONNECTOR,
                operation=operation,
            ) from None

    def _translated(self, operation: str, fn: Call[T], sf: Salesforce, not_found: tuple[str, str] | None) -> T:
        request_kwargs = {"timeout": self.settings.timeout_s, "hooks": {"response": [self._observe]}}
        try:
            return fn(sf, request_kwargs)
        except SalesforceExpiredSession:
            raise _SessionExpired from None
        except SalesforceRefusedRequest as exc:
            code, message, _ = _sf_error(exc)
            if code == "REQUEST_LIMIT_EXCEEDED":
                raise RateLimited(
                    f"Salesforce API request limit reached: {message}", connector=CONNECTOR, operation=operation
                ) from None
            raise ConnectorAuthError(
                f"Salesforce refused {operation} ({code}): {message}", connector=CONNECTOR, sf_error_code=code
            ) from None
        except SalesforceResourceNotFound:
            if not_found is None:
                raise ConnectorError(f"Salesforce has no resource for {operation}", connector=CONNECTOR) from None
            kind, key = not_found
            raise RecordNotFound(f"No {kind} {key!r} in Salesforce", connector=CONNECTOR, kind=kind, key=key) from None
        except SalesforceMalformedRequest as exc:
            code, message, fields = _sf_error(exc)
            raise ConnectorValidationError(
                f"Salesforce rejected {operation} ({code}): {message}",
                connector=CONNECTOR,
                sf_error_code=code,
                sf_fields=fields,
            ) from None
        except SalesforceError as exc:
            code, message, _ = _sf_error(exc)
            if exc.status >= 500:
                raise ConnectorUnavailable(
                    f"Salesforce failed {operation} (HTTP {exc.status} {code})", connector=CONNECTOR, status=exc.status
                ) from None
            raise ConnectorError(
                f"Salesforce answered {operation} with HTTP {exc.status} ({code}): {message}", connector=CONNECTOR
            ) from None
        except requests.RequestException as exc:
            raise self._transport_error(exc, operation) from None
        except ValueError as exc:  # a body that is not the JSON Salesforce sends
            raise ConnectorUnavailable(
                f"Salesforce sent an unreadable answer to {operation}", connector=CONNECTOR
            ) from exc

    def _transport_error(self, exc: requests.RequestException, operation: str) -> ConnectorUnavailable:
        if isinstance(exc, requests.Timeout):
            return ConnectorTimeout(
                f"Salesforce did not answer {operation} within {self.settings.timeout_s:g}s",
                connector=CONNECTOR,
                operation=operation,
            )
        return ConnectorUnavailable(
            f"Cannot reach Salesforce for {operation}: {type(exc).__name__}", connector=CONNECTOR, operation=operation
        )

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Response hook: keep the API usage Salesforce reports in ``Sforce-Limit-Info``."""
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match is not None:
            with self._usage_lock:
                self._api_usage = ApiUsage(used=int(match.group(1)), limit=int(match.group(2)))

    @property
    def api_usage(self) -> ApiUsage | None:
        """API calls used and allowed, from the latest response that said (None before any)."""
        with self._usage_lock:
            return self._api_usage

    # --- the calls SalesforceCRM makes ---------------------------------------------------------------------

    def query_all(self, soql: str, *, operation: str) -> list[dict[str, Any]]:
        """Every row of a query, following ``nextRecordsUrl`` page by page (each page a retriable read)."""
        page: dict[str, Any] = self.call(operation, lambda sf, kw: sf.query(soql, **kw), read=True)
        rows: list[dict[str, Any]] = list(page["records"])
        while not page.get("done", True):
            page = self.call(operation, _next_page(page["nextRecordsUrl"]), read=True)
            rows.extend(page["records"])
        return rows

    def get(self, path: str, *, operation: str, not_found: tuple[str, str]) -> dict[str, Any]:
        """``GET`` a resource under ``/services/data/vXX.X/``."""
        result = self.call(operation, lambda sf, kw: sf.restful(path, **kw), read=True, not_found=not_found)
        return cast(dict[str, Any], result)

    def create(self, sobject: str, data: dict[str, Any], *, operation: str) -> str:
        """Create a record and return its id (never retried)."""
        result = self.call(
            operation, lambda sf, kw: sf.restful(f"sobjects/{sobject}/", method="POST", json=data, **kw), read=False
        )
        return str(cast(dict[str, Any], result)["id"])

    def update(self, sobject: str, record_id: str, data: dict[str, Any], *, operation: str, key: str) -> None:
        """Update fields of a record (never retried)."""
        self.call(
            operation,
            lambda sf, kw: sf.restful(f"sobjects/{sobject}/{record_id}", method="PATCH", json=data, **kw),
            read=False,
            not_found=(sobject.lower(), key),
        )

    def limits(self) -> dict[str, Any]:
        """The org's limits (``GET .../limits/``): a cheap reachability check, never retried."""
        return cast(dict[str, Any], self.call("limits", lambda sf, kw: sf.limits(**kw), read=False))

    def close(self) -> None:
        """Close the HTTP session if this client made it."""
        if self._owns_session:
            self._http.close()
