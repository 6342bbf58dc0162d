"""The traced query path gives the vectors sentence-transformers gives, short or past the model's window."""

from __future__ import annotations

import numpy as np
import pytest

from grounddesk.config import EmbeddingSettings
from grounddesk.knowledge.embeddings import SentenceTransformerEmbedder

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(EmbeddingSettings())


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "How long do I have to return a jacket bought online?",
        "refund " * 400,  # far past the 256 word pieces the model reads: truncated the same way
    ],
)
def test_traced_query_vectors_match_sentence_transformers(embedder: SentenceTransformerEmbedder, text: str) -> None:
    traced = np.asarray(embedder.embed_query(text))
    assert embedder._traced_query_model() is not None  # the fast path is the one under test
    reference = embedder._load().encode([text], normalize_embeddings=True, show_progress_bar=False)[0]
    assert traced.shape == (384,)
    assert float(np.abs(traced - reference).max()) < 1e-5
    assert float(np.linalg.norm(traced)) == pytest.approx(1.0, abs=1e-5)


def test_document_and_query_paths_agree(embedder: SentenceTransformerEmbedder) -> None:
    text = "Standard shipping to Canada takes 4 to 8 business days."
    assert np.allclose(embedder.embed_documents([text])[0], embedder.embed_query(text), atol=1e-5)
