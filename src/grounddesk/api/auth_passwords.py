"""Credential policy (usernames, passwords) and password hashing with Argon2id (argon2-cffi).

A stored hash is upgraded on the next sign-in when the hashing parameters change.
Hashes are self-describing PHC strings (``$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>``): each one carries
its own algorithm, parameters and 16-byte random salt, so raising the cost in the settings needs no migration;
:meth:`PasswordHasher.needs_rehash` tells the directory to store a fresh hash after a successful sign-in.
Verification recomputes the hash and compares in constant time inside libargon2.

Example:
    >>> hasher = PasswordHasher(time_cost=3, memory_kib=65536, parallelism=4)
    >>> stored = hasher.hash("correct horse battery")
    >>> hasher.verify(stored, "correct horse battery")
    True
"""

from __future__ import annotations

import re
import threading

from grounddesk.api.auth import AuthError, AuthSettings, WeakPassword
from grounddesk.errors import ConfigurationError, ErrorCode

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "PasswordHasher", "check_password", "normalise_username"]

#: Shortest password accepted (characters).
MIN_PASSWORD_LENGTH = 10
#: Longest password accepted (characters): bounds the work an attacker can make one sign-in cost.
MAX_PASSWORD_LENGTH = 1024
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,149}")


def normalise_username(username: str) -> str:
    """The stored form of a username: trimmed and lowercased.

    Raises:
        AuthError: (code ``invalid_input``) empty, longer than 150 characters, or with characters other
            than ASCII letters, digits and ``. _ @ + -``.
    """
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise AuthError(
            "A username is 1-150 characters: letters, digits and . _ @ + - (starting with a letter or digit)",
            code=ErrorCode.INVALID_INPUT,
        )
    return name


def check_password(password: str, *, username: str | None = None) -> None:
    """Enforce the password policy.

    Args:
        password: The proposed password.
        username: The account's username; the password may not be the username.

    Raises:
        WeakPassword: Shorter than 10 or longer than 1024 characters, only whitespace, or the username.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters", min_length=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(
            f"Passwords may have at most {MAX_PASSWORD_LENGTH} characters", max_length=MAX_PASSWORD_LENGTH
        )
    if not password.strip():
        raise WeakPassword("A password cannot be only whitespace")
    if username is not None and password.strip().lower() == username.strip().lower():
        raise WeakPassword("A password cannot be the username")


class PasswordHasher:
    """Argon2id password hashes with the given cost.

    Args:
        time_cost: Passes over memory.
        memory_kib: Memory per hash, in KiB.
        parallelism: Lanes.

    Raises:
        ConfigurationError: (code ``missing_extra``) argon2-cffi is not installed.
    """

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        try:
            import argon2
            from argon2.exceptions import InvalidHashError, VerificationError
        except ImportError as exc:
            raise ConfigurationError(
                'Staff sign-in needs argon2-cffi: pip install "grounddesk[server]"', code=ErrorCode.MISSING_EXTRA
            ) from exc
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self._mismatch: tuple[type[Exception], ...] = (VerificationError, InvalidHashError)
        self._malformed: type[Exception] = InvalidHashError
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> PasswordHasher:
        """A hasher with the cost configured in ``settings``."""
        return cls(
            time_cost=settings.password_time_cost,
            memory_kib=settings.password_memory_kib,
            parallelism=settings.password_parallelism,
        )

    def hash(self, password: str) -> str:
        """A new salted hash of ``password`` (a PHC string)."""
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        """Whether ``password`` matches ``stored``; False (not an error) for a malformed stored hash."""
        try:
            return self._hasher.verify(stored, password)
        except self._mismatch:
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than this hasher's (so should be replaced)."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except self._malformed:
            return True

    def waste_time(self, password: str) -> None:
        """Verify against a throwaway hash, so that an unknown username costs as long as a wrong password."""
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = self._hasher.hash("grounddesk-no-such-user")
            dummy = self._dummy
        self.verify(dummy, password)
