"""Conformance tests of collection creation, writes and ranking (mixed into ``VectorStoreConformance``)."""

from __future__ import annotations

import math

import pytest

from grounddesk.errors import ConfigurationError, VectorStoreError
from grounddesk.knowledge.types import NEVER, SparseVector, VectorStore
from grounddesk.testing._vector_data import (
    DIM,
    GENERATION,
    axis,
    chunk_ids,
    idf,
    make_point,
    mix,
    search_filter,
)

__all__ = ["WritesAndRankingConformance"]


class WritesAndRankingConformance:
    """The collection, upserts, and the order and scores of dense and sparse hits."""

    # -- collection and writes -------------------------------------------------------------------------------

    def test_satisfies_the_protocol(self, store: VectorStore) -> None:
        """The store is a runtime-checkable ``VectorStore``."""
        assert isinstance(store, VectorStore)

    def test_a_store_without_collection_reads_as_empty(self, store: VectorStore) -> None:
        """Before ``ensure_collection`` reads find nothing and bulk changes touch nothing."""
        assert store.count() == 0
        assert store.search_dense(axis(0), search_filter(), 5) == []
        assert store.search_sparse(SparseVector(indices=[1], values=[1.0]), search_filter(), 5) == []
        assert store.chunks("doc") == []
        assert store.set_visibility("doc", 1, visible_from=1) == 0
        assert store.delete("doc") == 0
        assert store.purge_hidden(GENERATION) == 0

    def test_upsert_before_ensure_collection_raises(self, store: VectorStore) -> None:
        """Writing before the collection exists is an error, not a silent drop."""
        with pytest.raises(VectorStoreError):
            store.upsert([make_point()])

    def test_ensure_collection_is_idempotent(self, ready_store: VectorStore) -> None:
        """A second ``ensure_collection`` keeps the data."""
        ready_store.upsert([make_point()])
        ready_store.ensure_collection(DIM)
        assert ready_store.count() == 1
        assert chunk_ids(ready_store.search_dense(axis(0), search_filter(), 5)) == ["doc@1#0"]

    def test_ensure_collection_rejects_another_dimension(self, ready_store: VectorStore) -> None:
        """A collection of another dimension is a configuration error."""
        with pytest.raises(ConfigurationError):
            ready_store.ensure_collection(DIM * 2)

    def test_upsert_of_wrong_dimension_raises(self, ready_store: VectorStore) -> None:
        """A vector of the wrong length is rejected."""
        with pytest.raises(VectorStoreError):
            ready_store.upsert([make_point(dense=[1.0] * (DIM + 1))])

    def test_empty_upsert_is_a_no_op(self, ready_store: VectorStore) -> None:
        """Upserting nothing changes nothing."""
        ready_store.upsert([])
        assert ready_store.count() == 0

    def test_upserted_point_is_found_by_dense_and_sparse_search(self, ready_store: VectorStore) -> None:
        """A write is searchable at once, densely and sparsely."""
        ready_store.upsert([make_point(dense=axis(2), terms={7: 1.0})])
        dense = ready_store.search_dense(axis(2), search_filter(), 5)
        sparse = ready_store.search_sparse(SparseVector(indices=[7], values=[1.0]), search_filter(), 5)
        assert chunk_ids(dense) == ["doc@1#0"]
        assert dense[0].score == pytest.approx(1.0, abs=1e-5)
        assert chunk_ids(sparse) == ["doc@1#0"]
        assert sparse[0].score > 0

    def test_upsert_of_the_same_id_replaces(self, ready_store: VectorStore) -> None:
        """Points are keyed by ``doc_id@version#ordinal``: a rewrite replaces text and vectors."""
        ready_store.upsert([make_point(text="old", dense=axis(0))])
        ready_store.upsert([make_point(text="new", dense=axis(1))])
        assert ready_store.count() == 1
        assert [c.text for c in ready_store.chunks("doc")] == ["new"]
        assert chunk_ids(ready_store.search_dense(axis(0), search_filter(), 5)) == ["doc@1#0"]
        assert ready_store.search_dense(axis(1), search_filter(), 5)[0].score == pytest.approx(1.0, abs=1e-5)

    # -- ranking ---------------------------------------------------------------------------------------------

    def test_dense_results_are_best_first_and_respect_limit(self, ready_store: VectorStore) -> None:
        """Dense hits come best first, at most ``limit`` of them, scored by cosine."""
        angles = [40, 10, 70, 0, 25]  # degrees away from axis 0
        ready_store.upsert([make_point(ordinal=i, dense=mix(a)) for i, a in enumerate(angles)])
        hits = ready_store.search_dense(axis(0), search_filter(), 3)
        assert chunk_ids(hits) == ["doc@1#3", "doc@1#1", "doc@1#4"]
        assert [h.score for h in hits] == pytest.approx([math.cos(math.radians(a)) for a in (0, 10, 25)], abs=1e-4)

    def test_dense_score_is_cosine_similarity_whatever_the_norm(self, ready_store: VectorStore) -> None:
        """Stored and query vectors are compared by angle, not length."""
        ready_store.upsert([make_point(dense=[3.0, 3.0] + [0.0] * (DIM - 2))])
        hit = ready_store.search_dense([0.5] + [0.0] * (DIM - 1), search_filter(), 1)[0]
        assert hit.score == pytest.approx(math.sqrt(0.5), abs=1e-4)

    def test_filtered_search_skips_the_nearest_chunk_when_it_does_not_match(self, ready_store: VectorStore) -> None:
        """Filtering happens before the limit: a filtered-out nearest chunk does not empty the result."""
        ready_store.upsert(
            [
                make_point("secret", dense=axis(0), audiences=["internal"]),
                make_point("open", dense=mix(30)),
            ]
        )
        assert chunk_ids(ready_store.search_dense(axis(0), search_filter(), 5)) == ["open@1#0"]

    def test_sparse_rare_term_outranks_common_term(self, ready_store: VectorStore) -> None:
        """IDF weighting: a rare shared term scores above a common one."""
        common = [make_point(f"common{i}", terms={1: 1.0}) for i in range(6)]
        ready_store.upsert([*common, make_point("rare", terms={2: 1.0})])
        hits = ready_store.search_sparse(SparseVector(indices=[1, 2], values=[1.0, 1.0]), search_filter(), 3)
        assert chunk_ids(hits)[0] == "rare@1#0"
        assert hits[0].score > hits[1].score
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    def test_sparse_score_uses_qdrant_idf_over_chunks_with_a_sparse_vector(self, ready_store: VectorStore) -> None:
        """Sparse score = sum of idf * query weight * chunk weight, IDF over every chunk with terms."""
        ready_store.upsert(
            [
                make_point("a", terms={1: 2.0}),
                make_point("b", terms={1: 1.0, 2: 1.0}),
                make_point("c", terms={3: 1.0}),
                make_point("hidden", terms={3: 1.0}, visible_from=NEVER),  # invisible, still in the corpus
                make_point("blank1", terms={}),  # empty sparse vectors are not part of the corpus
                make_point("blank2", terms={}),
            ]
        )
        hits = ready_store.search_sparse(SparseVector(indices=[1, 2], values=[1.0, 2.0]), search_filter(), 5)
        n = 4  # a, b, c, hidden
        expected = {"b@1#0": idf(n, 2) * 1.0 + idf(n, 1) * 2.0, "a@1#0": idf(n, 2) * 2.0}
        assert chunk_ids(hits) == ["b@1#0", "a@1#0"]
        assert [h.score for h in hits] == pytest.approx(list(expected.values()), rel=1e-4)

    def test_sparse_search_returns_only_chunks_sharing_a_term(self, ready_store: VectorStore) -> None:
        """A chunk with no query term is not a sparse hit."""
        ready_store.upsert([make_point("a", terms={1: 1.0}), make_point("b", terms={2: 1.0})])
        hits = ready_store.search_sparse(SparseVector(indices=[2, 9], values=[1.0, 1.0]), search_filter(), 5)
        assert chunk_ids(hits) == ["b@1#0"]
        assert ready_store.search_sparse(SparseVector(indices=[9], values=[1.0]), search_filter(), 5) == []

    def test_sparse_search_applies_the_filter(self, ready_store: VectorStore) -> None:
        """The search filter applies to sparse search too."""
        ready_store.upsert(
            [make_point("secret", terms={4: 1.0}, audiences=["internal"]), make_point("open", terms={4: 1.0})]
        )
        hits = ready_store.search_sparse(SparseVector(indices=[4], values=[1.0]), search_filter(), 5)
        assert chunk_ids(hits) == ["open@1#0"]
