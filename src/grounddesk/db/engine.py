"""Engines for the SQL store: a SQLite file by default, PostgreSQL (psycopg 3) in production.

SQLite needs care to behave like a real transactional database. Python's ``sqlite3`` driver defaults to a
legacy mode that issues no ``BEGIN`` before a SELECT or DDL statement, and a plain (deferred) ``BEGIN``
takes the write lock only at the first write, so two writers that both read first fail with "database is
locked" in the middle of their transactions. Following SQLAlchemy's documented recipe
(``sqlite_enabling_transactions``), the driver's own transaction control is switched off on every new
connection and SQLAlchemy's ``begin`` event emits the ``BEGIN`` itself: ``BEGIN IMMEDIATE`` (take the
write lock now, waiting up to the busy timeout) for every transaction, except on engines made by
:func:`read_only`, which emit a deferred ``BEGIN`` and never block on, nor block, a writer (WAL mode).
Writers therefore serialise whole transactions, exactly as ``SELECT ... FOR UPDATE`` makes them serialise on
PostgreSQL.

Within one process, writers also queue on a lock of the engine before they ask SQLite: SQLite's own busy handler
waits by sleeping (up to 100 ms at a time), so under many concurrent writers the lock sat free while they slept
and a service's turns piled up into multi-second stalls. The queue hands the lock over at once; the busy
timeout still governs waits between processes (the CLI beside a running server).

Example:
    >>> engine = create_engine_for("sqlite:////tmp/gd/grounddesk.db")
    >>> with engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite
    ...     ...
    >>> engine.dispose()
"""

from __future__ import annotations

import importlib.util
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError

from grounddesk.errors import ConfigurationError, ErrorCode

__all__ = ["DEFAULT_BUSY_TIMEOUT_S", "assert_engine_configured", "create_engine_for", "normalise_url", "read_only"]

#: How long a SQLite writer waits for another writer's transaction to finish before failing.
DEFAULT_BUSY_TIMEOUT_S = 30.0

_READ_ONLY_OPTION = "grounddesk_read_only"
_SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite"})
_POSTGRES_DRIVERS = frozenset({"postgres", "postgresql", "postgresql+psycopg"})


def normalise_url(url: str) -> URL:
    """Parse a database URL and pin the driver grounddesk supports for its back-end.

    ``postgres://`` and ``postgresql://`` become ``postgresql+psycopg://``; SQLite URLs stay as they are.

    Args:
        url: A SQLAlchemy URL.

    Returns:
        The parsed URL.

    Raises:
        ConfigurationError: The URL is malformed or names an unsupported back-end or driver.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"Not a database URL: {exc}", url=_redacted(url)) from exc
    if parsed.drivername in _SQLITE_DRIVERS:
        return parsed
    if parsed.drivername in _POSTGRES_DRIVERS:
        return parsed.set(drivername="postgresql+psycopg")
    raise ConfigurationError(
        f"Unsupported database driver {parsed.drivername!r}: use sqlite:///path/to/file.db "
        "or postgresql+psycopg://user@host:5432/db",
        url=parsed.render_as_string(hide_password=True),
    )


def create_engine_for(url: str, *, echo: bool = False, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Engine:
    """Build the engine for a SQLite file or a PostgreSQL database.

    SQLite: the parent folder of the file is created; each connection gets WAL journaling, foreign keys and
    a busy timeout, and transactions begin with ``BEGIN IMMEDIATE`` (see the module docstring).
    PostgreSQL: psycopg 3 with pre-ping, so connections dropped by the server are replaced.

    Args:
        url: A SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``, ``postgres://...``).
        echo: Log every SQL statement.
        busy_timeout_s: SQLite only: how long a writer waits for the write lock.

    Returns:
        A new engine; the caller disposes of it.

    Raises:
        ConfigurationError: Unsupported URL, or PostgreSQL without the ``postgres`` extra installed.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo, busy_timeout_s=busy_timeout_s)
    if importlib.util.find_spec("psycopg") is None:
        raise ConfigurationError(
            'PostgreSQL needs psycopg: pip install "grounddesk[postgres]"', code=ErrorCode.MISSING_EXTRA
        )
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def read_only(engine: Engine) -> Engine:
    """A view of ``engine`` (same pool) for transactions that only read.

    On SQLite its transactions open with a deferred ``BEGIN``: they read a consistent snapshot without taking
    the write lock, so they neither wait for nor hold up a writer. On PostgreSQL it changes nothing.

    Args:
        engine: An engine made by :func:`create_engine_for`.

    Returns:
        An engine sharing ``engine``'s pool and events.
    """
    return engine.execution_options(**{_READ_ONLY_OPTION: True})


