"""HTTP plumbing of the REST ERP connector: send a request, turn failures into connector errors.

==========================  ==========================================================
what happened               raised
==========================  ==========================================================
timeout (any phase)         :class:`ConnectorTimeout`
cannot connect, broken      :class:`ConnectorUnavailable`
401, 403                    :class:`ConnectorAuthError`
404                         :class:`RecordNotFound` (kind and key of the call)
400, 409, 422               :class:`ConnectorValidationError` with the ERP's message
429                         :class:`RateLimited` with ``retry_after_s`` from Retry-After
5xx                         :class:`ConnectorUnavailable` with ``retry_after_s`` if sent
any other status >= 400     :class:`ConnectorError`
==========================  ==========================================================
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from grounddesk.connectors._erp_records import MISSING, read_path
from grounddesk.connectors.erp_mapping import ErrorSpec
from grounddesk.connectors.types import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorTimeout,
    ConnectorUnavailable,
    ConnectorValidationError,
    RateLimited,
    RecordNotFound,
)

__all__ = ["ErrorReader", "parse_retry_after", "send"]

_VALIDATION = frozenset({400, 409, 422})
_AUTH = frozenset({401, 403})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent or bad."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def send(
    client: httpx.Client, request: httpx.Request, *, connector: str, operation: str, timeout_s: float
) -> httpx.Response:
    """Send ``request``, turning transport failures into connector errors (the status is not looked at).

    Raises:
        ConnectorTimeout: No answer within the timeout.
        ConnectorUnavailable: The ERP could not be reached or broke the connection.
    """
    try:
        return client.send(request)
    except httpx.TimeoutException as exc:
        raise ConnectorTimeout(
            f"ERP {operation} timed out after {timeout_s:g}s ({type(exc).__name__})",
            connector=connector,
            operation=operation,
            timeout_s=timeout_s,
        ) from exc
    except httpx.TransportError as exc:
        raise ConnectorUnavailable(
            f"ERP {operation} failed: cannot reach {request.url.host}:{request.url.port} ({type(exc).__name__})",
            connector=connector,
            operation=operation,
        ) from exc


class ErrorReader:
    """Turns an HTTP error answer into the matching connector error.

    Args:
        spec: Where the ERP keeps messages and codes in error bodies.
        connector: The connector name put on errors.
    """

    def __init__(self, spec: ErrorSpec, *, connector: str) -> None:
        self._spec = spec
        self._connector = connector

    def error(
        self,
        response: httpx.Response,
        *,
        operation: str,
        not_found: tuple[str, str] | None = None,
        auth_statuses: frozenset[int] = _AUTH,
    ) -> ConnectorError:
        """The error for an answer with status >= 400.

        Args:
            response: The answer (its body is read).
            operation: Name of the call, for messages.
            not_found: ``(kind, key)`` reported by a 404.
            auth_statuses: Statuses that mean bad credentials (the token endpoint adds 400).
        """
        status = response.status_code
        message, erp_code = self._message(response)
        fields: dict[str, Any] = {"operation": operation, "status": status}
        if erp_code:
            fields["erp_code"] = erp_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        detail = f"ERP {operation} failed with HTTP {status}: {message}"
        if status in auth_statuses:
            return ConnectorAuthError(
                f"ERP refused our credentials ({operation}, HTTP {status}): {message}",
                connector=self._connector,
                **fields,
            )
        if status == 404 and not_found is not None:
            kind, key = not_found
            return RecordNotFound(
                f"no {kind} {key!r} in the ERP: {message}", connector=self._connector, kind=kind, key=key, **fields
            )
        if status in _VALIDATION:
            return ConnectorValidationError(
                f"ERP rejected {operation}: {message}", connector=self._connector, erp_message=message, **fields
            )
        if status == 429:
            return RateLimited(detail, connector=self._connector, retry_after_s=retry_after, **fields)
        if status >= 500:
            return ConnectorUnavailable(detail, connector=self._connector, retry_after_s=retry_after, **fields)
        return ConnectorError(detail, connector=self._connector, **fields)

    def _message(self, response: httpx.Response) -> tuple[str, str | None]:
        text = response.text
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = None
        if isinstance(body, Mapping | list):
            message = _first(body, self._spec.message)
            code = _first(body, self._spec.code)
            if message is not None:
                return message, code
            return (text[:300] or response.reason_phrase), code
        return (text.strip()[:300] or response.reason_phrase), None


def _first(body: Any, paths: list[str]) -> str | None:
    for path in paths:
        value = read_path(body, path)
        if value is not MISSING and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    return None
