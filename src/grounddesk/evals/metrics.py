"""Ranking metrics over binary relevance. Pure functions: each has a hand-computed unit test."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

__all__ = ["auroc", "expected_calibration_error", "mean", "mrr_at_k", "ndcg_at_k", "recall_at_k", "spearman"]


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant items found in the first ``k`` results (0 when nothing is relevant)."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(set(relevant))


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` with binary gains."""
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), k)))
    return dcg / ideal


def mrr_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Reciprocal rank of the first relevant result within ``k`` (0 when none)."""
    rel = set(relevant)
    for i, item in enumerate(ranked[:k]):
        if item in rel:
            return 1.0 / (i + 1)
    return 0.0


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (0 for no values)."""
    return sum(values) / len(values) if values else 0.0


def auroc(scores: Sequence[float], labels: Sequence[int | bool]) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative (ties: half).

    Returns 0.5 when either class is empty (no ranking to judge).
    """
    if len(scores) != len(labels):
        raise ValueError("scores and labels differ in length")
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return 0.5
    # Rank-sum (Mann-Whitney U) with average ranks for ties: O(n log n).
    ranks = _average_ranks([*pos, *neg])
    rank_sum = sum(ranks[: len(pos)])
    u = rank_sum - len(pos) * (len(pos) + 1) / 2
    return u / (len(pos) * len(neg))


def expected_calibration_error(probs: Sequence[float], labels: Sequence[int | bool], bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width bins of [0, 1].

    Each bin contributes ``|mean(prob) - mean(label)|`` weighted by its share of the cases; a probability of
    exactly 1.0 falls in the last bin. Returns 0 for no cases.
    """
    if len(probs) != len(labels):
        raise ValueError("probs and labels differ in length")
    if not probs:
        return 0.0
    totals = [[0, 0.0, 0.0] for _ in range(bins)]
    for p, y in zip(probs, labels, strict=True):
        b = min(int(p * bins), bins - 1) if p > 0 else 0
        totals[b][0] += 1
        totals[b][1] += p
        totals[b][2] += float(bool(y))
    n = len(probs)
    return sum(abs(s_p - s_y) / n for count, s_p, s_y in totals if count)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks); 0 when either side is constant."""
    if len(x) != len(y):
        raise ValueError("x and y differ in length")
    if len(x) < 2:
        return 0.0
    rx, ry = _average_ranks(x), _average_ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else 0.0


def _average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, tied values sharing the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks
