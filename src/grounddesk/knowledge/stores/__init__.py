"""Implementations of :class:`~grounddesk.knowledge.types.VectorStore`.

- :class:`MemoryVectorStore`: the exact, non-persistent reference.
- :class:`QdrantEdgeStore`: Qdrant's engine in-process (the embedded default).
- :class:`QdrantClientStore`: a Qdrant server or cluster, or qdrant-client's local mode.
"""

from grounddesk.knowledge.stores.memory import MemoryVectorStore
from grounddesk.knowledge.stores.qdrant_client_store import QdrantClientStore
from grounddesk.knowledge.stores.qdrant_edge import QdrantEdgeStore

__all__ = ["MemoryVectorStore", "QdrantClientStore", "QdrantEdgeStore"]
