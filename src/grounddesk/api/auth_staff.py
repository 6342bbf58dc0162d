"""The staff directory: users, password sign-in, session tokens and API keys, in the SQL store.

Secrets are never stored: passwords as Argon2id hashes (:mod:`grounddesk.api.auth_passwords`), session tokens
(``gds_...``) and API keys (``gdk_...``) as the SHA-256 of the token. Both token kinds carry 256 random bits,
so a plain SHA-256 is enough to make a copy of the tables useless to a thief. A wrong password and an unknown
username fail the same way (``invalid_credentials``) and take about as long, so sign-in cannot be used to
find out which usernames exist.

Usernames are compared case-insensitively: they are stored lowercased under a unique constraint, so two
concurrent ``create_user`` calls for ``Kim`` and ``kim`` end with one user and one :class:`UserExists`.

Example:
    >>> directory = StaffDirectory(engine, AuthSettings())
    >>> directory.create_user("kim", "correct horse battery", Role.AGENT, display_name="Kim Lee")
    >>> token, session = directory.login("Kim", "correct horse battery")
    >>> directory.resolve_session(token).username
    'kim'
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from grounddesk.api.auth import (
    ApiKeyInfo,
    AuthError,
    AuthRecordNotFound,
    AuthSettings,
    InvalidCredentials,
    InvalidToken,
    Role,
    StaffSession,
    StaffUser,
    UserExists,
)
from grounddesk.api.auth_passwords import PasswordHasher, check_password, normalise_username
from grounddesk.api.auth_tables import api_keys, staff_sessions, staff_users
from grounddesk.db.engine import assert_engine_configured, read_only
from grounddesk.db.migrate import upgrade
from grounddesk.db.types import utc_now
from grounddesk.errors import ErrorCode

__all__ = ["API_KEY_PREFIX", "SESSION_TOKEN_PREFIX", "StaffDirectory", "create_user_command"]

logger = logging.getLogger(__name__)

SESSION_TOKEN_PREFIX = "gds_"
API_KEY_PREFIX = "gdk_"
_SHOWN_PREFIX_CHARS = 8
_MAX_TOKEN_CHARS = 256
_USERS = staff_users.c
_SESSIONS = staff_sessions.c
_KEYS = api_keys.c


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffDirectory:
    """Staff users, sessions and API keys. Every method runs in its own transaction.

    Args:
        engine: An engine from :func:`grounddesk.db.create_engine_for` on a migrated database.
        settings: Session lifetime and password hashing cost.
        clock: The current time (timezone-aware UTC); tests pass a fake one.
        hasher: The password hasher; default: Argon2id with the cost in ``settings``.

    Raises:
        ConfigurationError: A SQLite engine not built by ``create_engine_for``, or argon2-cffi missing.
    """

    def __init__(
        self,
        engine: Engine,
        settings: AuthSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        *,
        hasher: PasswordHasher | None = None,
    ) -> None:
        assert_engine_configured(engine)
        self._engine = engine
        self._reader = read_only(engine)
        self._settings = settings or AuthSettings()
        self._clock = clock
        self._hasher = hasher or PasswordHasher.from_settings(self._settings)
        self._touch_interval = timedelta(seconds=self._settings.session_touch_interval_s)

    # -- users ---------------------------------------------------------------------------------------------

    def create_user(self, username: str, password: str, role: Role | str, display_name: str | None = None) -> StaffUser:
        """Add a staff user.

        Args:
            username: Unique, compared case-insensitively (stored lowercased).
            password: At least 10 characters; only its hash is stored.
            role: ``agent``, ``knowledge_manager`` or ``admin``.
            display_name: The name shown in the console.

        Returns:
            The new user.

        Raises:
            UserExists: The username is taken (in any letter case).
            WeakPassword: The password breaks the policy.
            AuthError: (``invalid_input``) malformed username or unknown role.
        """
        name = normalise_username(username)
        parsed_role = Role.parse(role)
        check_password(password, username=name)
        password_hash = self._hasher.hash(password)  # slow: outside the transaction
        now = self._clock()
        try:
            with self._engine.begin() as conn:
                user_id = conn.execute(
                    insert(staff_users)
                    .values(
                        username=name,
                        password_hash=password_hash,
                        role=parsed_role.value,
                        display_name=(display_name or "").strip() or None,
                        created_at=now,
                    )
                    .returning(_USERS.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise UserExists(f"A user named {name!r} already exists", username=name) from exc
        logger.info("staff user created", extra={"user_id": user_id, "role": parsed_role.value})
        return self.get_user(int(user_id))

    def get_user(self, user_id: int) -> StaffUser:
        """The user with this id.

        Raises:
            AuthRecordNotFound: No such user.
        """
        with self._reader.connect() as conn:
            row = conn.execute(select(staff_users).where(_USERS.id == user_id)).first()
        if row is None:
            raise AuthRecordNotFound(f"No staff user with id {user_id}", kind="staff_user", key=str(user_id))
        return _user(row)

    def list_users(self) -> list[StaffUser]:
        """Every staff user, by username."""
        with self._reader.connect() as conn:
            rows = conn.execute(select(staff_users).order_by(_USERS.username)).all()
        return [_user(r) for r in rows]

    def set_disabled(self, user_id: int, disabled: bool = True) -> StaffUser:
        """Disable (or re-enable) a user. Disabling also revokes the user's sessions; API keys stop working.

        Raises:
            AuthRecordNotFound: No such user.
        """
        now = self._clock()
        with self._engine.begin() as conn:
            found = conn.execute(
                update(staff_users).where(_USERS.id == user_id).values(disabled_at=now if disabled else None)
            ).rowcount
            if found and disabled:
                conn.execute(
                    update(staff_sessions)
                    .where(_SESSIONS.user_id == user_id, _SESSIONS.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
        if not found:
            raise AuthRecordNotFound(f"No staff user with id {user_id}", kind="staff_user", key=str(user_id))
        logger.info("staff user disabled" if disabled else "staff user enabled", extra={"user_id": user_id})
        return self.get_user(user_id)

    def set_password(self, user_id: int, password: str) -> None:
        """Replace a user's password and revoke all of the user's sessions.

        Raises:
            AuthRecordNotFound: No such user.
            WeakPassword: The password breaks the policy.
        """
        user = self.get_user(user_id)
        check_password(password, username=user.username)
        password_hash = self._hasher.hash(password)
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(update(staff_users).where(_USERS.id == user_id).values(password_hash=password_hash))
            conn.execute(
                update(staff_sessions)
                .where(_SESSIONS.user_id == user_id, _SESSIONS.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        logger.info("staff password changed", extra={"user_id": user_id})

    # -- sign-in and sessions ------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> StaffUser:
        """Check a username and password; upgrade the stored hash if the hashing cost changed.

        Raises:
            InvalidCredentials: Unknown or disabled user, or wrong password (one error for all three).
        """
        name = username.strip().lower()
        with self._reader.connect() as conn:
            row = conn.execute(select(staff_users).where(_USERS.username == name)).first() if name else None
        if row is None:
            self._hasher.waste_time(password)
            raise InvalidCredentials("Wrong username or password")
        if not self._hasher.verify(row.password_hash, password):
            logger.info("staff sign-in failed", extra={"user_id": row.id})
            raise InvalidCredentials("Wrong username or password")
        if row.disabled_at is not None:
            logger.info("sign-in to a disabled account refused", extra={"user_id": row.id})
            raise InvalidCredentials("Wrong username or password")
        if self._hasher.needs_rehash(row.password_hash):
            self._rehash(row.id, row.password_hash, password)
        return _user(row)

    def login(self, username: str, password: str) -> tuple[str, StaffSession]:
        """Sign in: check the password and open a session.

        Returns:
            The bearer token (shown once, never stored) and the session.

        Raises:
            InvalidCredentials: See :meth:`authenticate`.
        """
        user = self.authenticate(username, password)
        token = SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        expires_at = now + timedelta(hours=self._settings.session_ttl_hours)
        with self._engine.begin() as conn:
            conn.execute(
                insert(staff_sessions).values(
                    token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=expires_at, last_seen_at=now
                )
            )
        logger.info("staff signed in", extra={"user_id": user.id})
        return token, StaffSession(user=user, created_at=now, expires_at=expires_at)

    def resolve_session(self, token: str) -> StaffUser:
        """The user a session token belongs to.

        Raises:
            InvalidToken: Unknown, expired or revoked session, or a disabled user (``reason`` says which).
        """
        token_hash = self._token_hash(token, SESSION_TOKEN_PREFIX, "session token")
        with self._reader.connect() as conn:
            row = conn.execute(
                select(staff_users, _SESSIONS.revoked_at, _SESSIONS.expires_at, _SESSIONS.last_seen_at)
                .join(staff_sessions, _USERS.id == _SESSIONS.user_id)
                .where(_SESSIONS.token_hash == token_hash)
            ).first()
        now = self._clock()
        if row is None:
            raise InvalidToken("Unknown session: sign in again", reason="unknown")
        if row.revoked_at is not None:
            raise InvalidToken("This session was signed out: sign in again", reason="revoked")
        if row.expires_at <= now:
            raise InvalidToken("This session has expired: sign in again", reason="expired")
        if row.disabled_at is not None:
            raise InvalidToken("This account is disabled", reason="user_disabled")
        if now - row.last_seen_at >= self._touch_interval:
            with self._engine.begin() as conn:
                conn.execute(update(staff_sessions).where(_SESSIONS.token_hash == token_hash).values(last_seen_at=now))
        return _user(row)

    def logout(self, token: str) -> None:
        """End a session. Unknown or already ended sessions are ignored (signing out twice is fine)."""
        try:
            token_hash = self._token_hash(token, SESSION_TOKEN_PREFIX, "session token")
        except InvalidToken:
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(staff_sessions)
                .where(_SESSIONS.token_hash == token_hash, _SESSIONS.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )

    # -- API keys ------------------------------------------------------------------------------------------

    def create_api_key(self, user_id: int, name: str) -> tuple[str, ApiKeyInfo]:
        """Give a user a new API key, acting with the user's role.

        Returns:
            The key (``gdk_`` + 43 characters; shown once, never stored) and its listing entry.

        Raises:
            AuthRecordNotFound: No such user.
            AuthError: (``invalid_input``) empty name.
        """
        label = name.strip()
        if not label or len(label) > 200:
            raise AuthError("An API key needs a name of 1-200 characters", code=ErrorCode.INVALID_INPUT)
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        with self._engine.begin() as conn:
            if conn.execute(select(_USERS.id).where(_USERS.id == user_id)).first() is None:
                raise AuthRecordNotFound(f"No staff user with id {user_id}", kind="staff_user", key=str(user_id))
            key_id = conn.execute(
                insert(api_keys)
                .values(
                    user_id=user_id, prefix=key[:_SHOWN_PREFIX_CHARS], key_hash=_digest(key), name=label, created_at=now
                )
                .returning(_KEYS.id)
            ).scalar_one()
        logger.info("api key created", extra={"user_id": user_id, "key_id": key_id})
        info = ApiKeyInfo(id=int(key_id), user_id=user_id, prefix=key[:_SHOWN_PREFIX_CHARS], name=label, created_at=now)
        return key, info

    def resolve_api_key(self, key: str) -> StaffUser:
        """The user an API key belongs to.

        Raises:
            InvalidToken: Unknown or revoked key, or a disabled user (``reason`` says which).
        """
        key_hash = self._token_hash(key, API_KEY_PREFIX, "API key")
        with self._reader.connect() as conn:
            row = conn.execute(
                select(staff_users, _KEYS.revoked_at, _KEYS.last_used_at)
                .join(api_keys, _USERS.id == _KEYS.user_id)
                .where(_KEYS.key_hash == key_hash)
            ).first()
        if row is None:
            raise InvalidToken("Unknown API key", reason="unknown")
        if row.revoked_at is not None:
            raise InvalidToken("This API key was revoked", reason="revoked")
        if row.disabled_at is not None:
            raise InvalidToken("This account is disabled", reason="user_disabled")
        now = self._clock()
        if row.last_used_at is None or now - row.last_used_at >= self._touch_interval:
            with self._engine.begin() as conn:
                conn.execute(update(api_keys).where(_KEYS.key_hash == key_hash).values(last_used_at=now))
        return _user(row)

    def list_api_keys(self, user_id: int | None = None) -> list[ApiKeyInfo]:
        """API keys (revoked ones included), oldest first; only ``user_id``'s when given."""
        query = select(api_keys).order_by(_KEYS.id)
        if user_id is not None:
            query = query.where(_KEYS.user_id == user_id)
        with self._reader.connect() as conn:
            rows = conn.execute(query).all()
        return [_key_info(r) for r in rows]

    def revoke_api_key(self, key_id: int, *, user_id: int | None = None) -> ApiKeyInfo:
        """Revoke an API key for good. Revoking a revoked key changes nothing.

        Args:
            key_id: The key's id (from :meth:`list_api_keys`).
            user_id: When given, the key must belong to this user (so people can revoke only their own).

        Raises:
            AuthRecordNotFound: No such key (or not ``user_id``'s).
        """
        condition = [_KEYS.id == key_id] if user_id is None else [_KEYS.id == key_id, _KEYS.user_id == user_id]
        with self._engine.begin() as conn:
            conn.execute(
                update(api_keys).where(*condition, _KEYS.revoked_at.is_(None)).values(revoked_at=self._clock())
            )
            row = conn.execute(select(api_keys).where(*condition)).first()
        if row is None:
            raise AuthRecordNotFound(f"No API key with id {key_id}", kind="api_key", key=str(key_id))
        logger.info("api key revoked", extra={"key_id": key_id})
        return _key_info(row)

    # -- internals -----------------------------------------------------------------------------------------

    def _token_hash(self, token: str, prefix: str, what: str) -> str:
        if not token or not token.startswith(prefix) or len(token) > _MAX_TOKEN_CHARS or not token.isascii():
            raise InvalidToken(f"Not a grounddesk {what}", reason="malformed")
        return _digest(token)

    def _rehash(self, user_id: int, old_hash: str, password: str) -> None:
        new_hash = self._hasher.hash(password)
        with self._engine.begin() as conn:
            # Only if nobody changed the password meanwhile.
            conn.execute(
                update(staff_users)
                .where(_USERS.id == user_id, _USERS.password_hash == old_hash)
                .values(password_hash=new_hash)
            )
        logger.info("password hash upgraded", extra={"user_id": user_id})


def _user(row: Row[Any]) -> StaffUser:
    return StaffUser(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        display_name=row.display_name,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def _key_info(row: Row[Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        user_id=row.user_id,
        prefix=row.prefix,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def create_user_command(
    engine: Engine, username: str, password: str, role: Role | str, *, display_name: str | None = None
) -> StaffUser:
    """What ``grounddesk admin create-user`` runs: migrate the database if needed, then add the user.

    Args:
        engine: An engine from :func:`grounddesk.db.create_engine_for`.
        username: The new user's username.
        password: The new user's password (at least 10 characters).
        role: ``agent``, ``knowledge_manager`` or ``admin``.
        display_name: The name shown in the console.

    Returns:
        The new user.

    Raises:
        UserExists: The username is taken.
        WeakPassword: The password breaks the policy.
        AuthError: (``invalid_input``) malformed username or unknown role.
    """
    upgrade(engine)
    return StaffDirectory(engine).create_user(username, password, role, display_name=display_name)
