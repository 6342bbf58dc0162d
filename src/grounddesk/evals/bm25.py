"""A plain BM25 baseline (k1 = 1.2, b = 0.75, lower-cased alphanumeric tokens), as in the data README."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["PlainBM25"]

_TOKEN = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class PlainBM25:
    """Okapi BM25 over whole documents, the baseline every retrieval eval reports beside our figures.

    Args:
        ids: Document ids.
        texts: Their texts, in the same order.
    """

    def __init__(self, ids: Sequence[str], texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = list(ids)
        self.k1, self.b = k1, b
        self._tf = [Counter(_tokens(t)) for t in texts]
        self._len = [sum(tf.values()) for tf in self._tf]
        self._avgdl = (sum(self._len) / len(self._len)) if self._len else 1.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = len(self._tf)
        self._idf = {t: math.log(1.0 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._postings: dict[str, list[int]] = {}
        for i, tf in enumerate(self._tf):
            for t in tf:
                self._postings.setdefault(t, []).append(i)

    def rank(self, query: str, k: int = 10) -> list[str]:
        """The ids of the ``k`` best documents for ``query``, best first."""
        scores: dict[int, float] = {}
        for term in set(_tokens(query)):
            idf = self._idf.get(term)
            if idf is None:
                continue
            for i in self._postings[term]:
                tf = self._tf[i][term]
                norm = self.k1 * (1 - self.b + self.b * self._len[i] / self._avgdl)
                scores[i] = scores.get(i, 0.0) + idf * tf * (self.k1 + 1) / (tf + norm)
        best = sorted(scores.items(), key=lambda kv: (-kv[1], self.ids[kv[0]]))[:k]
        return [self.ids[i] for i, _ in best]
