"""SQLite's WAL checkpoints taken off the request path: a background thread copies the log into the database.

In WAL mode SQLite appends every commit to a ``-wal`` file and, by default, the commit that takes the log past
1,000 pages copies it back into the database file and syncs it, all inside that commit. In a service, that one
commit then holds the write lock, and the conversation store's or the checkpointer's single connection, for the
whole copy: under 50 customers every turn in flight stalled together for 100-300 ms every few seconds.

:class:`WalCheckpointer` runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection every ``interval_s``.
A passive checkpoint never waits for, nor blocks, a reader or a writer; it copies what it can. Run often, it keeps
the log short, so no commit reaches the automatic threshold and pays for a checkpoint itself. The automatic
threshold stays as the backstop (in the command line tools, say, which run no checkpointer).

Example:
    >>> checkpointer = WalCheckpointer([home / "grounddesk.db", home / "checkpoints.db"])
    >>> checkpointer.start()
    >>> ...
    >>> checkpointer.close()
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

__all__ = ["CheckpointRun", "WalCheckpointer", "sqlite_file"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointRun:
    """One passive checkpoint of one database file (SQLite's own three figures)."""

    path: Path
    busy: bool
    log_frames: int
    checkpointed_frames: int


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine; None for other databases and in-memory SQLite."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


class WalCheckpointer:
    """Checkpoint SQLite files in WAL mode from a background thread.

    Args:
        paths: The database files (those that do not exist yet are skipped until they do).
        interval_s: Time between two rounds.
    """

    def __init__(self, paths: Sequence[Path], *, interval_s: float = 1.0) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._paths = list(dict.fromkeys(Path(p) for p in paths))
        self._interval_s = interval_s
        self._connections: dict[Path, sqlite3.Connection] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None or not self._paths:
            return
        self._thread = threading.Thread(target=self._run, name="grounddesk-wal-checkpoints", daemon=True)
        self._thread.start()

    def run_once(self) -> list[CheckpointRun]:
        """Checkpoint every file now; a file that fails is logged and skipped (the next round tries again)."""
        runs: list[CheckpointRun | None] = []
        with self._lock:
            for path in self._paths:
                try:
                    runs.append(self._checkpoint(path))
                except sqlite3.Error as exc:
                    logger.warning("WAL checkpoint failed", extra={"path": str(path), "error": str(exc)})
                    self._drop(path)
        return [run for run in runs if run is not None]

    def close(self) -> None:
        """Stop the thread, take a last checkpoint, and close the connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.run_once()
        with self._lock:
            for path in list(self._connections):
                self._drop(path)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.run_once()

    def _checkpoint(self, path: Path) -> CheckpointRun | None:
        connection = self._connections.get(path)
        if connection is None:
            if not path.exists():
                return None
            # A short busy timeout: a passive checkpoint that cannot start now simply waits for the next round.
            connection = sqlite3.connect(str(path), timeout=0.05, check_same_thread=False, isolation_level=None)
            self._connections[path] = connection
        busy, log_frames, checkpointed = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return CheckpointRun(path, bool(busy), int(log_frames), int(checkpointed))

    def _drop(self, path: Path) -> None:
        connection = self._connections.pop(path, None)
        if connection is not None:
            connection.close()
