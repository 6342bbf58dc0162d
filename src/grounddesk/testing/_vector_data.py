"""Hand-made chunks and filters for the vector-store conformance suite."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from grounddesk.knowledge.types import (
    NEVER,
    ChunkPayload,
    ChunkPoint,
    MetadataValue,
    SearchFilter,
    SparseVector,
    StoredHit,
    VectorStore,
)

__all__ = [
    "DIM",
    "GENERATION",
    "NOW",
    "Reopen",
    "axis",
    "chunk_ids",
    "idf",
    "make_point",
    "mix",
    "search_filter",
    "visible_ids",
]

#: Dense dimension of every conformance vector.
DIM = 8
#: The knowledge generation searches run at unless a test says otherwise.
GENERATION = 5
#: The "current time" of searches (Unix seconds).
NOW = 1_750_000_000


def axis(index: int, dim: int = DIM) -> list[float]:
    """The unit vector along one axis."""
    vector = [0.0] * dim
    vector[index] = 1.0
    return vector


def mix(degrees: float, dim: int = DIM) -> list[float]:
    """A unit vector ``degrees`` away from axis 0, towards axis 1 (cosine to axis 0 = cos(degrees))."""
    vector = [0.0] * dim
    vector[0], vector[1] = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return vector


def idf(points_with_sparse: int, points_with_term: int) -> float:
    """Qdrant's inverse document frequency, ``ln(1 + (N - n + 0.5) / (n + 0.5))``."""
    return math.log(1 + (points_with_sparse - points_with_term + 0.5) / (points_with_term + 0.5))


def make_point(
    doc_id: str = "doc",
    version: int = 1,
    ordinal: int = 0,
    *,
    dense: list[float] | None = None,
    terms: dict[int, float] | None = None,
    audiences: list[str] | None = None,
    visible_from: int = 0,
    visible_until: int = NEVER,
    effective_from: int = 0,
    effective_until: int = NEVER,
    metadata: dict[str, MetadataValue] | None = None,
    text: str | None = None,
    heading_path: list[str] | None = None,
) -> ChunkPoint:
    """A chunk that is visible to ``search_filter()`` unless told otherwise.

    Defaults: dense along axis 0, no sparse terms, audience ``public``, visible from generation 0 for ever.
    """
    terms = terms or {}
    payload = ChunkPayload(
        chunk_id=f"{doc_id}@{version}#{ordinal}",
        doc_id=doc_id,
        version=version,
        ordinal=ordinal,
        title=f"Title of {doc_id}",
        heading_path=heading_path or [],
        text=text if text is not None else f"Text of {doc_id} v{version} #{ordinal}",
        audiences=audiences if audiences is not None else ["public"],
        effective_from=effective_from,
        effective_until=effective_until,
        visible_from=visible_from,
        visible_until=visible_until,
        metadata=metadata or {},
    )
    return ChunkPoint(
        payload=payload,
        dense=dense if dense is not None else axis(0),
        sparse=SparseVector(indices=list(terms), values=list(terms.values())),
    )


def search_filter(**overrides: Any) -> SearchFilter:
    """The filter of a public search at :data:`GENERATION` and :data:`NOW`, with ``overrides`` applied."""
    fields: dict[str, Any] = {"generation": GENERATION, "now": NOW, "audiences": ["public"], **overrides}
    return SearchFilter(**fields)


#: Closes a store and opens a new one on the same data.
Reopen = Callable[[VectorStore], VectorStore]


def chunk_ids(hits: Sequence[StoredHit]) -> list[str]:
    """The chunk ids of hits, in result order."""
    return [hit.payload.chunk_id for hit in hits]


def visible_ids(store: VectorStore, **overrides: Any) -> set[str]:
    """The chunk ids a dense search along axis 0 returns under a filter (limit 100)."""
    return set(chunk_ids(store.search_dense(axis(0), search_filter(**overrides), 100)))