def assert_engine_configured(engine: Engine) -> None:
    """Refuse a SQLite engine that was not made by :func:`create_engine_for`.

    Without the transaction recipe, concurrent writers fail half-way instead of waiting their turn.

    Args:
        engine: The engine a store was given.

    Raises:
        ConfigurationError: ``engine`` is SQLite without grounddesk's transaction handling.
    """
    if engine.dialect.name == "sqlite" and not event.contains(engine, "begin", _on_sqlite_begin):
        raise ConfigurationError(
            "This SQLite engine lacks grounddesk's transaction handling; build it with "
            "grounddesk.db.create_engine_for(url)",
            url=engine.url.render_as_string(hide_password=True),
        )


def _sqlite_engine(url: URL, *, echo: bool, busy_timeout_s: float) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"timeout": busy_timeout_s})
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    _WriteGate(busy_timeout_s).install(engine)
    return engine


class _WriteGate:
    """The engine's writers queue here, one write transaction at a time (see the module docstring).

    Taken just before ``BEGIN IMMEDIATE``; given back once the transaction's commit or rollback has run, or its
    connection is closed. The dialect's commit and rollback are wrapped, because SQLAlchemy's ``commit`` and
    ``rollback`` events fire before the database has finished.
    """

    def __init__(self, timeout_s: float) -> None:
        self._lock = threading.Lock()
        self._timeout_s = timeout_s
        self._holder: int | None = None

    def install(self, engine: Engine) -> None:
        dialect: Any = engine.dialect
        dialect.grounddesk_write_gate = self
        for name in ("do_commit", "do_rollback", "do_close"):
            setattr(dialect, name, self._releasing(getattr(dialect, name)))

    def acquire(self, dbapi_connection: Any) -> None:
        if not self._lock.acquire(timeout=self._timeout_s):
            raise sqlite3.OperationalError("database is locked (another writer held it past the busy timeout)")
        self._holder = id(_raw(dbapi_connection))

    def release(self, dbapi_connection: Any) -> None:
        if self._holder is not None and self._holder == id(_raw(dbapi_connection)):
            self._holder = None
            self._lock.release()

    def _releasing(self, method: Any) -> Any:
        def wrapped(dbapi_connection: Any) -> None:
            try:
                method(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        return wrapped


def _raw(connection: Any) -> Any:
    """The driver's connection under a pool proxy (the same object whichever proxy passes it)."""
    return getattr(connection, "dbapi_connection", None) or connection


def _on_sqlite_connect(dbapi_connection: Any, _connection_record: Any) -> None:
    # Take transaction control away from the sqlite3 driver; _on_sqlite_begin emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(_READ_ONLY_OPTION):
        conn.exec_driver_sql("BEGIN")
        return
    gate: _WriteGate | None = getattr(conn.dialect, "grounddesk_write_gate", None)
    if gate is None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    raw = conn.connection
    gate.acquire(raw)
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        gate.release(raw)
        raise


def _redacted(url: str) -> str:
    # A URL that failed to parse may still carry a password: keep only the scheme.
    return url.split("://", 1)[0] + "://..." if "://" in url else "..."
