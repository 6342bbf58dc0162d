"""Conformance tests of search filters and of the chunk lifecycle (mixed into ``VectorStoreConformance``)."""

from __future__ import annotations

import threading

import pytest

from grounddesk.knowledge.types import NEVER, ChunkPoint, MetadataValue, SparseVector, VectorStore
from grounddesk.testing._vector_data import (
    DIM,
    GENERATION,
    NOW,
    Reopen,
    axis,
    chunk_ids,
    make_point,
    mix,
    search_filter,
    visible_ids,
)

__all__ = ["FiltersAndLifecycleConformance"]


class FiltersAndLifecycleConformance:
    """What a search filter lets through, and visibility changes, deletes, listing and persistence."""

    # -- filters ---------------------------------------------------------------------------------------------

    def test_generation_window_is_half_open(self, ready_store: VectorStore) -> None:
        """A chunk is seen by generations ``visible_from <= G < visible_until``; drafts by none."""
        ready_store.upsert(
            [
                make_point(version=1, visible_from=1, visible_until=3),
                make_point(version=2, visible_from=3, visible_until=NEVER),
                make_point(version=3, visible_from=NEVER, visible_until=NEVER),  # a draft
            ]
        )
        expected = {0: set(), 1: {"doc@1#0"}, 2: {"doc@1#0"}, 3: {"doc@2#0"}, 10**9: {"doc@2#0"}}
        assert {g: visible_ids(ready_store, generation=g) for g in expected} == expected

    def test_effective_window_is_half_open(self, ready_store: VectorStore) -> None:
        """A chunk is seen while ``effective_from <= now < effective_until``."""
        ready_store.upsert([make_point(effective_from=NOW, effective_until=NOW + 100)])
        seen = {now: bool(visible_ids(ready_store, now=now)) for now in (NOW - 1, NOW, NOW + 99, NOW + 100)}
        assert seen == {NOW - 1: False, NOW: True, NOW + 99: True, NOW + 100: False}

    def test_audiences_must_intersect(self, ready_store: VectorStore) -> None:
        """A chunk is seen only by searches sharing one of its audiences."""
        ready_store.upsert(
            [
                make_point("internal", audiences=["internal"]),
                make_point("public", audiences=["public"]),
                make_point("both", audiences=["public", "internal"]),
            ]
        )
        assert visible_ids(ready_store, audiences=["public"]) == {"public@1#0", "both@1#0"}
        assert visible_ids(ready_store, audiences=["internal"]) == {"internal@1#0", "both@1#0"}
        assert visible_ids(ready_store, audiences=["partner", "public"]) == {"public@1#0", "both@1#0"}
        assert visible_ids(ready_store, audiences=["partner"]) == set()

    def test_metadata_scalars_mean_equality(self, ready_store: VectorStore) -> None:
        """A scalar metadata condition means equality; several conditions must all hold."""
        metas: list[dict[str, MetadataValue]] = [
            {"lang": "en", "tier": 1, "beta": True},
            {"lang": "de", "tier": 2, "beta": False},
            {"lang": "en", "tier": 2},
        ]
        ready_store.upsert([make_point(f"d{i}", metadata=m) for i, m in enumerate(metas)])
        assert visible_ids(ready_store, metadata={"lang": "en"}) == {"d0@1#0", "d2@1#0"}
        assert visible_ids(ready_store, metadata={"tier": 2}) == {"d1@1#0", "d2@1#0"}
        assert visible_ids(ready_store, metadata={"lang": "en", "tier": 2}) == {"d2@1#0"}
        assert visible_ids(ready_store, metadata={"beta": True}) == {"d0@1#0"}
        assert visible_ids(ready_store, metadata={"beta": False}) == {"d1@1#0"}
        assert visible_ids(ready_store, metadata={"lang": "fr"}) == set()

    def test_metadata_values_are_typed(self, ready_store: VectorStore) -> None:
        """``True``, ``1`` and ``"1"`` are different metadata values."""
        ready_store.upsert([make_point("flag", metadata={"x": True}), make_point("one", metadata={"x": 1})])
        assert visible_ids(ready_store, metadata={"x": 1}) == {"one@1#0"}
        assert visible_ids(ready_store, metadata={"x": True}) == {"flag@1#0"}
        assert visible_ids(ready_store, metadata={"x": "1"}) == set()

    def test_metadata_lists_mean_any_of(self, ready_store: VectorStore) -> None:
        """A list metadata condition means any of; an empty list matches nothing."""
        metas: list[dict[str, MetadataValue]] = [{"lang": "en", "tier": 1}, {"lang": "de", "tier": 2}, {"lang": "fr"}]
        ready_store.upsert([make_point(f"d{i}", metadata=m) for i, m in enumerate(metas)])
        assert visible_ids(ready_store, metadata={"lang": ["en", "de"]}) == {"d0@1#0", "d1@1#0"}
        assert visible_ids(ready_store, metadata={"tier": [2, 3]}) == {"d1@1#0"}
        assert visible_ids(ready_store, metadata={"lang": []}) == set()

    def test_metadata_list_values_match_any_element(self, ready_store: VectorStore) -> None:
        """A list-valued metadata field matches when any element does."""
        ready_store.upsert([make_point("tagged", metadata={"tags": ["billing", "eu"]}), make_point("bare")])
        assert visible_ids(ready_store, metadata={"tags": "eu"}) == {"tagged@1#0"}
        assert visible_ids(ready_store, metadata={"tags": ["us", "billing"]}) == {"tagged@1#0"}
        assert visible_ids(ready_store, metadata={"tags": "us"}) == set()

    def test_doc_ids_restrict_the_search(self, ready_store: VectorStore) -> None:
        """``doc_ids`` limits the search to those documents; an empty list finds nothing."""
        ready_store.upsert([make_point("a"), make_point("b"), make_point("c")])
        assert visible_ids(ready_store, doc_ids=None) == {"a@1#0", "b@1#0", "c@1#0"}
        assert visible_ids(ready_store, doc_ids=["a", "c", "zzz"]) == {"a@1#0", "c@1#0"}
        assert visible_ids(ready_store, doc_ids=[]) == set()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def test_set_visibility_returns_the_count_and_changes_results(self, ready_store: VectorStore) -> None:
        """Approving a version moves both windows; the return value counts the version's chunks."""
        ready_store.upsert([make_point(version=1, ordinal=i, visible_from=1) for i in range(3)])
        ready_store.upsert([make_point(version=2, ordinal=i, visible_from=NEVER) for i in range(2)])  # a draft
        assert visible_ids(ready_store) == {"doc@1#0", "doc@1#1", "doc@1#2"}
        assert ready_store.set_visibility("doc", 2, visible_from=GENERATION) == 2
        assert ready_store.set_visibility("doc", 1, visible_until=GENERATION) == 3
        assert visible_ids(ready_store) == {"doc@2#0", "doc@2#1"}
        assert visible_ids(ready_store, generation=GENERATION - 1) == {"doc@1#0", "doc@1#1", "doc@1#2"}
        assert ready_store.set_visibility("doc", 9, visible_from=1) == 0
        assert ready_store.set_visibility("nope", 1, visible_from=1) == 0

    def test_set_visibility_leaves_the_other_bound_alone(self, ready_store: VectorStore) -> None:
        """A bound passed as ``None`` keeps its stored value."""
        ready_store.upsert([make_point(visible_from=2, visible_until=8)])
        ready_store.set_visibility("doc", 1, visible_until=6)
        (chunk,) = ready_store.chunks("doc")
        assert (chunk.visible_from, chunk.visible_until) == (2, 6)
        ready_store.set_visibility("doc", 1, visible_from=4)
        (chunk,) = ready_store.chunks("doc")
        assert (chunk.visible_from, chunk.visible_until) == (4, 6)

    def test_delete_one_version(self, ready_store: VectorStore) -> None:
        """Deleting a version erases exactly its chunks and returns how many."""
        ready_store.upsert([make_point(version=v, ordinal=i) for v in (1, 2) for i in range(2)] + [make_point("other")])
        assert ready_store.delete("doc", 1) == 2
        assert [c.chunk_id for c in ready_store.chunks("doc")] == ["doc@2#0", "doc@2#1"]
        assert ready_store.count() == 3
        assert ready_store.delete("doc", 1) == 0

    def test_delete_every_version(self, ready_store: VectorStore) -> None:
        """Deleting without a version erases the whole document, nothing else."""
        ready_store.upsert([make_point(version=v, ordinal=i) for v in (1, 2) for i in range(2)] + [make_point("other")])
        assert ready_store.delete("doc") == 4
        assert ready_store.chunks("doc") == []
        assert [c.chunk_id for c in ready_store.chunks("other")] == ["other@1#0"]
        assert visible_ids(ready_store) == {"other@1#0"}

    def test_purge_hidden_erases_what_no_generation_from_now_on_sees(self, ready_store: VectorStore) -> None:
        """``purge_hidden(G)`` erases chunks with ``visible_until <= G`` and keeps drafts."""
        ready_store.upsert(
            [
                make_point("old", visible_from=1, visible_until=3),
                make_point("edge", visible_from=1, visible_until=GENERATION),
                make_point("current", visible_from=3),
                make_point("later", visible_from=1, visible_until=GENERATION + 1),
                make_point("draft", visible_from=NEVER),
            ]
        )
        assert ready_store.purge_hidden(GENERATION) == 2
        assert ready_store.count() == 3
        assert ready_store.chunks("old") == [] and ready_store.chunks("edge") == []
        assert [c.doc_id for c in ready_store.chunks("draft")] == ["draft"]

    def test_chunks_are_ordered_by_version_then_ordinal(self, ready_store: VectorStore) -> None:
        """``chunks`` lists a document's chunks by version, then ordinal."""
        order = [(2, 1), (1, 10), (2, 0), (1, 2), (1, 0)]
        ready_store.upsert([make_point(version=v, ordinal=o) for v, o in order] + [make_point("other")])
        assert [(c.version, c.ordinal) for c in ready_store.chunks("doc")] == sorted(order)
        assert [c.ordinal for c in ready_store.chunks("doc", 1)] == [0, 2, 10]
        assert ready_store.chunks("doc", 3) == []
        assert ready_store.chunks("missing") == []

    def test_count_includes_invisible_chunks(self, ready_store: VectorStore) -> None:
        """``count`` counts every stored chunk, visible or not."""
        ready_store.upsert([make_point(ordinal=i, visible_from=NEVER) for i in range(4)] + [make_point("x")])
        assert ready_store.count() == 5

    def test_payload_round_trips_exactly(self, ready_store: VectorStore) -> None:
        """Payloads come back equal, with the same metadata types and unicode intact."""
        metadata: dict[str, MetadataValue] = {
            "source": "faq.md",
            "priority": 3,
            "weight": 2.5,
            "whole": 2.0,
            "pinned": True,
            "off": False,
            "tags": ["Rückgabe", "配送"],
            "none": [],
        }
        point = make_point(
            text="Lieferzeit 🚚 — 3–5 Werktage.\n\n« Zoll » inklusive; 配送は無料です。",
            heading_path=["Über uns", "Versand & Zoll"],
            metadata=metadata,
            effective_from=NOW,
            visible_from=NEVER,
        )
        ready_store.upsert([point])
        (stored,) = ready_store.chunks("doc")
        assert stored == point.payload
        assert {k: type(v) for k, v in stored.metadata.items()} == {k: type(v) for k, v in metadata.items()}
        ready_store.set_visibility("doc", 1, visible_from=1)
        (hit,) = ready_store.search_dense(axis(0), search_filter(now=NOW), 5)
        assert hit.payload == point.payload.model_copy(update={"visible_from": 1})

    def test_concurrent_writes_and_reads(self, ready_store: VectorStore) -> None:
        """Writes and searches from several threads neither fail nor lose points."""
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for i in range(10):
                    ready_store.upsert([make_point(f"w{worker}", ordinal=i, dense=mix(i * 5))])
                    ready_store.search_dense(axis(0), search_filter(), 3)
            except BaseException as exc:  # collected and re-raised by the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert ready_store.count() == 40

    def test_data_survives_close_and_reopen(self, ready_store: VectorStore, reopen: Reopen | None) -> None:
        """A persistent store keeps points, windows and both indexes across close and reopen."""
        if reopen is None:
            pytest.skip("this store does not persist")
        points: list[ChunkPoint] = [make_point(ordinal=i, dense=mix(i * 20), terms={i: 1.0}) for i in range(3)]
        ready_store.upsert(points)
        ready_store.set_visibility("doc", 1, visible_until=GENERATION)
        reopened = reopen(ready_store)
        try:
            assert reopened.count() == 3
            assert reopened.chunks("doc") == [
                p.payload.model_copy(update={"visible_until": GENERATION}) for p in points
            ]
            assert visible_ids(reopened, generation=GENERATION - 1) == {"doc@1#0", "doc@1#1", "doc@1#2"}
            reopened.ensure_collection(DIM)
            assert reopened.count() == 3
            sparse = reopened.search_sparse(
                SparseVector(indices=[2], values=[1.0]), search_filter(generation=GENERATION - 1), 5
            )
            assert chunk_ids(sparse) == ["doc@1#2"]
            reopened.upsert([make_point("new")])
            assert visible_ids(reopened) == {"new@1#0"}
        finally:
            reopened.close()
