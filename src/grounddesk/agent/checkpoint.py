"""Where conversations persist: langgraph's SqliteSaver by default, PostgresSaver when PostgreSQL is configured."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from grounddesk.errors import ConfigurationError, ErrorCode

__all__ = ["open_checkpointer"]


def open_checkpointer(database_url: str, sqlite_path: Path) -> tuple[BaseCheckpointSaver[Any], Any]:
    """A checkpointer for the configured SQL back-end, and the connection to close when done.

    Args:
        database_url: The SQL store's URL; a PostgreSQL URL puts checkpoints there too.
        sqlite_path: The checkpoint file used when the SQL store is SQLite.
    """
    if database_url.startswith(("postgresql", "postgres:")):
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg import Connection
            from psycopg.rows import dict_row
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ConfigurationError(
                'PostgreSQL checkpoints need: pip install "grounddesk[postgres]"', code=ErrorCode.MISSING_EXTRA
            ) from exc
        from sqlalchemy.engine import make_url

        url = make_url(database_url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        pg = Connection.connect(conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        pg_saver = PostgresSaver(pg)
        pg_saver.setup()
        return pg_saver, pg
    from langgraph.checkpoint.sqlite import SqliteSaver

    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(sqlite_path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a commit is not fsynced; a killed process loses nothing, only an OS crash can lose the last turn.
    conn.execute("PRAGMA synchronous=NORMAL")
    sqlite_saver = SqliteSaver(conn)
    sqlite_saver.setup()
    return sqlite_saver, conn
