"""The agent's LangGraph checkpoints, seen thread by thread, for erasure and retention.

LangGraph's savers can delete a thread (``delete_thread``) but cannot say which threads mention a customer, nor
which are old. :class:`CheckpointThreads` adds that for the two savers grounddesk uses:

- ``SqliteSaver`` (tables ``checkpoints`` and ``writes``, values as msgpack blobs);
- ``PostgresSaver`` (``checkpoints`` as JSONB, ``checkpoint_blobs`` and ``checkpoint_writes`` as ``bytea``).

Strings are stored as UTF-8 inside msgpack and JSON, so a customer id or an email address is found by a byte
search; each candidate is then confirmed with word boundaries (``C-100`` does not match ``C-1001``).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

__all__ = ["CheckpointThreads", "mentions", "token_pattern"]

logger = logging.getLogger(__name__)


def token_pattern(needle: str) -> re.Pattern[str]:
    """``needle`` as a whole token (case-insensitive): not inside a longer id, word or email address."""
    return re.compile(rf"(?<![\w.+@-]){re.escape(needle)}(?![\w@-]|\.\w)", re.IGNORECASE)


def mentions(text: str | bytes | None, patterns: Iterable[re.Pattern[str]]) -> bool:
    """True when ``text`` (bytes are decoded leniently) contains one of the token ``patterns``."""
    if text is None:
        return False
    value = text.decode("utf-8", "replace") if isinstance(text, bytes | bytearray | memoryview) else str(text)
    return any(p.search(value) for p in patterns)


class CheckpointThreads:
    """Thread-level queries and deletes on a LangGraph checkpointer.

    Args:
        saver: The agent's checkpointer (``SqliteSaver`` or ``PostgresSaver``; any other saver supports
            :meth:`delete` and :meth:`last_activity` only).
    """

    def __init__(self, saver: BaseCheckpointSaver[Any]) -> None:
        self.saver = saver
        self._kind = _kind_of(saver)

    def mentioning(self, needles: Iterable[str]) -> set[str]:
        """Threads whose stored state mentions one of ``needles`` (customer ids, email addresses) as a token."""
        wanted = sorted({n for n in needles if n})
        if not wanted or self._kind is None:
            return set()
        patterns = [token_pattern(n) for n in wanted]
        found: set[str] = set()
        for thread_id, data in self._candidates(wanted):
            if thread_id not in found and mentions(data, patterns):
                found.add(str(thread_id))
        return found

    def thread_ids(self) -> set[str]:
        """Every thread that has a checkpoint."""
        if self._kind is None:
            return set()
        return {str(row[0]) for row in self._query("SELECT DISTINCT thread_id FROM checkpoints", ())}

    def last_activity(self, thread_id: str) -> datetime | None:
        """When the thread's newest checkpoint was written, or None without one."""
        stored = self.saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
        if stored is None:
            return None
        stamp = str(stored.checkpoint.get("ts") or "")
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def delete(self, thread_ids: Iterable[str]) -> int:
        """Delete every checkpoint and pending write of the threads; returns how many threads had any.

        On SQLite, ``secure_delete`` is switched on first, so freed pages are overwritten, and the WAL is
        checkpointed and truncated afterwards: the deleted state does not linger in the files.
        """
        targets = sorted(set(thread_ids))
        if not targets:
            return 0
        existing = self.thread_ids() if self._kind is not None else set(targets)
        if self._kind == "sqlite":
            with self.saver.lock:  # type: ignore[attr-defined]
                self.saver.conn.execute("PRAGMA secure_delete = ON")  # type: ignore[attr-defined]
        deleted = 0
        for thread_id in targets:
            if thread_id in existing:
                self.saver.delete_thread(thread_id)
                deleted += 1
        if self._kind == "sqlite" and deleted:
            self._truncate_wal()
        return deleted

    # -- back-end specifics ------------------------------------------------------------------------------------

    def _candidates(self, needles: list[str]) -> list[tuple[str, Any]]:
        rows: list[tuple[str, Any]] = []
        variants = sorted({v for n in needles for v in (n, n.lower())})
        for needle in variants:
            raw = needle.encode("utf-8")
            if self._kind == "sqlite":
                rows += self._query(
                    "SELECT thread_id, checkpoint FROM checkpoints WHERE instr(checkpoint, ?) > 0 "
                    "UNION ALL SELECT thread_id, metadata FROM checkpoints WHERE instr(metadata, ?) > 0 "
                    "UNION ALL SELECT thread_id, value FROM writes WHERE instr(value, ?) > 0",
                    (raw, raw, raw),
                )
            else:
                like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                rows += self._query(
                    "SELECT thread_id, convert_to(checkpoint::text, 'UTF8') FROM checkpoints "
                    "WHERE checkpoint::text LIKE %s "
                    "UNION ALL SELECT thread_id, convert_to(metadata::text, 'UTF8') FROM checkpoints "
                    "WHERE metadata::text LIKE %s "
                    "UNION ALL SELECT thread_id, blob FROM checkpoint_blobs WHERE position(%s::bytea in blob) > 0 "
                    "UNION ALL SELECT thread_id, blob FROM checkpoint_writes WHERE position(%s::bytea in blob) > 0",
                    (like, like, raw, raw),
                )
        return rows

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[str, Any]]:
        saver: Any = self.saver
        if self._kind == "sqlite":
            with saver.cursor(transaction=False) as cur:
                return [(row[0], row[1] if len(row) > 1 else None) for row in cur.execute(sql, params).fetchall()]
        with saver._cursor() as cur:  # PostgresSaver's own connection and lock
            cur.execute(sql, params)
            return [(_first(row), _second(row)) for row in cur.fetchall()]

    def _truncate_wal(self) -> None:
        saver: Any = self.saver
        try:
            with saver.lock:
                saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:  # a reader holds the WAL: the pages go at the next checkpoint
            logger.warning("checkpoint WAL not truncated after a delete")


def _kind_of(saver: BaseCheckpointSaver[Any]) -> str | None:
    name = type(saver).__name__
    if name == "SqliteSaver" and isinstance(getattr(saver, "conn", None), sqlite3.Connection):
        return "sqlite"
    if name == "PostgresSaver":
        return "postgres"
    return None


def _first(row: Any) -> Any:
    return row["thread_id"] if isinstance(row, dict) else row[0]


def _second(row: Any) -> Any:
    if isinstance(row, dict):
        values = list(row.values())
        return values[1] if len(values) > 1 else None
    return row[1] if len(row) > 1 else None
