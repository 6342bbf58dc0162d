"""Composition root: builds every concrete object from :class:`~grounddesk.config.Settings`.

Nothing here runs at import time; the CLI, the API's lifespan and the eval runner call these functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from grounddesk.config import Settings
from grounddesk.errors import ConfigurationError
from grounddesk.knowledge.chunking import Chunker
from grounddesk.knowledge.embeddings import SentenceTransformerEmbedder
from grounddesk.knowledge.registry import DocumentRegistry
from grounddesk.knowledge.search import HybridSearcher
from grounddesk.knowledge.service import KnowledgeBase
from grounddesk.knowledge.sparse import BM25Encoder
from grounddesk.knowledge.types import Embedder, VectorStore

__all__ = ["build_embedder", "build_knowledge_base", "build_registry", "build_vector_store"]


def build_vector_store(settings: Settings) -> VectorStore:
    """The configured vector store: a Qdrant server/cluster by URL, else Qdrant embedded under the home."""
    from grounddesk.knowledge.stores import MemoryVectorStore, QdrantClientStore, QdrantEdgeStore

    q = settings.qdrant
    if q.url:
        return QdrantClientStore.from_settings(q, settings.qdrant_path)
    if q.embedded == "edge":
        return QdrantEdgeStore(settings.qdrant_path / "edge")
    if q.embedded == "local":
        return QdrantClientStore.from_settings(q, settings.qdrant_path / "local")
    if q.embedded == "memory":
        return MemoryVectorStore()
    raise ConfigurationError(f"unknown embedded Qdrant engine {q.embedded!r}", setting="qdrant.embedded")


def build_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The sentence-transformers embedder named by ``settings.embedding.model`` (loaded lazily, offline)."""
    return SentenceTransformerEmbedder(settings.embedding)


def build_registry(settings: Settings) -> DocumentRegistry:
    """The document registry on the configured SQL database, migrated to the newest schema."""
    from grounddesk.db import create_engine_for, upgrade

    settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.database_url(), echo=settings.database.echo)
    upgrade(engine)
    return DocumentRegistry(engine)


def build_knowledge_base(
    settings: Settings, *, embedder: Embedder | None = None, clock: Callable[[], float] = time.time
) -> KnowledgeBase:
    """Everything the knowledge base needs, wired together.

    Args:
        settings: The configuration.
        embedder: Reuse an already loaded embedder (evals and benchmarks build several knowledge bases).
        clock: Unix seconds now, for effective dates (tests travel in time with it).
    """
    emb = embedder or build_embedder(settings)
    registry = build_registry(settings)
    store = build_vector_store(settings)
    store.ensure_collection(emb.dimension)
    sparse = BM25Encoder()
    chunker = Chunker(
        emb.count_tokens,
        max_tokens=settings.chunking.max_tokens,
        min_tokens=settings.chunking.min_tokens,
        overlap_sentences=settings.chunking.overlap_sentences,
    )
    searcher = HybridSearcher(store, emb, sparse, registry.current_generation, settings.search, clock)
    return KnowledgeBase(registry, store, emb, chunker, sparse, searcher, settings.files_dir)
