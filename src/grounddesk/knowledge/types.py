"""Data shapes and seams of the knowledge base.

Visibility model (why chunks carry generations): a search must never see both the old and the new version
of a document, nor neither, while a version is being approved. Chunks are therefore stored with a half-open
window of *knowledge generations* ``[visible_from, visible_until)``. The registry holds the current
generation ``G`` in SQL; a search reads ``G`` and filters on ``visible_from <= G < visible_until``.
Approving version 2 writes ``visible_from = G+1`` on its chunks and ``visible_until = G+1`` on version 1's,
then commits ``G+1`` in one SQL transaction: readers at ``G`` see only version 1, readers at ``G+1`` only
version 2, on any store, embedded or a distributed cluster. Drafts carry ``visible_from = NEVER``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "NEVER",
    "Optimizable",
    "Rewritable",
    "ChunkPayload",
    "ChunkPoint",
    "DocumentStatus",
    "Embedder",
    "LoadedDocument",
    "MetadataValue",
    "SearchFilter",
    "SparseVector",
    "StoredHit",
    "VectorStore",
    "point_id_for",
]

#: A generation or timestamp that is never reached: "not yet visible" / "visible for ever".
NEVER = 2**62

MetadataValue = str | int | float | bool | list[str]

_POINT_NAMESPACE = uuid.UUID("6f1d1f0e-4b8a-5c1e-9a57-0c3b9d6e2a41")


def point_id_for(doc_id: str, version: int, ordinal: int) -> str:
    """The stable point id of a chunk: a UUID5 of ``doc_id@version#ordinal``."""
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{doc_id}@{version}#{ordinal}"))


class DocumentStatus(StrEnum):
    """The life of a document version: draft -> in_review -> approved -> retired."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    RETIRED = "retired"


class LoadedDocument(BaseModel):
    """What a loader produces from one file or one JSONL record, before it is registered."""

    model_config = ConfigDict(frozen=True)

    doc_id: str = Field(min_length=1, max_length=300)
    title: str
    text: str = Field(description="Normalised text; Markdown headings ('#', '##', ...) mark the structure.")
    source_uri: str
    media_type: str
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)


class SparseVector(BaseModel):
    """Term weights: ``indices`` are hashed term ids, ``values`` their weights (no duplicates in indices)."""

    model_config = ConfigDict(frozen=True)

    indices: list[int]
    values: list[float]


class ChunkPayload(BaseModel):
    """Everything stored beside a chunk's vectors; what a search hit returns."""

    chunk_id: str = Field(description="'doc_id@version#ordinal'")
    doc_id: str
    version: int
    ordinal: int
    title: str
    heading_path: list[str] = Field(default_factory=list)
    text: str
    audiences: list[str]
    effective_from: int = Field(default=0, description="Unix seconds; visible from this moment")
    effective_until: int = Field(default=NEVER, description="Unix seconds; not visible from this moment")
    visible_from: int = Field(default=NEVER, description="First knowledge generation that sees the chunk")
    visible_until: int = Field(default=NEVER, description="First knowledge generation that no longer sees it")
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)

    @property
    def point_id(self) -> str:
        """The store's id for this chunk."""
        return point_id_for(self.doc_id, self.version, self.ordinal)


class ChunkPoint(BaseModel):
    """A chunk with its vectors, as written to a :class:`VectorStore`."""

    payload: ChunkPayload
    dense: list[float]
    sparse: SparseVector


class SearchFilter(BaseModel):
    """The filter every search applies. There is no unfiltered search.

    A chunk matches when ``visible_from <= generation < visible_until``, ``effective_from <= now <
    effective_until``, its audiences intersect ``audiences``, and every ``metadata`` condition holds
    (a scalar means equality; a list means "any of").
    """

    generation: int
    now: int
    audiences: list[str] = Field(min_length=1)
    metadata: dict[str, str | int | bool | list[str] | list[int]] = Field(default_factory=dict)
    doc_ids: list[str] | None = None


class StoredHit(BaseModel):
    """One result of a dense or sparse store query."""

    payload: ChunkPayload
    score: float


@runtime_checkable
class VectorStore(Protocol):
    """Where chunks and their dense and sparse vectors live.

    Sparse vectors are stored raw (BM25 term-frequency weights); the store applies inverse document
    frequency at query time (Qdrant's ``Modifier.IDF``), so query sparse vectors carry only term counts.
    Implementations: :class:`~grounddesk.knowledge.stores.MemoryVectorStore` (reference),
    ``QdrantEdgeStore`` (embedded default), ``QdrantClientStore`` (local mode, server or cluster).
    """

    def ensure_collection(self, dense_dim: int) -> None:
        """Create the collection and payload indexes if missing. Idempotent."""
        ...

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or replace points by their stable ids."""
        ...

    def set_visibility(
        self, doc_id: str, version: int, *, visible_from: int | None = None, visible_until: int | None = None
    ) -> int:
        """Set the generation window of every chunk of ``doc_id@version``; returns how many chunks changed."""
        ...

    def delete(self, doc_id: str, version: int | None = None) -> int:
        """Erase the chunks of one version, or of every version when ``version`` is None; returns the count."""
        ...

    def purge_hidden(self, generation: int) -> int:
        """Erase chunks whose ``visible_until <= generation`` (superseded and retired); returns the count."""
        ...

    def search_dense(self, vector: Sequence[float], flt: SearchFilter, limit: int) -> list[StoredHit]:
        """Nearest chunks by cosine similarity, best first, among those matching ``flt``."""
        ...

    def search_sparse(self, vector: SparseVector, flt: SearchFilter, limit: int) -> list[StoredHit]:
        """Best chunks by IDF-weighted sparse dot product, best first, among those matching ``flt``."""
        ...

    def chunks(self, doc_id: str, version: int | None = None) -> list[ChunkPayload]:
        """Every stored chunk of a document (or of one version), ordered by version then ordinal."""
        ...

    def count(self) -> int:
        """How many chunks are stored, visible or not."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


@runtime_checkable
class Rewritable(Protocol):
    """A store whose files can be rewritten from its live points, so nothing of a deleted point remains in them.

    Erasure calls it after deleting a customer's knowledge corrections (Qdrant edge otherwise keeps deleted
    points' bytes in its segment files and write-ahead log until they happen to be rewritten).
    """

    def rewrite(self) -> int:
        """Rebuild the files from the live points; returns how many points were kept."""
        ...


@runtime_checkable
class Optimizable(Protocol):
    """A store that builds its search index on request (Qdrant edge: segments are scanned until optimised).

    The knowledge base calls it at the end of an import. Qdrant edge holds the interpreter lock while it
    optimises (measured: 13 s for 12k chunks, 100 s for 100k on 2 busy cores), so it is never called while
    serving searches.
    """

    def optimize(self) -> bool:
        """Build indexes and merge segments now; returns whether anything changed."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised dense vectors."""

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed chunk texts (batched)."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed one search query."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many word pieces the model's own tokenizer makes of ``text`` (no special tokens)."""
        ...


def utc_timestamp(moment: datetime | None) -> int | None:
    """Unix seconds of an aware datetime (naive ones are taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
