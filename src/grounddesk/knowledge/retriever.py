"""grounddesk's hybrid search as a langchain-core retriever, so it composes with the LangChain ecosystem."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from grounddesk.knowledge.search import HybridSearcher, SearchMode

__all__ = ["GrounddeskRetriever"]


class GrounddeskRetriever(BaseRetriever):
    """A LangChain retriever over approved knowledge, filtered by the caller's audiences.

    Each returned ``Document`` has the chunk text as ``page_content`` and ``doc_id``, ``version``,
    ``citation`` (``doc_id@version``), ``title``, ``heading_path``, ``chunk_id`` and the scores in metadata.

    Example:
        >>> retriever = GrounddeskRetriever(searcher=kb.searcher, audiences=["public"], top_k=4)
        >>> retriever.invoke("how long do refunds take?")[0].metadata["citation"]
        'refunds@2'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: HybridSearcher
    audiences: list[str] = Field(default_factory=lambda: ["public"])
    top_k: int = 5
    mode: SearchMode = "hybrid"

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        result = self.searcher.search(
            query,
            audiences=kwargs.get("audiences", self.audiences),
            top_k=kwargs.get("top_k", self.top_k),
            mode=kwargs.get("mode", self.mode),
        )
        return [
            Document(
                page_content=hit.text,
                id=hit.chunk_id,
                metadata={
                    "doc_id": hit.doc_id,
                    "version": hit.version,
                    "citation": hit.citation,
                    "title": hit.title,
                    "heading_path": hit.heading_path,
                    "chunk_id": hit.chunk_id,
                    "score": hit.score,
                    "dense_score": hit.dense_score,
                    "sparse_score": hit.sparse_score,
                },
            )
            for hit in result.hits
        ]
