"""SQL tables of staff authentication: users, their sessions, their API keys (see :mod:`grounddesk.api.auth`).

Only hashes of secrets are stored: an Argon2id hash of each password, the SHA-256 of each session token and of
each API key. The tables are created by the migration ``0004_auth``; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Table

from grounddesk.db.base import metadata
from grounddesk.db.types import UTCDateTime

__all__ = ["api_keys", "staff_sessions", "staff_users"]

_ROLES = "'agent', 'knowledge_manager', 'admin'"

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Stored lowercased, so the unique constraint makes names unique regardless of case.
    Column("username", String(150), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(32), nullable=False),
    Column("display_name", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
    CheckConstraint(f"role IN ({_ROLES})", name="role"),
    CheckConstraint("username = lower(username)", name="username_lowercase"),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    # SHA-256 (hex) of the bearer token: a stolen copy of the table cannot be replayed.
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("staff_users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Index("ix_staff_sessions_user_id", "user_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("staff_users.id"), nullable=False),
    # The first characters of the key, shown in listings so people can tell their keys apart.
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Index("ix_api_keys_user_id", "user_id"),
)
