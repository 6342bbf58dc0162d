"""The reference :class:`~grounddesk.knowledge.types.VectorStore`: exact search over Python dicts and numpy.

It defines what every other store must return (the conformance suite in :mod:`grounddesk.testing` runs
against it first). Nothing persists; it serves tests and the ``embedded = "memory"`` setting.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grounddesk.errors import ConfigurationError, VectorStoreError
from grounddesk.knowledge.stores._common import sorted_chunks, visibility_changes
from grounddesk.knowledge.types import ChunkPayload, ChunkPoint, SearchFilter, SparseVector, StoredHit

__all__ = ["MemoryVectorStore"]

_Vector = npt.NDArray[np.float32]
_Scalar = str | int | bool


@dataclass(slots=True)
class _Row:
    payload: ChunkPayload
    dense: _Vector  # L2-normalised, so cosine similarity is a dot product
    sparse: dict[int, float]


def _unit(vector: Sequence[float], dim: int | None) -> _Vector:
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or (dim is not None and array.shape[0] != dim):
        raise VectorStoreError(
            f"Dense vector has {array.size} dimensions, the collection {dim}.", expected=dim, got=int(array.size)
        )
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


def _terms(vector: SparseVector) -> dict[int, float]:
    if len(vector.indices) != len(vector.values):
        raise VectorStoreError(
            "A sparse vector needs as many values as indices.", indices=len(vector.indices), values=len(vector.values)
        )
    return dict(zip(vector.indices, vector.values, strict=True))


def _same(stored: object, wanted: object) -> bool:
    # Qdrant compares typed JSON values: True is not 1 and 1.0 is not 1.
    return type(stored) is type(wanted) and stored == wanted


def _has(stored: object, wanted: _Scalar) -> bool:
    if isinstance(stored, list):
        return any(_same(item, wanted) for item in stored)
    return _same(stored, wanted)


def _matches(payload: ChunkPayload, flt: SearchFilter) -> bool:
    if not (payload.visible_from <= flt.generation < payload.visible_until):
        return False
    if not (payload.effective_from <= flt.now < payload.effective_until):
        return False
    if flt.doc_ids is not None and payload.doc_id not in flt.doc_ids:
        return False
    if not set(payload.audiences).intersection(flt.audiences):
        return False
    for key, wanted in flt.metadata.items():
        stored = payload.metadata.get(key)
        if isinstance(wanted, list):
            if not any(_has(stored, option) for option in wanted):
                return False
        elif not _has(stored, wanted):
            return False
    return True


def _idf(points_with_sparse: int, points_with_term: int) -> float:
    """Qdrant's ``Modifier.IDF``: ``ln(1 + (N - n + 0.5) / (n + 0.5))``."""
    n = points_with_term
    return math.log(1.0 + (points_with_sparse - n + 0.5) / (n + 0.5))


