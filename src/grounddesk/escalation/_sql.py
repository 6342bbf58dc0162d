"""Small SQL helpers shared by the ticket queue and the conversation store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, Table, null
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["Clock", "insert_ignore", "inserted_id", "json_or_null", "upsert"]

#: Returns the current moment, timezone-aware. Tests pass a fake one.
Clock = Callable[[], datetime]


def json_or_null(value: Any) -> Any:
    """``value``, or SQL NULL for None (a plain None in a JSON column would be stored as JSON ``null``)."""
    return null() if value is None else value


def inserted_id(result: CursorResult[Any]) -> int:
    """The autoincremented primary key of the row an INSERT just added."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every INSERT here adds one row with an integer key
        raise RuntimeError("the INSERT reported no primary key")
    return int(key[0])


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any], conflict: Sequence[str]) -> int:
    """Insert a row unless one with the same ``conflict`` columns exists; return how many rows were inserted.

    Uses ``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL), so a conflict does not abort a PostgreSQL
    transaction the way a caught IntegrityError would.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    return conn.execute(stmt).rowcount


def upsert(
    conn: Connection, table: Table, values: dict[str, Any], conflict: Sequence[str], update: dict[str, Any]
) -> None:
    """Insert a row, or update ``update`` columns of the row with the same ``conflict`` columns."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=list(conflict), set_=update))
