"""Knowledge base: documents, versions, approval, loaders, chunking, embeddings, Qdrant storage, hybrid search."""

from grounddesk.knowledge.chunking import Chunk, Chunker, split_sentences, wordpiece_counter
from grounddesk.knowledge.embeddings import SentenceTransformerEmbedder
from grounddesk.knowledge.loaders import (
    SUPPORTED_SUFFIXES,
    LoadFailure,
    LoadResult,
    content_hash,
    load_bytes,
    load_path,
    load_paths,
)
from grounddesk.knowledge.registry import DocumentRegistry
from grounddesk.knowledge.retriever import GrounddeskRetriever
from grounddesk.knowledge.search import Hit, HybridSearcher, SearchMode, SearchResult
from grounddesk.knowledge.service import DeleteResult, ImportReport, KnowledgeBase
from grounddesk.knowledge.sparse import BM25Encoder
from grounddesk.knowledge.types import (
    ChunkPayload,
    ChunkPoint,
    DocumentStatus,
    Embedder,
    LoadedDocument,
    SearchFilter,
    SparseVector,
    StoredHit,
    VectorStore,
)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "BM25Encoder",
    "Chunk",
    "ChunkPayload",
    "ChunkPoint",
    "Chunker",
    "DeleteResult",
    "DocumentRegistry",
    "DocumentStatus",
    "Embedder",
    "GrounddeskRetriever",
    "Hit",
    "HybridSearcher",
    "ImportReport",
    "KnowledgeBase",
    "LoadFailure",
    "LoadResult",
    "LoadedDocument",
    "SearchFilter",
    "SearchMode",
    "SearchResult",
    "SentenceTransformerEmbedder",
    "SparseVector",
    "StoredHit",
    "VectorStore",
    "content_hash",
    "load_bytes",
    "load_path",
    "load_paths",
    "split_sentences",
    "wordpiece_counter",
]
