"""Where conversations persist: langgraph's SqliteSaver by default, PostgresSaver when PostgreSQL is configured."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from grounddesk.errors import ConfigurationError, ErrorCode

__all__ = ["open_checkpointer"]

# PostgresSaver serialises its calls with a lock, so one connection is used at a time; the second one lets the
# pool open a replacement while a broken one is being discarded.
_POOL_SIZE = 2
#: How long a checkpoint read or write waits for a connection while PostgreSQL is unreachable (then it fails).
_CHECKOUT_TIMEOUT_S = 10.0
_CONNECT_TIMEOUT_S = 5


def open_checkpointer(database_url: str, sqlite_path: Path) -> tuple[BaseCheckpointSaver[Any], Any]:
    """A checkpointer for the configured SQL back-end, and the connection to close when done.

    PostgreSQL checkpoints go through a small connection pool that checks each connection before use, so the
    agent keeps working after the server restarts; while it is down, a checkpoint call fails after a bounded wait.

    Args:
        database_url: The SQL store's URL; a PostgreSQL URL puts checkpoints there too.
        sqlite_path: The checkpoint file used when the SQL store is SQLite.
    """
    if database_url.startswith(("postgresql", "postgres:")):
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg import Connection
            from psycopg.rows import DictRow, dict_row
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ConfigurationError(
                'PostgreSQL checkpoints need: pip install "grounddesk[postgres]"', code=ErrorCode.MISSING_EXTRA
            ) from exc
        from sqlalchemy.engine import make_url

        url = make_url(database_url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        # A pool, not one connection: a connection the server dropped (a restart, a failover) is checked on
        # checkout and replaced, so the service recovers by itself; a single connection would stay broken.
        pool: ConnectionPool[Connection[DictRow]] = ConnectionPool(
            conninfo,
            kwargs={
                "autocommit": True,
                "prepare_threshold": 0,
                "row_factory": dict_row,
                "connect_timeout": _CONNECT_TIMEOUT_S,
            },
            min_size=1,
            max_size=_POOL_SIZE,
            check=ConnectionPool.check_connection,
            timeout=_CHECKOUT_TIMEOUT_S,
            name="grounddesk-checkpoints",
            open=True,
        )
        try:
            pg_saver = PostgresSaver(pool)
            pg_saver.setup()
        except BaseException:
            pool.close()
            raise
        return pg_saver, pool
    from langgraph.checkpoint.sqlite import SqliteSaver

    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(sqlite_path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a commit is not fsynced; a killed process loses nothing, only an OS crash can lose the last turn.
    conn.execute("PRAGMA synchronous=NORMAL")
    sqlite_saver = SqliteSaver(conn)
    sqlite_saver.setup()
    return sqlite_saver, conn
