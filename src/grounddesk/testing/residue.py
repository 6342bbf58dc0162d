"""Find what is left of a person in grounddesk's stores: every table, every column, and the raw files.

Erasure tests (and operators checking a deployment) scan for a customer id, an email address and a phrase the
customer wrote. Values are read as they are stored and turned into text here (JSON as JSON text, ``bytea`` and
SQLite blobs decoded leniently, so msgpack checkpoints are searched too), then searched case-insensitively.

Example:
    >>> find_in_database(engine, ["C-1001", "alex.morgan@example.com"])
    []
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, inspect, select

__all__ = ["Residue", "find_in_database", "find_in_files", "find_in_sqlite_file", "as_text"]


@dataclass(frozen=True)
class Residue:
    """One place a needle was found."""

    store: str
    table: str
    column: str
    needle: str


def as_text(value: Any) -> str:
    """A stored value as searchable text."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _hits(
    store: str, table: str, rows: Iterable[Sequence[Any]], columns: Sequence[str], needles: Sequence[str]
) -> list[Residue]:
    wanted = [(n, n.lower()) for n in needles if n]
    found: set[Residue] = set()
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            text = as_text(value).lower()
            for needle, lowered in wanted:
                if lowered in text:
                    found.add(Residue(store, table, column, needle))
    return sorted(found, key=lambda r: (r.table, r.column, r.needle))


def find_in_database(engine: Engine, needles: Sequence[str], *, store: str = "sql") -> list[Residue]:
    """Every table of the database (its default schema), every column, searched for ``needles``."""
    names = inspect(engine).get_table_names()
    meta = MetaData()
    found: list[Residue] = []
    with engine.connect() as conn:
        for name in sorted(names):
            table = Table(name, meta, autoload_with=conn)
            columns = [c.name for c in table.columns]
            rows = conn.execute(select(table)).all()
            found += _hits(store, name, rows, columns, needles)
    return found


def find_in_sqlite_file(path: Path, needles: Sequence[str]) -> list[Residue]:
    """Every table of a SQLite file (e.g. the agent's ``checkpoints.db``), every column."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found: list[Residue] = []
        for name in sorted(names):
            cursor = conn.execute(f'SELECT * FROM "{name}"')
            columns = [d[0] for d in cursor.description]
            found += _hits(path.name, name, cursor.fetchall(), columns, needles)
        return found
    finally:
        conn.close()


def find_in_files(root: Path, needles: Sequence[str], *, exclude: Iterable[Path] = ()) -> list[Residue]:
    """The raw bytes of every file below ``root`` (database files, their WALs, stored documents, vectors)."""
    skip = {p.resolve() for p in exclude}
    wanted = [n for n in needles if n]
    found: list[Residue] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.resolve() in skip:
            continue
        data = path.read_bytes().lower()
        for needle in wanted:
            if needle.lower().encode("utf-8") in data:
                found.append(Residue("file", str(path.relative_to(root)), "-", needle))
    return found
