"""Customer-side credentials: conversation tokens, and customer ids vouched for by the company's own site.

**Conversation tokens.** When the widget starts a conversation the service hands it a token, and every later
call about that conversation must carry it. The token is ``v1.<payload>.<signature>``: ``payload`` is the
base64url of a JSON object ``{"cid": conversation id, "sub": customer id or null, "aud": [audiences],
"iat": issued, "exp": expires}`` (Unix seconds) and ``signature`` the base64url HMAC-SHA256 of ``v1.<payload>``
under a key derived from the service's token secret. No JWT library is needed for this one fixed shape; a
token for conversation A is refused (``forbidden``) for conversation B, and any change to the payload breaks
the signature (``invalid_token``).

**Verified customer identity.** A visitor is anonymous (audiences ``["public"]``) unless the company's site,
on which the visitor is signed in, vouches for the customer id. The site shares a secret with grounddesk
(``GROUNDDESK_AUTH_IDENTITY_SECRET``) and, *on its server* (never in browser code, which would leak the
secret), computes::

    timestamp = int(time.time())
    signature = hmac.new(secret, f"{customer_id}:{timestamp}".encode(), hashlib.sha256).hexdigest()

and renders the three values into the widget's tag::

    <script src="https://support.example.com/widget.js" data-customer-id="C-1001"
            data-customer-ts="1790000000" data-customer-sig="5d41...e3"></script>

The widget passes them when it starts a conversation; :func:`verify_identity` checks them (constant-time
comparison, at most ``identity_max_age_s`` old, at most a little in the future for clock skew) and the
conversation token then carries the customer id and the audiences of verified customers. A replayed tag
stops working after ``identity_max_age_s``. :func:`sign_identity` is the reference implementation for host
sites (and the demo host page).

Example:
    >>> tokens = CustomerTokens(secret, ttl=timedelta(hours=24))
    >>> token = tokens.issue("conv-1", customer_id="C-1001", audiences=["public", "customers"])
    >>> tokens.verify(token, "conv-1").customer_id
    'C-1001'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grounddesk.api.auth import MIN_SECRET_BYTES, AuthSettings, Forbidden, InvalidToken
from grounddesk.db.types import utc_now
from grounddesk.errors import ConfigurationError

__all__ = [
    "CustomerClaims",
    "CustomerTokens",
    "VerifiedIdentity",
    "sign_identity",
    "verify_identity",
]

_VERSION = "v1"
_MAX_TOKEN_CHARS = 4096
_KEY_PURPOSE = b"grounddesk/customer-conversation-token/v1"
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CUSTOMER_ID = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_TIMESTAMP = re.compile(r"[0-9]{1,11}")


class CustomerClaims(BaseModel):
    """What a valid conversation token says."""

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    customer_id: str | None = Field(description="The verified customer id; None for an anonymous visitor")
    audiences: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime

    @property
    def verified(self) -> bool:
        """Whether the company's site vouched for the customer id."""
        return self.customer_id is not None


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cid: str
    sub: str | None
    aud: list[str]
    iat: int
    exp: int


