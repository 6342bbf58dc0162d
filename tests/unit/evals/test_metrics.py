"""Every metric on a tiny case whose right value is worked out by hand."""

from __future__ import annotations

import math

import pytest

from grounddesk.evals.bm25 import PlainBM25
from grounddesk.evals.datasets import RetrievalQuery
from grounddesk.evals.metrics import mean, mrr_at_k, ndcg_at_k, recall_at_k
from grounddesk.evals.retrieval import score_rankings


def test_recall_at_k() -> None:
    assert recall_at_k(["a", "x", "b", "y"], {"a", "b", "c", "d"}, 2) == 0.25
    assert recall_at_k(["a", "x", "b", "y"], {"a", "b", "c", "d"}, 4) == 0.5
    assert recall_at_k(["a"], set(), 5) == 0.0


def test_ndcg_at_k() -> None:
    # relevant at ranks 1 and 3 of 2 relevant: DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3)
    assert ndcg_at_k(["a", "x", "b"], {"a", "b"}, 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], {"a"}, 10) == 0.0
    # only the first k count
    assert ndcg_at_k(["x", "a"], {"a"}, 1) == 0.0


def test_mrr_at_k() -> None:
    assert mrr_at_k(["x", "y", "a"], {"a"}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], {"a"}, 2) == 0.0
    assert mrr_at_k(["a"], {"a"}, 10) == 1.0


def test_mean_and_score_rankings() -> None:
    assert mean([]) == 0.0
    queries = [RetrievalQuery(id="1", text="q", relevant=["a"]), RetrievalQuery(id="2", text="q", relevant=["b"])]
    scores = score_rankings([["a"], ["x", "b"]], queries)
    assert scores["mrr@10"] == pytest.approx(0.75)
    assert scores["recall@5"] == 1.0


def test_plain_bm25_ranks_by_rare_terms() -> None:
    bm25 = PlainBM25(
        ["d1", "d2", "d3"],
        ["the card fee is waived", "the card is blue", "wire transfer limits for business accounts"],
    )
    assert bm25.rank("card fee", 3)[0] == "d1"
    assert bm25.rank("wire transfer", 3) == ["d3"]
    assert bm25.rank("nothing matches", 3) == []
