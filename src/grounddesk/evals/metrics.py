"""Ranking metrics over binary relevance. Pure functions: each has a hand-computed unit test."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

__all__ = [
    "auroc",
    "aurc",
    "expected_calibration_error",
    "mean",
    "mrr_at_k",
    "ndcg_at_k",
    "pass_hat_k",
    "percentile",
    "precision_recall_f1",
    "recall_at_k",
    "reliability_bins",
    "risk_coverage",
    "spearman",
]


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


def precision_recall_f1(predicted: Sequence[bool], gold: Sequence[bool]) -> dict[str, float | int]:
    """Precision, recall and F1 of a yes/no decision against gold labels, with the counts behind them.

    An empty denominator gives 0 (no predicted positives: precision 0; no gold positives: recall 0).
    """
    if len(predicted) != len(gold):
        raise ValueError("predicted and gold differ in length")
    tp = sum(1 for p, g in zip(predicted, gold, strict=True) if p and g)
    fp = sum(1 for p, g in zip(predicted, gold, strict=True) if p and not g)
    fn = sum(1 for p, g in zip(predicted, gold, strict=True) if not p and g)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": len(gold) - tp - fp - fn,
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks (numpy's default).

    Raises:
        ValueError: No values, or ``q`` outside [0, 100].
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be in [0, 100]")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def pass_hat_k(successes: Sequence[int], trials: int, k: int) -> float:
    """pass^k (tau-bench): the chance that ``k`` runs of a case drawn at random all succeed, averaged over cases.

    For a case with ``c`` successes in ``trials`` runs that is ``C(c, k) / C(trials, k)``; with ``k == trials``
    it is the share of cases that succeeded every time.
    """
    if not 1 <= k <= trials:
        raise ValueError("k must be between 1 and the number of trials")
    if not successes:
        return 0.0
    return mean([math.comb(c, k) / math.comb(trials, k) for c in successes])


def reliability_bins(probs: Sequence[float], labels: Sequence[int | bool], bins: int = 10) -> list[dict[str, float]]:
    """Per equal-width bin of [0, 1]: its edges, the cases in it, their mean probability and their accuracy.

    Empty bins are left out; the bins are those of :func:`expected_calibration_error`.
    """
    if len(probs) != len(labels):
        raise ValueError("probs and labels differ in length")
    totals = [[0, 0.0, 0.0] for _ in range(bins)]
    for p, y in zip(probs, labels, strict=True):
        b = min(int(p * bins), bins - 1) if p > 0 else 0
        totals[b][0] += 1
        totals[b][1] += p
        totals[b][2] += float(bool(y))
    return [
        {"lo": i / bins, "hi": (i + 1) / bins, "count": int(n), "confidence": s_p / n, "accuracy": s_y / n}
        for i, (n, s_p, s_y) in enumerate(totals)
        if n
    ]


def risk_coverage(confidences: Sequence[float], correct: Sequence[int | bool]) -> list[tuple[float, float]]:
    """The risk-coverage curve: answering the most confident cases first, ``(coverage, risk)`` after each.

    Coverage is the share of cases answered, risk the share of the answered ones that are wrong. Cases with
    equal confidence enter together (one point per distinct confidence).
    """
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct differ in length")
    n = len(confidences)
    pairs = sorted(zip(confidences, correct, strict=True), key=lambda x: -x[0])
    points: list[tuple[float, float]] = []
    wrong = 0
    for answered, (c, ok) in enumerate(pairs, start=1):
        wrong += 0 if ok else 1
        if answered == n or pairs[answered][0] != c:
            points.append((answered / n, wrong / answered))
    return points


def aurc(confidences: Sequence[float], correct: Sequence[int | bool]) -> float:
    """Area under the risk-coverage curve (lower is better), 0 for no cases.

    The curve is a step function: each point of :func:`risk_coverage` holds its risk over the coverage it adds.
    Without ties that is the mean, over ``i = 1..n``, of the risk after answering the ``i`` most confident cases.
    """
    n = len(confidences)
    if n == 0:
        return 0.0
    points = risk_coverage(confidences, correct)
    area = 0.0
    previous = 0.0
    for coverage, risk in points:
        area += (coverage - previous) * risk
        previous = coverage
    return area


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
