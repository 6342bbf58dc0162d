"""BM25-style sparse vectors.

Documents carry BM25's saturated term frequency ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``;
queries carry term counts; the vector store multiplies by inverse document frequency at query time
(Qdrant's ``Modifier.IDF``), so the dot product is the BM25 score and stays right as documents come and go.
Terms are lower-cased word tokens with English stop words removed and a light suffix stemmer, hashed to
31-bit ids.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

from grounddesk.knowledge.types import SparseVector

__all__ = ["BM25Encoder", "tokenize"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

_STOP_WORDS_TEXT = """
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself yourselves s t
d ll m re ve y let us also may might must shall
"""
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def _stem(word: str) -> str:
    """A light English stemmer: plural and common verb endings, never below three letters."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) + len(replacement) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: len(word) - len(suffix)] + replacement
    return word


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``: lower-cased words, stop words dropped, lightly stemmed."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS]


def _term_id(term: str) -> int:
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


class BM25Encoder:
    """Encodes documents and queries as sparse vectors whose IDF-weighted dot product is BM25.

    Args:
        k1: Term-frequency saturation.
        b: Length normalisation.
        avgdl: The expected document length in terms (chunks are sized by the chunker, so a constant is
            close to the running mean and keeps stored weights independent of later imports).
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, avgdl: float = 80.0) -> None:
        self.k1 = k1
        self.b = b
        self.avgdl = avgdl

    def encode_document(self, text: str) -> SparseVector:
        """BM25 term-frequency weights of one chunk."""
        terms = tokenize(text)
        counts = Counter(_term_id(t) for t in terms)
        norm = self.k1 * (1.0 - self.b + self.b * len(terms) / self.avgdl)
        indices = sorted(counts)
        values = [counts[i] * (self.k1 + 1.0) / (counts[i] + norm) for i in indices]
        return SparseVector(indices=indices, values=values)

    def encode_query(self, text: str) -> SparseVector:
        """Term counts of a query (IDF is applied by the store)."""
        counts = Counter(_term_id(t) for t in tokenize(text))
        indices = sorted(counts)
        return SparseVector(indices=indices, values=[float(counts[i]) for i in indices])
