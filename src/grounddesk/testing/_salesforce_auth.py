"""Logins of the Salesforce emulator: users, connected apps, sessions, SOAP login and the OAuth token endpoint.

Flows, as simple-salesforce drives them:

* SOAP ``login`` (``POST /services/Soap/u/{version}``): username and password + security token. Bad credentials
  give a SOAP fault ``INVALID_LOGIN`` with HTTP 500, like Salesforce.
* OAuth ``password`` grant: ``client_id`` / ``client_secret`` of a connected app, username, password (+ token).
* OAuth ``client_credentials`` grant: the app's key and secret (HTTP Basic or form fields); the app must have a
  run-as user.
* OAuth JWT bearer grant (``urn:ietf:params:oauth:grant-type:jwt-bearer``): the assertion's RS256 signature is
  verified with the public key (or certificate) registered for the app named by ``iss``; ``sub`` must be a
  user, ``aud`` a ``https://*.salesforce.com`` login URL and ``exp`` in the future (Salesforce, and
  simple-salesforce, send ``exp`` as a string of seconds, so it is checked by hand).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

__all__ = ["AuthRegistry", "ConnectedApp", "OAuthError"]

_SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


class OAuthError(Exception):
    """An OAuth error answer: HTTP status and ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass(frozen=True)
class _User:
    username: str
    password: str
    security_token: str
    user_id: str


@dataclass(frozen=True)
class ConnectedApp:
    """A connected app: its consumer key and secret, the JWT signing key's public half and a run-as user."""

    consumer_key: str
    consumer_secret: str
    public_key: bytes | None = None
    run_as: str | None = None


