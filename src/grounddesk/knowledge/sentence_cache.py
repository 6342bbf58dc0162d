"""Vectors of the sentences answers are made of, computed once at import and kept on disk.

The extractive composer and the confidence scorer compare the question with every candidate sentence of the
retrieved chunks. Embedding those sentences during the turn was most of a turn's time, so imports embed them
ahead (a knowledge base's ``on_import`` hook) and turns read them here. It is a cache of derived data: a
SQLite file in the home, keyed by the model and a hash of the sentence, safe to delete (turns then embed what
they miss and store it again). Sentences come from approved documents, never from customers.

Example:
    >>> cache = SentenceVectorCache(home / "cache" / "sentences.sqlite", model_id="bundled:all-MiniLM-L6-v2")
    >>> cache.put_many({"Returns are free.": vector})
    >>> cache.get_many(["Returns are free.", "Unknown."]).keys()
    dict_keys(['Returns are free.'])
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["SentenceVectorCache"]

_BATCH = 500  # SQLite's bound-parameter limit is far above this; keeps statements short


class SentenceVectorCache:
    """Float32 sentence vectors in a SQLite file, shared by the processes of one home. Thread-safe.

    Args:
        path: The SQLite file (created with its folder).
        model_id: Identifies the embedding model; vectors of another model are never returned.
    """

    def __init__(self, path: Path, *, model_id: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._model = model_id
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS sentence_vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def _key(self, text: str) -> str:
        return hashlib.blake2b(f"{self._model}\0{text}".encode(), digest_size=16).hexdigest()

    def get_many(self, texts: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """The stored vectors of those of ``texts`` that have one."""
        keys = {self._key(t): t for t in dict.fromkeys(texts)}
        found: dict[str, NDArray[np.float32]] = {}
        items = list(keys)
        with self._lock:
            for start in range(0, len(items), _BATCH):
                part = items[start : start + _BATCH]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(f"SELECT key, vector FROM sentence_vectors WHERE key IN ({marks})", part)
                for key, blob in rows:
                    found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def missing(self, texts: Sequence[str]) -> list[str]:
        """Those of ``texts`` (deduplicated, in order) that have no stored vector."""
        have = self.get_many(texts)
        return [t for t in dict.fromkeys(texts) if t not in have]

    def put_many(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        """Store vectors (an existing one for the same text is kept)."""
        rows = [(self._key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany("INSERT OR IGNORE INTO sentence_vectors (key, vector) VALUES (?, ?)", rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM sentence_vectors").fetchone()[0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()
