"""Hybrid retrieval: dense and sparse candidates, fused (normalised scores or reciprocal ranks), always filtered."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from grounddesk.config import SearchSettings
from grounddesk.knowledge.sparse import BM25Encoder
from grounddesk.knowledge.types import ChunkPayload, Embedder, SearchFilter, StoredHit, VectorStore

__all__ = ["Hit", "HybridSearcher", "SearchMode", "SearchResult"]

SearchMode = Literal["dense", "sparse", "hybrid"]

_STALE_RETRIES = 5
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


class Hit(BaseModel):
    """One retrieved chunk with where it came from and why it ranked."""

    chunk_id: str
    doc_id: str
    version: int
    title: str
    heading_path: list[str]
    text: str
    score: float = Field(description="Fused score in hybrid mode (SearchSettings.fusion); the raw score otherwise")
    dense_score: float | None = None
    sparse_score: float | None = None
    dense_rank: int | None = None
    sparse_rank: int | None = None
    metadata: dict[str, object] = Field(default_factory=dict)

    @property
    def citation(self) -> str:
        """``doc_id@version``, the form every answer records."""
        return f"{self.doc_id}@{self.version}"


class SearchResult(BaseModel):
    """Hits, best first, with the time taken (query embedding included)."""

    hits: list[Hit]
    took_ms: float
    generation: int


class HybridSearcher:
    """Searches approved, effective, audience-visible chunks.

    Args:
        store: Where the chunks are.
        embedder: Embeds the query.
        sparse: Encodes the query's terms.
        generation: Returns the current knowledge generation (see :mod:`grounddesk.knowledge.types`).
        settings: Candidate counts, RRF constant and weights.
        clock: Unix seconds now (injected so tests can travel in time).
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        sparse: BM25Encoder,
        generation: Callable[[], int],
        settings: SearchSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._sparse = sparse
        self._generation = generation
        self._settings = settings or SearchSettings()
        self._clock = clock

    def search(
        self,
        query: str,
        *,
        audiences: Sequence[str],
        top_k: int | None = None,
        mode: SearchMode = "hybrid",
        metadata: dict[str, str | int | bool | list[str] | list[int]] | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> SearchResult:
        """Find the chunks that best answer ``query`` among those the caller may see.

        Args:
            query: The customer's question (long texts are embedded window by window).
            audiences: The caller's audience tags; a chunk is visible when they intersect its own.
            top_k: How many hits to return.
            mode: ``hybrid`` (default), ``dense`` or ``sparse``.
            metadata: Extra equality / any-of conditions on document metadata.
            doc_ids: Restrict to these documents.
        """
        started = time.perf_counter()
        k = top_k or self._settings.top_k
        limit = max(k, self._settings.candidates) if mode == "hybrid" else k
        dense_vector = self.query_vector(query) if mode in ("dense", "hybrid") else None
        sparse_vector = self._sparse.encode_query(query) if mode in ("sparse", "hybrid") else None
        for _attempt in range(_STALE_RETRIES):
            generation = self._generation()
            flt = SearchFilter(
                generation=generation,
                now=int(self._clock()),
                audiences=list(audiences),
                metadata=metadata or {},
                doc_ids=list(doc_ids) if doc_ids is not None else None,
            )
            dense = self._store.search_dense(dense_vector, flt, limit) if dense_vector is not None else []
            sparse = self._store.search_sparse(sparse_vector, flt, limit) if sparse_vector is not None else []
            # A purge after approving generation G erases chunks hidden since G - 1; results read at a
            # generation two or more behind the current one may have lost chunks to it: read them again.
            if self._generation() < generation + 2:
                break
        hits = self._fuse(dense, sparse, k)
        return SearchResult(hits=hits, took_ms=(time.perf_counter() - started) * 1000.0, generation=generation)

    def query_vector(self, query: str) -> list[float]:
        """The query's embedding; a query longer than the model reads is embedded in sentence windows, averaged."""
        windows = self._windows(query)
        if len(windows) == 1:
            return self._embedder.embed_query(windows[0])
        matrix = np.asarray(self._embedder.embed_documents(windows), dtype=np.float32)
        mean = matrix.mean(axis=0)
        norm = float(np.linalg.norm(mean)) or 1.0
        return [float(x) for x in mean / norm]

    def _windows(self, query: str, budget: int = 240) -> list[str]:
        if len(query) < 600 or self._embedder.count_tokens(query) <= budget:
            return [query]
        windows: list[str] = []
        current: list[str] = []
        used = 0
        for sentence in (s for s in _SENTENCE_END.split(query) if s.strip()):
            size = self._embedder.count_tokens(sentence)
            if current and used + size > budget:
                windows.append(" ".join(current))
                current, used = [], 0
            current.append(sentence)
            used += size
        if current:
            windows.append(" ".join(current))
        return windows

    def _fuse(self, dense: list[StoredHit], sparse: list[StoredHit], k: int) -> list[Hit]:
        # Plain tuples while scoring up to 2 x candidates; Hit models only for the k that are returned.
        found: dict[str, _Scored] = {}
        for rank, stored in enumerate(dense, start=1):
            found[stored.payload.chunk_id] = _Scored(stored.payload, stored.score, rank)
        for rank, stored in enumerate(sparse, start=1):
            entry = found.get(stored.payload.chunk_id)
            if entry is None:
                entry = found[stored.payload.chunk_id] = _Scored(stored.payload)
            entry.sparse_score, entry.sparse_rank = stored.score, rank
        if not dense or not sparse:
            for entry in found.values():
                entry.score = entry.dense_score if entry.dense_score is not None else (entry.sparse_score or 0.0)
        elif self._settings.fusion == "rrf":
            rrf_k = self._settings.rrf_k
            for entry in found.values():
                entry.score = sum(1.0 / (rrf_k + r) for r in (entry.dense_rank, entry.sparse_rank) if r is not None)
        else:
            self._convex(found.values(), dense, sparse)
        best = sorted(found.values(), key=lambda e: (-e.score, e.payload.chunk_id))[:k]
        return [entry.hit() for entry in best]

    def _convex(self, entries: Iterable[_Scored], dense: list[StoredHit], sparse: list[StoredHit]) -> None:
        """Weight each list's scores divided by its best one.

        A chunk missing from a list gets that list's lowest normalised score (its true score is at most that).
        """
        weight = self._settings.dense_weight
        d_top = dense[0].score if dense[0].score > 0 else 1.0
        s_top = sparse[0].score if sparse[0].score > 0 else 1.0
        d_floor = dense[-1].score / d_top
        s_floor = sparse[-1].score / s_top
        for entry in entries:
            d = entry.dense_score / d_top if entry.dense_score is not None else d_floor
            s = entry.sparse_score / s_top if entry.sparse_score is not None else s_floor
            entry.score = weight * d + (1.0 - weight) * s


class _Scored:
    """A candidate while fusing (slots, no validation: this runs for every candidate of every search)."""

    __slots__ = ("dense_rank", "dense_score", "payload", "score", "sparse_rank", "sparse_score")

    def __init__(self, payload: ChunkPayload, dense_score: float | None = None, dense_rank: int | None = None) -> None:
        self.payload = payload
        self.dense_score = dense_score
        self.dense_rank = dense_rank
        self.sparse_score: float | None = None
        self.sparse_rank: int | None = None
        self.score = 0.0

    def hit(self) -> Hit:
        p = self.payload
        return Hit(
            chunk_id=p.chunk_id,
            doc_id=p.doc_id,
            version=p.version,
            title=p.title,
            heading_path=p.heading_path,
            text=p.text,
            score=self.score,
            dense_score=self.dense_score,
            sparse_score=self.sparse_score,
            dense_rank=self.dense_rank,
            sparse_rank=self.sparse_rank,
            metadata=dict(p.metadata),
        )
