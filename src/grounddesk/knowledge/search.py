"""Hybrid retrieval: dense and sparse candidates, fused by reciprocal rank fusion, always filtered."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from grounddesk.config import SearchSettings
from grounddesk.knowledge.sparse import BM25Encoder
from grounddesk.knowledge.types import Embedder, SearchFilter, StoredHit, VectorStore

__all__ = ["Hit", "HybridSearcher", "SearchMode", "SearchResult"]

SearchMode = Literal["dense", "sparse", "hybrid"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


class Hit(BaseModel):
    """One retrieved chunk with where it came from and why it ranked."""

    chunk_id: str
    doc_id: str
    version: int
    title: str
    heading_path: list[str]
    text: str
    score: float = Field(description="Fused score (RRF in hybrid mode; the raw score in single modes)")
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
        generation = self._generation()
        flt = SearchFilter(
            generation=generation,
            now=int(self._clock()),
            audiences=list(audiences),
            metadata=metadata or {},
            doc_ids=list(doc_ids) if doc_ids is not None else None,
        )
        limit = max(k, self._settings.candidates) if mode == "hybrid" else k
        dense: list[StoredHit] = []
        sparse: list[StoredHit] = []
        if mode in ("dense", "hybrid"):
            dense = self._store.search_dense(self.query_vector(query), flt, limit)
        if mode in ("sparse", "hybrid"):
            sparse = self._store.search_sparse(self._sparse.encode_query(query), flt, limit)
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
        rrf_k = self._settings.rrf_k
        table: dict[str, Hit] = {}
        fused: dict[str, float] = {}
        only_one = not dense or not sparse
        for kind, results, weight in (
            ("dense", dense, self._settings.dense_weight),
            ("sparse", sparse, self._settings.sparse_weight),
        ):
            for rank, stored in enumerate(results, start=1):
                p = stored.payload
                hit = table.get(p.chunk_id)
                if hit is None:
                    hit = table[p.chunk_id] = Hit(
                        chunk_id=p.chunk_id,
                        doc_id=p.doc_id,
                        version=p.version,
                        title=p.title,
                        heading_path=p.heading_path,
                        text=p.text,
                        score=0.0,
                        metadata=dict(p.metadata),
                    )
                if kind == "dense":
                    hit.dense_score, hit.dense_rank = stored.score, rank
                else:
                    hit.sparse_score, hit.sparse_rank = stored.score, rank
                fused[p.chunk_id] = fused.get(p.chunk_id, 0.0) + weight / (rrf_k + rank)
        for chunk_id, hit in table.items():
            hit.score = (hit.dense_score or hit.sparse_score or 0.0) if only_one else fused[chunk_id]
        return sorted(table.values(), key=lambda h: (-h.score, h.chunk_id))[:k]