class AuthRegistry:
    """Users, connected apps and live sessions of the emulated org (thread-safe).

    Args:
        org_id: The 18-character organization id (sessions start with it).
        instance_url: The ``https://`` URL of the org's instance, returned to clients.
        clock: The current time (timezone-aware), for JWT expiry.
    """

    def __init__(self, *, org_id: str, instance_url: str, clock: Callable[[], datetime]) -> None:
        self.org_id = org_id
        self.instance_url = instance_url
        self._clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}
        self._apps: dict[str, ConnectedApp] = {}
        self._sessions: dict[str, str] = {}
        self.logins: Counter[str] = Counter()

    def reset_logins(self) -> None:
        """Forget the login counts."""
        with self._lock:
            self.logins.clear()

    def add_user(self, username: str, password: str, security_token: str = "") -> None:
        """Register a user (``security_token`` empty means "trusted IP": the password alone logs in)."""
        with self._lock:
            user_id = f"005Gd{len(self._users) + 1:010d}AAA"
            self._users[username.lower()] = _User(username, password, security_token, user_id)

    def add_app(self, app: ConnectedApp) -> None:
        """Register a connected app."""
        with self._lock:
            self._apps[app.consumer_key] = app

    def issue(self, username: str, flow: str) -> str:
        """Open a session for ``username`` and return its token; counted in :attr:`logins` under ``flow``."""
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(40)}"
        with self._lock:
            self._sessions[token] = username
            self.logins[flow] += 1
        return token

    def valid(self, token: str | None) -> bool:
        """Whether ``token`` is a live session."""
        with self._lock:
            return token is not None and token in self._sessions

    def expire_all(self) -> None:
        """End every open session (the next call with one gets ``INVALID_SESSION_ID``)."""
        with self._lock:
            self._sessions.clear()

    def _user(self, username: str | None) -> _User | None:
        with self._lock:
            return self._users.get((username or "").lower())

    # --- SOAP ----------------------------------------------------------------------------------------------

    def soap_login(self, body: bytes, version: str) -> tuple[int, str]:
        """Answer a SOAP ``login`` request: HTTP status and the SOAP envelope."""
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return 500, _soap_fault("INVALID_REQUEST", "The login request is not well-formed XML.")
        values = {element.tag.rsplit("}", 1)[-1]: element.text or "" for element in root.iter()}
        user = self._user(values.get("username"))
        if user is None or values.get("password") != user.password + user.security_token:
            return 500, _soap_fault(
                "INVALID_LOGIN", "INVALID_LOGIN: Invalid username, password, security token; or user locked out."
            )
        token = self.issue(user.username, "soap")
        server_url = f"{self.instance_url}/services/Soap/u/{version}/{self.org_id[:15]}"
        envelope = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<soapenv:Envelope xmlns:soapenv="{_SOAP_NS}" xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
            f"<metadataServerUrl>{self.instance_url}/services/Soap/m/{version}/{self.org_id[:15]}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
            f"<serverUrl>{server_url}</serverUrl><sessionId>{escape(token)}</sessionId>"
            f"<userId>{user.user_id}</userId><userInfo><organizationId>{self.org_id}</organizationId>"
            f"<userName>{escape(user.username)}</userName></userInfo>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return 200, envelope

    # --- OAuth ---------------------------------------------------------------------------------------------

    def oauth_token(self, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        """Answer ``POST /services/oauth2/token``.

        Raises:
            OAuthError: The grant is unsupported or its credentials are wrong.
        """
        grant = form.get("grant_type", "")
        if grant == "password":
            app = self._app(form.get("client_id"), form.get("client_secret"))
            user = self._user(form.get("username"))
            if user is None or form.get("password") != user.password + user.security_token:
                raise OAuthError(400, "invalid_grant", "authentication failure")
            return self._token(user.username, "password", app)
        if grant == "client_credentials":
            key, secret = form.get("client_id"), form.get("client_secret")
            if authorization and authorization.lower().startswith("basic "):
                decoded = base64.b64decode(authorization[6:]).decode()
                key, _, secret = decoded.partition(":")
            app = self._app(key, secret)
            if app.run_as is None:
                raise OAuthError(400, "invalid_grant", "no client credentials user enabled")
            return self._token(app.run_as, "client_credentials", app)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_bearer(form.get("assertion", ""))
        raise OAuthError(400, "unsupported_grant_type", "grant type not supported")

    def _app(self, key: str | None, secret: str | None) -> ConnectedApp:
        with self._lock:
            app = self._apps.get(key or "")
        if app is None:
            raise OAuthError(400, "invalid_client_id", "client identifier invalid")
        if secret is not None and not hmac.compare_digest(secret, app.consumer_secret):
            raise OAuthError(400, "invalid_client", "invalid client credentials")
        return app

    def _jwt_bearer(self, assertion: str) -> dict[str, Any]:
        import jwt  # pyjwt comes with simple-salesforce; only this flow needs it

        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise OAuthError(400, "invalid_grant", "invalid assertion") from exc
        with self._lock:
            app = self._apps.get(str(unverified.get("iss", "")))
        if app is None:
            raise OAuthError(400, "invalid_client_id", "client identifier invalid")
        if app.public_key is None:
            raise OAuthError(400, "invalid_grant", "invalid assertion: no certificate for this app")
        try:
            claims = jwt.decode(
                assertion,
                _verification_key(app.public_key),
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise OAuthError(400, "invalid_grant", "invalid assertion") from exc
        audience = str(claims.get("aud", ""))
        if not (audience.startswith("https://") and audience.endswith(".salesforce.com")):
            raise OAuthError(400, "invalid_grant", "audience is invalid")
        try:
            expires = int(claims["exp"])
        except (KeyError, TypeError, ValueError) as exc:
            raise OAuthError(400, "invalid_grant", "invalid assertion: exp is missing") from exc
        if expires <= self._clock().timestamp():
            raise OAuthError(400, "invalid_grant", "expired authorization code")
        user = self._user(str(claims.get("sub", "")))
        if user is None:
            raise OAuthError(400, "invalid_grant", "user hasn't approved this consumer")
        return self._token(user.username, "jwt", app)

    def _token(self, username: str, flow: str, app: ConnectedApp) -> dict[str, Any]:
        token = self.issue(username, flow)
        user = self._user(username)
        identity = f"https://login.salesforce.com/id/{self.org_id}/{user.user_id if user else ''}"
        issued_at = str(int(self._clock().timestamp() * 1000))
        digest = hmac.new(app.consumer_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        return {
            "access_token": token,
            "instance_url": self.instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(digest).decode(),
        }


def _verification_key(pem: bytes) -> Any:
    """The public key in ``pem``: a ``PUBLIC KEY`` block or an X.509 certificate (what Salesforce stores)."""
    if b"BEGIN CERTIFICATE" in pem:
        from cryptography import x509

        return x509.load_pem_x509_certificate(pem).public_key()
    return pem


def _soap_fault(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_NS}" xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{escape(message)}</faultstring><detail>"
        f'<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault>"
        "</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