class MemoryVectorStore:
    """Chunks in a dict, searched exactly; thread-safe.

    Dense search is exact cosine similarity. Sparse search scores ``sum(idf(t) * q[t] * d[t])`` over the
    terms shared by query and chunk, with Qdrant's IDF computed over every stored chunk that has a non-empty
    sparse vector, visible or not (as Qdrant does).

    Example:
        >>> store = MemoryVectorStore()
        >>> store.ensure_collection(384)
        >>> store.count()
        0
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._dim: int | None = None
        self._rows: dict[str, _Row] = {}
        self._term_counts: Counter[int] = Counter()
        self._with_sparse = 0

    def ensure_collection(self, dense_dim: int) -> None:
        """Fix the dense dimension. Idempotent.

        Raises:
            ConfigurationError: The store already holds vectors of another dimension.
        """
        with self._lock:
            if self._dim is not None and self._dim != dense_dim:
                raise ConfigurationError(
                    f"The vector store holds {self._dim}-dimensional vectors, the embedder makes {dense_dim}. "
                    "Rebuild the index after changing the embedding model.",
                    stored=self._dim,
                    requested=dense_dim,
                )
            self._dim = dense_dim

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or replace points by their stable ids.

        Raises:
            VectorStoreError: ``ensure_collection`` was not called, or a vector has the wrong dimension.
        """
        if not points:
            return
        with self._lock:
            dim = self._require_dim()
            rows = {
                point.payload.point_id: _Row(
                    payload=point.payload.model_copy(deep=True),
                    dense=_unit(point.dense, dim),
                    sparse=_terms(point.sparse),
                )
                for point in points
            }
            for point_id, row in rows.items():
                self._forget(point_id)
                self._rows[point_id] = row
                if row.sparse:
                    self._with_sparse += 1
                    self._term_counts.update(row.sparse.keys())

    def set_visibility(
        self, doc_id: str, version: int, *, visible_from: int | None = None, visible_until: int | None = None
    ) -> int:
        """Set the generation window of every chunk of ``doc_id@version``.

        Returns:
            How many chunks the version has (each of them was written, whether or not a value differed).
        """
        update = visibility_changes(visible_from, visible_until)
        with self._lock:
            targets = [row for row in self._rows.values() if _is_version(row.payload, doc_id, version)]
            for row in targets:
                row.payload = row.payload.model_copy(update=update)
            return len(targets)

    def delete(self, doc_id: str, version: int | None = None) -> int:
        """Erase the chunks of one version, or of every version; returns how many were erased."""
        with self._lock:
            return self._erase([pid for pid, row in self._rows.items() if _is_version(row.payload, doc_id, version)])

    def purge_hidden(self, generation: int) -> int:
        """Erase chunks whose ``visible_until <= generation``; returns how many were erased."""
        with self._lock:
            return self._erase([pid for pid, row in self._rows.items() if row.payload.visible_until <= generation])

    def search_dense(self, vector: Sequence[float], flt: SearchFilter, limit: int) -> list[StoredHit]:
        """Exact nearest chunks by cosine similarity, best first, among those matching ``flt``."""
        with self._lock:
            if self._dim is None or limit <= 0:
                return []
            query = _unit(vector, self._dim)
            rows = [row for row in self._rows.values() if _matches(row.payload, flt)]
        if not rows:
            return []
        scores = np.stack([row.dense for row in rows]) @ query
        best = np.argsort(-scores, kind="stable")[:limit]
        return [_hit(rows[i], float(scores[i])) for i in best]

    def search_sparse(self, vector: SparseVector, flt: SearchFilter, limit: int) -> list[StoredHit]:
        """Best chunks by IDF-weighted sparse dot product, best first, among those matching ``flt``."""
        query = _terms(vector)
        with self._lock:
            if limit <= 0 or not query:
                return []
            idf = {term: _idf(self._with_sparse, self._term_counts[term]) for term in query}
            scored: list[tuple[float, _Row]] = []
            for row in self._rows.values():
                shared = query.keys() & row.sparse.keys()
                if shared and _matches(row.payload, flt):
                    scored.append((sum(idf[t] * query[t] * row.sparse[t] for t in shared), row))
        scored.sort(key=lambda item: -item[0])
        return [_hit(row, score) for score, row in scored[:limit]]

    def chunks(self, doc_id: str, version: int | None = None) -> list[ChunkPayload]:
        """Every stored chunk of a document (or of one version), ordered by version then ordinal."""
        with self._lock:
            found = [row.payload for row in self._rows.values() if _is_version(row.payload, doc_id, version)]
        return [payload.model_copy(deep=True) for payload in sorted_chunks(found)]

    def count(self) -> int:
        """How many chunks are stored, visible or not."""
        with self._lock:
            return len(self._rows)

    def close(self) -> None:
        """Nothing to release; the data stays readable."""

    def _require_dim(self) -> int:
        if self._dim is None:
            raise VectorStoreError("The collection does not exist yet: call ensure_collection(dim) first.")
        return self._dim

    def _forget(self, point_id: str) -> None:
        old = self._rows.pop(point_id, None)
        if old is not None and old.sparse:
            self._with_sparse -= 1
            self._term_counts.subtract(old.sparse.keys())

    def _erase(self, point_ids: list[str]) -> int:
        for point_id in point_ids:
            self._forget(point_id)
        self._term_counts = +self._term_counts  # drop terms no chunk uses any more
        return len(point_ids)


def _is_version(payload: ChunkPayload, doc_id: str, version: int | None) -> bool:
    return payload.doc_id == doc_id and (version is None or payload.version == version)


def _hit(row: _Row, score: float) -> StoredHit:
    return StoredHit(payload=row.payload.model_copy(deep=True), score=score)
