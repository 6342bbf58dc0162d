"""Authentication and authorisation shared by the service: roles, errors, settings, the token secret.

Two kinds of people call the service:

- **staff** (support agents, knowledge managers, admins) sign in with a username and password and get a
  session token, or use an API key; :class:`grounddesk.api.auth_staff.StaffDirectory` manages both.
- **customers** chatting in the widget get a conversation token signed by the service, optionally bound to a
  customer id that the company's own site vouched for; see :mod:`grounddesk.api.auth_tokens`.

Every failure is an :class:`AuthError` with a stable code: ``auth_required`` (401: no credentials),
``invalid_credentials`` (401: wrong username or password), ``invalid_token`` (401: unknown, expired, revoked
or forged token), ``forbidden`` (403: authenticated but not allowed), ``user_exists`` (409), ``weak_password``
(422), ``record_not_found`` (404), ``invalid_input`` (422).

Roles nest: an ``admin`` may do everything an ``agent`` or a ``knowledge_manager`` may do.

Example:
    >>> require_role(user, Role.KNOWLEDGE_MANAGER)  # raises Forbidden for an agent, passes for an admin
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from grounddesk.errors import ConfigurationError, ErrorCode, GrounddeskError

__all__ = [
    "ApiKeyInfo",
    "AuthError",
    "AuthRecordNotFound",
    "AuthRequired",
    "AuthSettings",
    "Forbidden",
    "InvalidCredentials",
    "InvalidToken",
    "Role",
    "StaffSession",
    "StaffUser",
    "UserExists",
    "WeakPassword",
    "load_or_create_secret",
    "require_role",
    "resolve_token_secret",
]

logger = logging.getLogger(__name__)

#: Shortest secret accepted for signing tokens (bytes).
MIN_SECRET_BYTES = 32


# -- errors --------------------------------------------------------------------------------------------------


class AuthError(GrounddeskError):
    """Root of authentication and authorisation failures."""

    code = ErrorCode.AUTH_REQUIRED


class AuthRequired(AuthError):
    """The request carries no credentials at all (HTTP 401)."""

    code = ErrorCode.AUTH_REQUIRED


class InvalidCredentials(AuthError):
    """Wrong username or password; deliberately does not say which (HTTP 401)."""

    code = ErrorCode.INVALID_CREDENTIALS


class InvalidToken(AuthError):
    """A session token, API key, conversation token or identity signature that is not (or no longer) valid.

    ``fields["reason"]`` says why (``unknown``, ``expired``, ``revoked``, ``malformed``, ``bad_signature``,
    ``too_old``, ``in_future``, ``user_disabled``); it is safe to return to the caller.
    """

    code = ErrorCode.INVALID_TOKEN


class Forbidden(AuthError):
    """Authenticated, but not allowed to do this (HTTP 403)."""

    code = ErrorCode.FORBIDDEN


class UserExists(AuthError):
    """A staff user with this username (compared case-insensitively) already exists (HTTP 409)."""

    code = ErrorCode.USER_EXISTS


class WeakPassword(AuthError):
    """The password does not meet the policy (too short, too long, or the username itself) (HTTP 422)."""

    code = ErrorCode.WEAK_PASSWORD


class AuthRecordNotFound(AuthError):
    """No staff user or API key with this id (HTTP 404). ``fields``: ``kind`` and ``key``."""

    code = ErrorCode.RECORD_NOT_FOUND


# -- roles -------------------------------------------------------------------------------------------------


class Role(StrEnum):
    """What a staff user may do. ``admin`` implies every other role."""

    AGENT = "agent"
    KNOWLEDGE_MANAGER = "knowledge_manager"
    ADMIN = "admin"

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        """The role named ``value``.

        Raises:
            AuthError: (code ``invalid_input``) not a role name.
        """
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise AuthError(
                f"Unknown role {value!r}: use one of {allowed}", code=ErrorCode.INVALID_INPUT, role=str(value)
            ) from None


def require_role(user: StaffUser, *roles: Role) -> StaffUser:
    """Check that ``user`` holds one of ``roles`` (an admin holds them all).

    Args:
        user: The authenticated staff user.
        *roles: Acceptable roles; none given means any authenticated user.

    Returns:
        ``user``, so that the call can be used inline.

    Raises:
        Forbidden: The user holds none of the roles, or is disabled.
    """
    if user.disabled_at is not None:
        raise Forbidden("This account is disabled", user_id=user.id)
    if not roles or user.role is Role.ADMIN or user.role in roles:
        return user
    raise Forbidden(
        f"This needs the role {' or '.join(r.value for r in roles)}; you are {user.role.value}",
        required=[r.value for r in roles],
        role=user.role.value,
    )


# -- records -------------------------------------------------------------------------------------------------


class StaffUser(BaseModel):
    """A staff user, as the service sees it (never carries the password hash)."""

    model_config = ConfigDict(frozen=True)

    id: int
    username: str
    role: Role
    display_name: str | None
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        """Whether the account is disabled (it can no longer sign in or use its sessions and keys)."""
        return self.disabled_at is not None


class StaffSession(BaseModel):
    """A signed-in session. The bearer token itself is returned once by ``login`` and never stored."""

    model_config = ConfigDict(frozen=True)

    user: StaffUser
    created_at: datetime
    expires_at: datetime


class ApiKeyInfo(BaseModel):
    """An API key as listed to its owner: the key itself is shown once, at creation."""

    model_config = ConfigDict(frozen=True)

    id: int
    user_id: int
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


# -- settings ------------------------------------------------------------------------------------------------


class AuthSettings(BaseModel):
    """Authentication settings (nested as ``Settings.auth``; env ``GROUNDDESK_AUTH_...``)."""

    session_ttl_hours: float = Field(default=12.0, gt=0, description="How long a staff session lasts")
    session_touch_interval_s: float = Field(
        default=60.0, ge=0, description="last_seen_at / last_used_at are written at most this often"
    )
    token_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs customer conversation tokens (at least 32 characters). "
        "Unset: generated once and kept in <home>/secret.key (mode 0600). All replicas must share it.",
    )
    customer_token_ttl_hours: float = Field(default=24.0, gt=0, description="How long a conversation token lasts")
    identity_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret the company's site signs customer ids with. Unset: every widget "
        "visitor is anonymous.",
    )
    identity_max_age_s: int = Field(default=600, gt=0, description="How old a signed customer id may be")
    verified_audiences: list[str] = Field(
        default_factory=lambda: ["public", "customers"], description="Audiences a verified customer may read"
    )
    anonymous_audiences: list[str] = Field(
        default_factory=lambda: ["public"], description="Audiences an anonymous visitor may read"
    )
    password_time_cost: int = Field(default=3, ge=1, description="Argon2id passes (RFC 9106 low-memory profile)")
    password_memory_kib: int = Field(default=65536, ge=8, description="Argon2id memory in KiB (64 MiB)")
    password_parallelism: int = Field(default=4, ge=1, description="Argon2id lanes")

    def audiences_for(self, customer_id: str | None) -> list[str]:
        """The knowledge audiences of a widget visitor: verified customers see more than anonymous ones."""
        return list(self.verified_audiences if customer_id is not None else self.anonymous_audiences)


def load_or_create_secret(path: Path) -> bytes:
    """Read the signing secret kept in ``path``, creating it (32 random bytes, hex, mode 0600) if missing.

    Creation is atomic: the secret is written to a private temporary file that is then hard-linked into place,
    so concurrent first starts all end up with the same secret and nobody reads a half-written file.

    Args:
        path: The secret file, e.g. ``<home>/secret.key``.

    Returns:
        The secret (the file's text, stripped, as bytes).

    Raises:
        ConfigurationError: The file exists but holds fewer than 32 characters.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
                logger.info("created token secret", extra={"path": str(path)})
            except FileExistsError:
                pass  # another process won the race: use its secret
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("token secret is readable by other users", extra={"path": str(path), "mode": oct(mode)})
    secret = path.read_text(encoding="utf-8").strip().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"The token secret in {path} is shorter than {MIN_SECRET_BYTES} characters; delete the file to "
            "generate a new one",
            path=str(path),
        )
    return secret


def resolve_token_secret(settings: AuthSettings, home: Path) -> bytes:
    """The key that signs conversation tokens: the configured one, else the one kept in ``<home>/secret.key``.

    Args:
        settings: The auth settings.
        home: grounddesk's home directory.

    Returns:
        The secret.

    Raises:
        ConfigurationError: The configured secret is shorter than 32 characters.
    """
    if settings.token_secret is None:
        return load_or_create_secret(home / "secret.key")
    secret = settings.token_secret.get_secret_value().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"GROUNDDESK_AUTH_TOKEN_SECRET must be at least {MIN_SECRET_BYTES} characters "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return secret
