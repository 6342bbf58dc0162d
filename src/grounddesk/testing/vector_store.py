"""The conformance suite every :class:`~grounddesk.knowledge.types.VectorStore` must pass.

Subclass :class:`VectorStoreConformance` in a test module and provide a ``store`` fixture; every test of
the suite then runs against that implementation (the pattern of Haystack's document-store test mixins and
``langgraph-checkpoint-conformance``)::

    class TestMyStore(VectorStoreConformance):
        @pytest.fixture
        def store(self, tmp_path: Path) -> Iterator[VectorStore]:
            store = MyStore(tmp_path / "data")
            yield store
            store.close()

        @pytest.fixture
        def reopen(self, tmp_path: Path) -> Reopen:  # optional: only for stores that persist
            def _reopen(old: VectorStore) -> VectorStore:
                old.close()
                return MyStore(tmp_path / "data")

            return _reopen

Contract of the fixtures:

- ``store`` returns a fresh, empty store on which ``ensure_collection`` has **not** been called; the suite
  calls ``ensure_collection(dim)`` itself (through ``ready_store``), so it can also test the store before it.
  The fixture closes the store at teardown; ``close`` must therefore be idempotent.
- ``reopen`` returns ``None`` (the default: the store does not persist) or a function that closes a store and
  opens a new one on the same data. The persistence test is skipped when it is ``None``.

Vectors are tiny (``dim`` = 8) and hand-made, so expected rankings and scores are exact.
"""

from __future__ import annotations

import pytest

from grounddesk.knowledge.types import VectorStore
from grounddesk.testing._vector_data import DIM, Reopen
from grounddesk.testing._vector_store_filters import FiltersAndLifecycleConformance
from grounddesk.testing._vector_store_writes import WritesAndRankingConformance

__all__ = ["Reopen", "VectorStoreConformance"]


class VectorStoreConformance(WritesAndRankingConformance, FiltersAndLifecycleConformance):
    """Tests that pin down the :class:`VectorStore` contract; subclasses provide the ``store`` fixture."""

    @pytest.fixture
    def reopen(self) -> Reopen | None:
        """Override for stores that persist."""
        return None

    @pytest.fixture
    def ready_store(self, store: VectorStore) -> VectorStore:
        """The fresh store with its collection created."""
        store.ensure_collection(DIM)
        return store
