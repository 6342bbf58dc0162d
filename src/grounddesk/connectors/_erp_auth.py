"""Credentials of the REST ERP connector: static headers, or an OAuth 2 client-credentials token kept fresh.

The OAuth token is cached until ``refresh_leeway_s`` before it expires. When the ERP still answers 401, the
connector calls :meth:`OAuthClientCredentials.refresh` once with the headers it used: if another thread already
replaced that token, the new one is used as it is, so a burst of 401s costs one token request, not one each.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from grounddesk.connectors._erp_transport import ErrorReader, send
from grounddesk.connectors.erp_mapping import OAuth2ClientCredentials
from grounddesk.connectors.types import ConnectorError

__all__ = ["Authenticator", "OAuthClientCredentials", "StaticAuth"]

logger = logging.getLogger(__name__)
_TOKEN_AUTH_STATUSES = frozenset({400, 401, 403})


class Authenticator(Protocol):
    """Puts credentials on requests."""

    def headers(self) -> dict[str, str]:
        """Headers to add to the next request."""
        ...

    def refresh(self, used: Mapping[str, str]) -> dict[str, str] | None:
        """After a 401 on a request sent with ``used``: new headers to retry with, ``None`` if nothing can renew."""
        ...


class StaticAuth:
    """Fixed headers (none, bearer token, API key, basic)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    def headers(self) -> dict[str, str]:
        """The fixed headers."""
        return dict(self._headers)

    def refresh(self, used: Mapping[str, str]) -> dict[str, str] | None:
        """Static credentials cannot be renewed."""
        return None


class OAuthClientCredentials:
    """OAuth 2 client-credentials grant with a cached token.

    Args:
        spec: The ``auth`` section of the mapping.
        token_url: The absolute token endpoint.
        client_id: The client id.
        client_secret: The client secret.
        client: The HTTP client to use.
        errors: Reads error answers of the token endpoint.
        timeout_s: Timeout of a token request (for messages; the client enforces it).
        connector: Name put on errors.
        clock: Monotonic seconds; tests pass a fake one.
    """

    def __init__(
        self,
        spec: OAuth2ClientCredentials,
        *,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        client: httpx.Client,
        errors: ErrorReader,
        timeout_s: float,
        connector: str = "erp",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._spec = spec
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._client = client
        self._errors = errors
        self._timeout_s = timeout_s
        self._connector = connector
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.token_requests = 0

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>``, fetching a token first if there is none or it is about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._spec.refresh_leeway_s:
                self._fetch()
            return {"Authorization": f"Bearer {self._token}"}

    def refresh(self, used: Mapping[str, str]) -> dict[str, str] | None:
        """Replace the token the failed request used (unless another thread already did) and return it."""
        with self._lock:
            if self._token is None or used.get("Authorization") == f"Bearer {self._token}":
                self._fetch()
            return {"Authorization": f"Bearer {self._token}"}

    def _fetch(self) -> None:
        data = {"grant_type": "client_credentials", **self._spec.extra_params}
        if self._spec.scope:
            data["scope"] = self._spec.scope
        headers = {"Accept": "application/json"}
        if self._spec.client_auth == "basic":
            pair = f"{self._client_id}:{self._secret.get_secret_value()}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        else:
            data |= {"client_id": self._client_id, "client_secret": self._secret.get_secret_value()}
        request = self._client.build_request("POST", self._token_url, data=data, headers=headers)
        self.token_requests += 1
        self._token = None
        response = send(self._client, request, connector=self._connector, operation="token", timeout_s=self._timeout_s)
        if response.status_code >= 400:
            raise self._errors.error(response, operation="token", auth_statuses=_TOKEN_AUTH_STATUSES)
        token, expires_in = self._parse(response)
        self._token = token
        self._expires_at = self._clock() + expires_in
        logger.debug("erp token fetched", extra={"connector": self._connector, "expires_in_s": expires_in})

    def _parse(self, response: httpx.Response) -> tuple[str, float]:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectorError(
                "the ERP token endpoint answered without an access_token",
                connector=self._connector,
                operation="token",
                path="access_token",
            )
        expires_in: Any = body.get("expires_in") if isinstance(body, dict) else None
        try:
            seconds = float(expires_in) if expires_in is not None else self._spec.default_expires_in_s
        except (TypeError, ValueError):
            seconds = self._spec.default_expires_in_s
        return token, seconds
