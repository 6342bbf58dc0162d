"""Every VectorStore implementation runs the same conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from qdrant_client import QdrantClient

from grounddesk.config import QdrantSettings
from grounddesk.errors import ConfigurationError
from grounddesk.knowledge.stores import MemoryVectorStore, QdrantClientStore, QdrantEdgeStore
from grounddesk.knowledge.types import SparseVector, VectorStore
from grounddesk.testing import Reopen, VectorStoreConformance
from grounddesk.testing._vector_data import axis, make_point, search_filter


class TestMemoryVectorStore(VectorStoreConformance):
    @pytest.fixture
    def store(self) -> Iterator[VectorStore]:
        store = MemoryVectorStore()
        yield store
        store.close()


class TestQdrantEdgeStore(VectorStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[VectorStore]:
        store = QdrantEdgeStore(tmp_path / "edge")
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Reopen:
        def _reopen(old: VectorStore) -> VectorStore:
            old.close()
            return QdrantEdgeStore(tmp_path / "edge")

        return _reopen


class TestQdrantClientStoreLocal(VectorStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[VectorStore]:
        store = QdrantClientStore.open(tmp_path / "local")
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Reopen:
        def _reopen(old: VectorStore) -> VectorStore:
            old.close()
            return QdrantClientStore.open(tmp_path / "local")

        return _reopen


class _RecordingClient(QdrantClient):
    """A local-mode client that remembers the collection options and payload indexes it was asked for."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.created: list[dict[str, Any]] = []
        self.indexed: list[str] = []

    def create_collection(self, *args: Any, **kwargs: Any) -> bool:
        self.created.append(kwargs)
        return super().create_collection(*args, **kwargs)

    def create_payload_index(self, *args: Any, **kwargs: Any) -> Any:
        self.indexed.append(args[1])
        return super().create_payload_index(*args, **kwargs)


SERVER_SETTINGS = QdrantSettings(
    url="https://qdrant.example.internal:6333",
    api_key=SecretStr("s3cret"),
    collection="gd_cluster",
    shard_number=2,
    replication_factor=2,
    write_consistency_factor=1,
)


class _LocalTransport:
    """A client factory that records the server arguments and answers with local mode at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls: list[dict[str, Any]] = []
        self.clients: list[_RecordingClient] = []

    def __call__(self, **kwargs: Any) -> QdrantClient:
        self.calls.append(kwargs)
        client = _RecordingClient(path=str(self.path), force_disable_check_same_thread=True)
        self.clients.append(client)
        return client


# Local mode warns that payload indexes do nothing there; this class asks for them as a server would.
@pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant:UserWarning")
class TestQdrantClientStoreServerConfig(VectorStoreConformance):
    """The server code path of ``from_settings`` (URL, API key, cluster options, indexes) over local mode."""

    @pytest.fixture
    def transport(self, tmp_path: Path) -> _LocalTransport:
        return _LocalTransport(tmp_path / "cluster")

    @pytest.fixture
    def store(self, transport: _LocalTransport, tmp_path: Path) -> Iterator[VectorStore]:
        store = QdrantClientStore.from_settings(SERVER_SETTINGS, tmp_path / "unused", client_factory=transport)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, transport: _LocalTransport, tmp_path: Path) -> Reopen:
        def _reopen(old: VectorStore) -> VectorStore:
            old.close()
            return QdrantClientStore.from_settings(SERVER_SETTINGS, tmp_path / "unused", client_factory=transport)

        return _reopen

    def test_client_is_built_for_the_server(self, store: VectorStore, transport: _LocalTransport) -> None:
        assert transport.calls == [
            {"url": SERVER_SETTINGS.url, "api_key": "s3cret", "timeout": 10, "prefer_grpc": False}
        ]

    def test_collection_gets_cluster_options_and_indexes(self, store: VectorStore, transport: _LocalTransport) -> None:
        store.ensure_collection(8)
        store.ensure_collection(8)
        (client,) = transport.clients
        (created,) = client.created
        options = ("shard_number", "replication_factor", "write_consistency_factor")
        assert {name: created[name] for name in options} == dict(zip(options, (2, 2, 1), strict=True))
        assert set(client.indexed) == {
            "doc_id",
            "audiences",
            "version",
            "visible_from",
            "visible_until",
            "effective_from",
            "effective_until",
        }
        assert len(client.indexed) == 7  # the second ensure_collection asked for nothing again


def test_from_settings_without_url_uses_local_mode(tmp_path: Path) -> None:
    store = QdrantClientStore.from_settings(QdrantSettings(embedded="local", collection="c"), tmp_path / "q")
    try:
        store.ensure_collection(4)
        assert store.collection == "c"
        assert (tmp_path / "q").is_dir()
    finally:
        store.close()


@pytest.mark.parametrize("embedded", ["edge", "memory"])
def test_from_settings_refuses_other_embedded_engines(tmp_path: Path, embedded: str) -> None:
    settings = QdrantSettings(embedded=embedded)
    with pytest.raises(ConfigurationError):
        QdrantClientStore.from_settings(settings, tmp_path)


def test_edge_store_finds_points_after_reopen_and_optimize(tmp_path: Path) -> None:
    store = QdrantEdgeStore(tmp_path / "edge")
    store.ensure_collection(8)
    store.upsert([make_point(ordinal=i, metadata={"lang": "en", "beta": i == 0}) for i in range(3)])
    store.upsert([make_point(version=2, ordinal=i, metadata={"lang": "en", "beta": True}) for i in range(3)])
    assert store.delete("doc", 2) == 3
    store.close()
    reopened = QdrantEdgeStore(tmp_path / "edge")
    try:
        reopened.optimize()
        hits = reopened.search_dense(axis(0), search_filter(metadata={"lang": "en", "beta": True}), 5)
        assert [h.payload.chunk_id for h in hits] == ["doc@1#0"]
        assert reopened.count() == 3
    finally:
        reopened.close()


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_an_edge_rewrite_leaves_no_byte_of_deleted_points_and_keeps_the_rest(tmp_path: Path) -> None:
    from grounddesk.testing._vector_data import DIM

    store = QdrantEdgeStore(tmp_path / "edge")
    try:
        store.ensure_collection(DIM)
        secret = "Alex Morgan alex.morgan@example.com wants order A1001 refunded"
        store.upsert(
            [
                make_point("correction", text=secret, dense=axis(1), terms={7: 1.0}),
                make_point("returns", text="Returns are free within 30 days", terms={3: 1.0}, metadata={"team": "ops"}),
            ]
        )
        store.optimize()
        assert store.delete("correction") == 1
        store.optimize()
        # Deleted for readers, but Qdrant keeps the bytes in its files until they are rewritten.
        assert _files_holding(tmp_path / "edge", b"alex.morgan@example.com")
        assert store.rewrite() == 1
        assert _files_holding(tmp_path, b"alex.morgan@example.com") == []
        dense = store.search_dense(axis(0), search_filter(), 5)
        ops = search_filter(metadata={"team": "ops"})
        sparse = store.search_sparse(SparseVector(indices=[3], values=[1.0]), ops, 5)
        assert [h.payload.doc_id for h in dense] == ["returns"] == [h.payload.doc_id for h in sparse]
    finally:
        store.close()
    reopened = QdrantEdgeStore(tmp_path / "edge")  # the rewritten shard is the one on disk
    try:
        assert reopened.count() == 1
    finally:
        reopened.close()
