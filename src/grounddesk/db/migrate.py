"""Schema migrations, run programmatically: no ``alembic.ini`` is needed at run time.

The migration scripts live in ``grounddesk/db/migrations/versions`` and ship inside the package. Each is
hand-written and revision ids are short, ordered names (``0001_documents``, ``0002_...``).

Example:
    >>> engine = create_engine_for("sqlite:////tmp/gd/grounddesk.db")
    >>> upgrade(engine)
    >>> current_revision(engine) == head_revision()
    True
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from grounddesk.db.engine import read_only

__all__ = ["current_revision", "downgrade", "head_revision", "upgrade"]

_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant key: concurrent upgrades against one PostgreSQL database take turns on it.
_PG_MIGRATION_LOCK = 0x6764_6D69_6772_6174  # "gdmigrat"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest), in one transaction.

    Safe to call on every start and from several processes at once: on PostgreSQL the processes take turns on
    an advisory lock, on SQLite on the write lock; the later ones find nothing left to do.

    Args:
        engine: An engine made by :func:`grounddesk.db.create_engine_for`.
        revision: Target revision id, or ``"head"``.
    """
    with engine.begin() as conn:
        _lock(conn)
        command.upgrade(_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` (``"base"`` drops every grounddesk table), in one transaction.

    Args:
        engine: An engine made by :func:`grounddesk.db.create_engine_for`.
        revision: Target revision id, or ``"base"``.
    """
    with engine.begin() as conn:
        _lock(conn)
        command.downgrade(_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated.

    Args:
        engine: Any engine on the database.

    Returns:
        The revision id.
    """
    with read_only(engine).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of grounddesk."""
    head = ScriptDirectory.from_config(_config(None)).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("grounddesk ships no migrations")
    return head


def _config(connection: Connection | None) -> Config:
    config = Config()
    # Config is a ConfigParser: '%' in the path must be escaped.
    config.set_main_option("script_location", str(_MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