class CustomerTokens:
    """Issues and checks conversation tokens (see the module docstring for the format).

    Args:
        secret: The service's token secret (at least 32 bytes); every replica must use the same one.
        ttl: How long a token lasts.
        clock: The current time (timezone-aware UTC); tests pass a fake one.
        verified_audiences: Default audiences of a token with a customer id.
        anonymous_audiences: Default audiences of a token without one.

    Raises:
        ConfigurationError: The secret is too short.
    """

    def __init__(
        self,
        secret: bytes,
        ttl: timedelta,
        clock: Callable[[], datetime] = utc_now,
        *,
        verified_audiences: Sequence[str] = ("public", "customers"),
        anonymous_audiences: Sequence[str] = ("public",),
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigurationError(f"The token secret must be at least {MIN_SECRET_BYTES} bytes")
        if ttl <= timedelta(0):
            raise ConfigurationError("The conversation token lifetime must be positive")
        # A key of its own, so a signature made for another purpose with the same secret never verifies here.
        self._key = hmac.new(secret, _KEY_PURPOSE, hashlib.sha256).digest()
        self._ttl = ttl
        self._clock = clock
        self._verified = tuple(verified_audiences)
        self._anonymous = tuple(anonymous_audiences)

    @classmethod
    def from_settings(
        cls, settings: AuthSettings, secret: bytes, clock: Callable[[], datetime] = utc_now
    ) -> CustomerTokens:
        """Tokens with the lifetime and audiences configured in ``settings``."""
        return cls(
            secret,
            timedelta(hours=settings.customer_token_ttl_hours),
            clock,
            verified_audiences=settings.verified_audiences,
            anonymous_audiences=settings.anonymous_audiences,
        )

    def issue(
        self, conversation_id: str, customer_id: str | None = None, audiences: Sequence[str] | None = None
    ) -> str:
        """A token for one conversation.

        Args:
            conversation_id: The conversation the token opens.
            customer_id: The verified customer id (only after :func:`verify_identity`), or None.
            audiences: Knowledge audiences the visitor may read; default: by whether ``customer_id`` is set.

        Returns:
            The token.
        """
        if audiences is None:
            audiences = self._verified if customer_id is not None else self._anonymous
        now = int(self._clock().timestamp())
        payload = _Payload(
            cid=conversation_id,
            sub=customer_id,
            aud=list(audiences),
            iat=now,
            exp=now + int(self._ttl.total_seconds()),
        )
        body = _b64encode(json.dumps(payload.model_dump(), separators=(",", ":"), sort_keys=True).encode())
        signing_input = f"{_VERSION}.{body}"
        return f"{signing_input}.{_b64encode(self._sign(signing_input))}"

    def decode(self, token: str) -> CustomerClaims:
        """Check a token's signature and expiry, whatever its conversation.

        Raises:
            InvalidToken: Malformed, forged or tampered with, or expired (``reason`` says which).
        """
        if not token or len(token) > _MAX_TOKEN_CHARS or not token.isascii():
            raise InvalidToken("Not a conversation token", reason="malformed")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _VERSION:
            raise InvalidToken("Not a conversation token", reason="malformed")
        try:
            signature = _b64decode(parts[2])
        except ValueError:
            raise InvalidToken("Not a conversation token", reason="malformed") from None
        if not hmac.compare_digest(signature, self._sign(f"{parts[0]}.{parts[1]}")):
            raise InvalidToken("The conversation token's signature is wrong", reason="bad_signature")
        try:
            payload = _Payload.model_validate_json(_b64decode(parts[1]))
        except (ValueError, ValidationError):
            raise InvalidToken("Not a conversation token", reason="malformed") from None
        if int(self._clock().timestamp()) >= payload.exp:
            raise InvalidToken("The conversation token has expired: start a new conversation", reason="expired")
        return CustomerClaims(
            conversation_id=payload.cid,
            customer_id=payload.sub,
            audiences=tuple(payload.aud),
            issued_at=datetime.fromtimestamp(payload.iat, UTC),
            expires_at=datetime.fromtimestamp(payload.exp, UTC),
        )

    def verify(self, token: str, conversation_id: str) -> CustomerClaims:
        """Check a token and that it was issued for ``conversation_id``.

        Raises:
            InvalidToken: See :meth:`decode`.
            Forbidden: A valid token, but for another conversation.
        """
        claims = self.decode(token)
        if not hmac.compare_digest(claims.conversation_id.encode(), conversation_id.encode()):
            raise Forbidden("This token is for another conversation", reason="wrong_conversation")
        return claims

    def _sign(self, signing_input: str) -> bytes:
        return hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError(str(exc)) from exc


# -- verified customer identity ------------------------------------------------------------------------------


class VerifiedIdentity(BaseModel):
    """A customer id the company's site vouched for."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    signed_at: datetime


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign_identity(customer_id: str, timestamp: int, secret: str | bytes) -> str:
    """The signature a host site puts on a customer id (runs on the host site's server).

    Args:
        customer_id: The signed-in customer's id in the CRM.
        timestamp: Now, in Unix seconds.
        secret: The identity secret shared with grounddesk.

    Returns:
        Lowercase hex HMAC-SHA256 of ``f"{customer_id}:{timestamp}"``.
    """
    return hmac.new(_secret_bytes(secret), f"{customer_id}:{timestamp}".encode(), hashlib.sha256).hexdigest()


def verify_identity(
    customer_id: str,
    timestamp: int | str,
    signature: str,
    secret: str | bytes,
    now: datetime,
    max_age_s: float,
    *,
    max_skew_s: float = 30.0,
) -> VerifiedIdentity:
    """Check a customer id signed by the host site (see the module docstring).

    Args:
        customer_id: The ``data-customer-id`` value.
        timestamp: The ``data-customer-ts`` value (Unix seconds, as given).
        signature: The ``data-customer-sig`` value (hex).
        secret: The identity secret shared with the host site.
        now: The current time.
        max_age_s: How old the signature may be.
        max_skew_s: How far in the future the timestamp may be (clocks differ a little).

    Returns:
        The verified identity.

    Raises:
        InvalidToken: ``reason`` is ``malformed``, ``bad_signature``, ``too_old`` or ``in_future``.
    """
    ts_text = str(timestamp)
    if not _CUSTOMER_ID.fullmatch(customer_id) or not _TIMESTAMP.fullmatch(ts_text):
        raise InvalidToken("The signed customer identity is malformed", reason="malformed")
    if not _HEX_SHA256.fullmatch(signature):
        raise InvalidToken("The customer identity signature is malformed", reason="malformed")
    expected = sign_identity(customer_id, int(ts_text), secret)
    if not hmac.compare_digest(expected, signature.lower()):
        raise InvalidToken("The customer identity signature is wrong", reason="bad_signature")
    signed_at = datetime.fromtimestamp(int(ts_text), UTC)
    age = (now - signed_at).total_seconds()
    if age > max_age_s:
        raise InvalidToken(
            f"The signed customer identity is older than {max_age_s:g} s: reload the page",
            reason="too_old",
            age_s=int(age),
        )
    if -age > max_skew_s:
        raise InvalidToken(
            "The signed customer identity is dated in the future: check the host site's clock",
            reason="in_future",
        )
    return VerifiedIdentity(customer_id=customer_id, signed_at=signed_at)
