from __future__ import annotations

import pytest

from grounddesk.config import SearchSettings
from grounddesk.knowledge.search import HybridSearcher
from grounddesk.knowledge.sparse import BM25Encoder, tokenize
from grounddesk.knowledge.stores import MemoryVectorStore
from grounddesk.knowledge.types import ChunkPayload, StoredHit
from grounddesk.testing.embedders import HashingEmbedder


def test_tokenize_drops_stop_words_and_stems_plurals() -> None:
    assert tokenize("The refunds are processed within 5 days") == ["refund", "process", "within", "5", "day"]
    assert tokenize("Business accounts") == ["business", "account"]


def test_bm25_document_weights_saturate_and_normalise_length() -> None:
    enc = BM25Encoder(k1=1.2, b=0.75, avgdl=4)
    once = enc.encode_document("refund card")
    many = enc.encode_document("refund refund refund refund card")
    w_once = dict(zip(once.indices, once.values, strict=True))
    w_many = dict(zip(many.indices, many.values, strict=True))
    refund = enc.encode_query("refund").indices[0]
    card = enc.encode_query("card").indices[0]
    assert w_many[refund] > w_once[refund]
    assert w_many[refund] < enc.k1 + 1  # saturation bound
    assert w_many[card] < w_once[card]  # a longer chunk dilutes each term
    q = enc.encode_query("refund refund card")
    assert dict(zip(q.indices, q.values, strict=True)) == {refund: 2.0, card: 1.0}


def _hit(chunk_id: str, score: float) -> StoredHit:
    doc, rest = chunk_id.split("@")
    return StoredHit(
        payload=ChunkPayload(
            chunk_id=chunk_id,
            doc_id=doc,
            version=1,
            ordinal=int(rest.split("#")[1]),
            title=doc,
            text=chunk_id,
            audiences=["public"],
        ),
        score=score,
    )


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    searcher = HybridSearcher(
        MemoryVectorStore(), HashingEmbedder(), BM25Encoder(), lambda: 1, SearchSettings(fusion="rrf", rrf_k=60)
    )
    dense = [_hit("a@1#0", 0.9), _hit("b@1#0", 0.8), _hit("c@1#0", 0.7)]
    sparse = [_hit("c@1#0", 12.0), _hit("a@1#0", 10.0), _hit("d@1#0", 3.0)]
    fused = searcher._fuse(dense, sparse, 4)
    assert [h.chunk_id for h in fused] == ["a@1#0", "c@1#0", "b@1#0", "d@1#0"]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert (fused[0].dense_rank, fused[0].sparse_rank) == (1, 2)
    assert fused[2].sparse_rank is None
    only_dense = searcher._fuse(dense, [], 2)
    assert [h.score for h in only_dense] == [0.9, 0.8]


def test_convex_fusion_weighs_normalised_scores() -> None:
    searcher = HybridSearcher(
        MemoryVectorStore(),
        HashingEmbedder(),
        BM25Encoder(),
        lambda: 1,
        SearchSettings(fusion="convex", dense_weight=0.5),
    )
    dense = [_hit("a@1#0", 0.8), _hit("b@1#0", 0.4)]
    sparse = [_hit("b@1#0", 10.0), _hit("c@1#0", 5.0)]
    fused = {h.chunk_id: h.score for h in searcher._fuse(dense, sparse, 3)}
    # a: dense 1.0, sparse missing -> sparse floor 0.5; b: 0.5 and 1.0; c: dense floor 0.5 and 0.5
    assert fused == pytest.approx({"a@1#0": 0.75, "b@1#0": 0.75, "c@1#0": 0.5})
    assert [h.chunk_id for h in searcher._fuse(dense, sparse, 3)] == ["a@1#0", "b@1#0", "c@1#0"]
