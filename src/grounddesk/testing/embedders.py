"""A deterministic embedder for tests: hashed bag of words, so similar texts get similar vectors."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class HashingEmbedder:
    """An :class:`~grounddesk.knowledge.types.Embedder` with no model: words hashed into a fixed-size vector.

    Texts that share words are close in cosine; it needs no files and runs in microseconds, so knowledge-base
    behaviour (workflow, filters, atomicity) is tested fast. Retrieval quality is measured with the real model.
    """

    def __init__(self, dimension: int = 64) -> None:
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        """Vector length."""
        return self._dimension

    def _embed(self, text: str) -> list[float]:
        vec = np.zeros(self._dimension, dtype=np.float64)
        for word in _WORD.findall(text.lower()):
            h = zlib.crc32(word.encode("utf-8"))
            vec[h % self._dimension] += 1.0 if (h >> 16) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0], norm = 1.0, 1.0
        return [float(x) for x in vec / norm]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed each text."""
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """Embed a query."""
        return self._embed(text)

    def count_tokens(self, text: str) -> int:
        """Words and punctuation marks, a stand-in for word pieces."""
        return len(re.findall(r"\w+|[^\w\s]", text))
