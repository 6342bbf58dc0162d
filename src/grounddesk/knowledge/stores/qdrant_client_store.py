"""A store over ``qdrant_client.QdrantClient``: a Qdrant server or cluster, or qdrant-client's local mode.

The collection has a named dense vector ``dense`` (cosine) and a named sparse vector ``sparse`` with
``Modifier.IDF``. Every write waits for the server to apply it, so a search that follows sees it.

Local mode (``QdrantClient(path=...)`` or ``":memory:"``) is qdrant-client's pure-Python emulation: it ignores
sharding and replication options and has no payload indexes (it warns on every ``create_payload_index``), so
indexes are only requested from a server unless the caller says otherwise. It is not thread-safe, so the store
serialises calls to a local client.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models

from grounddesk.config import QdrantSettings
from grounddesk.errors import ConfigurationError, VectorStoreError
from grounddesk.knowledge.stores._common import (
    DENSE,
    SPARSE,
    IndexKind,
    as_float_list,
    base_indexes,
    engine_errors,
    metadata_indexes,
    payload_dict,
    payload_from,
    sorted_chunks,
    visibility_changes,
)
from grounddesk.knowledge.types import ChunkPayload, ChunkPoint, SearchFilter, SparseVector, StoredHit

__all__ = ["QdrantClientStore"]

_BACKEND = "Qdrant"
_BATCH = 256
_DEFAULT_COLLECTION = QdrantSettings.model_fields["collection"].default

_SCHEMAS: dict[IndexKind, models.PayloadSchemaType | models.IntegerIndexParams] = {
    "keyword": models.PayloadSchemaType.KEYWORD,
    "integer": models.PayloadSchemaType.INTEGER,
    "bool": models.PayloadSchemaType.BOOL,
    "range": models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER, lookup=False, range=True),
}


def _is_local(client: QdrantClient) -> bool:
    options = client.init_options
    return options.get("path") is not None or options.get("location") == ":memory:"


def _field(key: str, *, match: Any = None, lte: int | None = None, gt: int | None = None) -> models.FieldCondition:
    if match is not None:
        return models.FieldCondition(key=key, match=match)
    return models.FieldCondition(key=key, range=models.Range(lte=lte, gt=gt))


def _search_filter(flt: SearchFilter) -> models.Filter:
    must: list[models.Condition] = [
        _field("visible_from", lte=flt.generation),
        _field("visible_until", gt=flt.generation),
        _field("effective_from", lte=flt.now),
        _field("effective_until", gt=flt.now),
        _field("audiences", match=models.MatchAny(any=flt.audiences)),
    ]
    if flt.doc_ids is not None:
        must.append(_field("doc_id", match=models.MatchAny(any=flt.doc_ids)))
    for key, wanted in flt.metadata.items():
        match = models.MatchAny(any=wanted) if isinstance(wanted, list) else models.MatchValue(value=wanted)
        must.append(_field(f"metadata.{key}", match=match))
    return models.Filter(must=must)


def _version_filter(doc_id: str, version: int | None) -> models.Filter:
    must: list[models.Condition] = [_field("doc_id", match=models.MatchValue(value=doc_id))]
    if version is not None:
        must.append(_field("version", match=models.MatchValue(value=version)))
    return models.Filter(must=must)


def _point(point: ChunkPoint) -> models.PointStruct:
    vectors: dict[str, Any] = {DENSE: as_float_list(point.dense)}
    if point.sparse.indices:  # an empty sparse vector is left out, so it does not count in the IDF corpus
        vectors[SPARSE] = models.SparseVector(indices=point.sparse.indices, values=point.sparse.values)
    return models.PointStruct(id=point.payload.point_id, vector=vectors, payload=payload_dict(point.payload))


class QdrantClientStore:
    """Chunks in one Qdrant collection, reached through ``QdrantClient``.

    The store takes ownership of ``client`` and closes it in :meth:`close`. Build one with :meth:`open` (a URL,
    a directory or ``":memory:"``) or :meth:`from_settings`, or inject any configured client.

    Args:
        client: The client; a server, a cluster or local mode.
        collection: Collection name.
        shard_number: Passed to ``create_collection`` (ignored by local mode).
        replication_factor: Passed to ``create_collection`` (ignored by local mode).
        write_consistency_factor: Passed to ``create_collection`` (ignored by local mode).
        payload_indexes: Whether to create payload indexes; ``None`` means "unless the client is local mode".

    Example:
        >>> store = QdrantClientStore.open(":memory:")
        >>> store.ensure_collection(384)
        >>> store.count()
        0
        >>> store.close()
    """

    def __init__(
        self,
        client: QdrantClient,
        *,
        collection: str = _DEFAULT_COLLECTION,
        shard_number: int | None = None,
        replication_factor: int | None = None,
        write_consistency_factor: int | None = None,
        payload_indexes: bool | None = None,
    ) -> None:
        local = _is_local(client)
        self._client = client
        self._collection = collection
        self._shard_number = shard_number
        self._replication_factor = replication_factor
        self._write_consistency_factor = write_consistency_factor
        self._payload_indexes = (not local) if payload_indexes is None else payload_indexes
        self._lock: AbstractContextManager[Any] = threading.RLock() if local else nullcontext()
        self._ready = False
        self._closed = False
        self._indexed: set[str] = set()

    @classmethod
    def open(
        cls,
        location: str | Path,
        *,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        prefer_grpc: bool = False,
        **options: Any,
    ) -> QdrantClientStore:
        """Open a store on a server URL (``http://``/``https://``), ``":memory:"`` or a local-mode directory.

        Args:
            location: Where the collection lives.
            api_key: The server's API key (servers only).
            timeout_s: Request timeout (servers only).
            prefer_grpc: Talk gRPC instead of REST (servers only).
            **options: Keyword arguments of the constructor (collection, shard_number, ...).

        Raises:
            ConfigurationError: The client could not be built from these arguments.
        """
        text = str(location)
        if text.startswith(("http://", "https://")):
            kwargs = _server_kwargs(text, api_key, timeout_s, prefer_grpc)
        elif text == ":memory:":
            kwargs = {"location": text}
        else:
            kwargs = _local_kwargs(Path(text))
        return cls(_build_client(QdrantClient, kwargs), **options)

    @classmethod
    def from_settings(
        cls, settings: QdrantSettings, path: Path, *, client_factory: Callable[..., QdrantClient] = QdrantClient
    ) -> QdrantClientStore:
        """Build the store ``settings`` describe: the server at ``settings.url``, else local mode at ``path``.

        Args:
            settings: The ``qdrant`` section of the settings.
            path: The local-mode directory, used when no URL is set.
            client_factory: Builds the client from ``QdrantClient`` keyword arguments (tests substitute the
                transport here).

        Raises:
            ConfigurationError: No URL is set and the embedded engine is not ``"local"``, or the client could
                not be built.
        """
        options: dict[str, Any] = {
            "collection": settings.collection,
            "shard_number": settings.shard_number,
            "replication_factor": settings.replication_factor,
            "write_consistency_factor": settings.write_consistency_factor,
        }
        if settings.url:
            api_key = settings.api_key.get_secret_value() if settings.api_key else None
            kwargs = _server_kwargs(settings.url, api_key, settings.timeout_s, settings.prefer_grpc)
            return cls(_build_client(client_factory, kwargs), payload_indexes=True, **options)
        if settings.embedded != "local":
            raise ConfigurationError(
                f"QdrantClientStore needs a Qdrant URL or embedded='local', not embedded={settings.embedded!r}.",
                embedded=settings.embedded,
            )
        return cls(_build_client(client_factory, _local_kwargs(path)), payload_indexes=False, **options)

    @property
    def collection(self) -> str:
        """The collection name."""
        return self._collection

    def ensure_collection(self, dense_dim: int) -> None:
        """Create the collection and payload indexes if missing. Idempotent.

        Raises:
            ConfigurationError: The existing collection holds vectors of another dimension.
            VectorStoreError: Qdrant failed or is unreachable.
        """
        with self._lock, engine_errors(_BACKEND, "create the collection"):
            self._check_open()
            if self._client.collection_exists(self._collection):
                self._check_dimension(dense_dim)
            else:
                self._client.create_collection(
                    self._collection,
                    vectors_config={DENSE: models.VectorParams(size=dense_dim, distance=models.Distance.COSINE)},
                    sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                    shard_number=self._shard_number,
                    replication_factor=self._replication_factor,
                    write_consistency_factor=self._write_consistency_factor,
                )
            self._ready = True
            self._create_indexes(base_indexes())

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or replace points by their stable ids; metadata keys seen for the first time get an index.

        Raises:
            VectorStoreError: The collection does not exist, or Qdrant rejected a point (e.g. wrong dimension).
        """
        if not points:
            return
        with self._lock:
            if not self._exists():
                raise VectorStoreError(
                    "The collection does not exist yet: call ensure_collection(dim) first.",
                    collection=self._collection,
                )
            self._create_indexes(metadata_indexes(points, self._indexed))
            with engine_errors(_BACKEND, "upsert points"):
                for start in range(0, len(points), _BATCH):
                    batch = [_point(p) for p in points[start : start + _BATCH]]
                    self._client.upsert(self._collection, points=batch, wait=True)

    def set_visibility(
        self, doc_id: str, version: int, *, visible_from: int | None = None, visible_until: int | None = None
    ) -> int:
        """Set the generation window of every chunk of ``doc_id@version``.

        Returns:
            How many chunks the version has (each of them was written, whether or not a value differed).
        """
        changes = visibility_changes(visible_from, visible_until)
        flt = _version_filter(doc_id, version)
        with self._lock:
            if not self._exists():
                return 0
            with engine_errors(_BACKEND, "set visibility"):
                found = self._client.count(self._collection, count_filter=flt, exact=True).count
                if found and changes:
                    selector = models.FilterSelector(filter=flt)
                    self._client.set_payload(self._collection, payload=changes, points=selector, wait=True)
            return found

    def delete(self, doc_id: str, version: int | None = None) -> int:
        """Erase the chunks of one version, or of every version; returns how many were erased."""
        return self._delete_where(_version_filter(doc_id, version))

    def purge_hidden(self, generation: int) -> int:
        """Erase chunks whose ``visible_until <= generation``; returns how many were erased."""
        return self._delete_where(models.Filter(must=[_field("visible_until", lte=generation)]))

    def search_dense(self, vector: Sequence[float], flt: SearchFilter, limit: int) -> list[StoredHit]:
        """Nearest chunks by cosine similarity, best first, among those matching ``flt``."""
        return self._query(as_float_list(vector), DENSE, flt, limit)

    def search_sparse(self, vector: SparseVector, flt: SearchFilter, limit: int) -> list[StoredHit]:
        """Best chunks by IDF-weighted sparse dot product, best first, among those matching ``flt``."""
        if not vector.indices:
            return []
        return self._query(models.SparseVector(indices=vector.indices, values=vector.values), SPARSE, flt, limit)

    def chunks(self, doc_id: str, version: int | None = None) -> list[ChunkPayload]:
        """Every stored chunk of a document (or of one version), ordered by version then ordinal."""
        flt = _version_filter(doc_id, version)
        found: list[ChunkPayload] = []
        with self._lock:
            if not self._exists():
                return []
            offset: Any = None
            with engine_errors(_BACKEND, "scroll chunks"):
                while True:
                    records, offset = self._client.scroll(
                        self._collection, scroll_filter=flt, limit=_BATCH, offset=offset, with_payload=True
                    )
                    found.extend(payload_from(record.payload) for record in records)
                    if offset is None:
                        break
        return sorted_chunks(found)

    def count(self) -> int:
        """How many chunks are stored, visible or not."""
        with self._lock:
            if not self._exists():
                return 0
            with engine_errors(_BACKEND, "count points"):
                return self._client.count(self._collection, exact=True).count

    def close(self) -> None:
        """Close the client. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                with engine_errors(_BACKEND, "close the client"):
                    self._client.close()

    def _query(self, query: Any, using: str, flt: SearchFilter, limit: int) -> list[StoredHit]:
        if limit <= 0:
            return []
        with self._lock:
            if not self._exists():
                return []
            with engine_errors(_BACKEND, "search"):
                response = self._client.query_points(
                    self._collection,
                    query=query,
                    using=using,
                    query_filter=_search_filter(flt),
                    limit=limit,
                    with_payload=True,
                )
        return [StoredHit(payload=payload_from(point.payload), score=point.score) for point in response.points]

    def _delete_where(self, flt: models.Filter) -> int:
        with self._lock:
            if not self._exists():
                return 0
            with engine_errors(_BACKEND, "delete points"):
                found = self._client.count(self._collection, count_filter=flt, exact=True).count
                if found:
                    selector = models.FilterSelector(filter=flt)
                    self._client.delete(self._collection, points_selector=selector, wait=True)
            return found

    def _exists(self) -> bool:
        """Whether the collection exists, asked once and then remembered (collections are not dropped)."""
        self._check_open()
        if not self._ready:
            with engine_errors(_BACKEND, "look up the collection"):
                self._ready = self._client.collection_exists(self._collection)
                if self._ready and self._payload_indexes:
                    self._indexed = set(self._client.get_collection(self._collection).payload_schema)
        return self._ready

    def _create_indexes(self, wanted: dict[str, IndexKind]) -> None:
        if not self._payload_indexes:
            return
        with engine_errors(_BACKEND, "create payload indexes"):
            for field, kind in wanted.items():
                if field not in self._indexed:
                    self._client.create_payload_index(self._collection, field, field_schema=_SCHEMAS[kind], wait=True)
                    self._indexed.add(field)

    def _check_dimension(self, dense_dim: int) -> None:
        vectors = self._client.get_collection(self._collection).config.params.vectors
        params = vectors.get(DENSE) if isinstance(vectors, dict) else None
        stored = params.size if params is not None else None
        if stored != dense_dim:
            raise ConfigurationError(
                f"Collection {self._collection!r} holds {stored}-dimensional {DENSE!r} vectors, the embedder makes "
                f"{dense_dim}. Rebuild the index after changing the embedding model.",
                collection=self._collection,
                stored=stored,
                requested=dense_dim,
            )

    def _check_open(self) -> None:
        if self._closed:
            raise VectorStoreError("The Qdrant store is closed.", collection=self._collection)


def _server_kwargs(url: str, api_key: str | None, timeout_s: float, prefer_grpc: bool) -> dict[str, Any]:
    return {"url": url, "api_key": api_key, "timeout": math.ceil(timeout_s), "prefer_grpc": prefer_grpc}


def _local_kwargs(path: Path) -> dict[str, Any]:
    # The store serialises every call to a local client, so it may be used from any thread.
    return {"path": str(path), "force_disable_check_same_thread": True}


def _build_client(factory: Callable[..., QdrantClient], kwargs: dict[str, Any]) -> QdrantClient:
    location = kwargs.get("url") or kwargs.get("path") or kwargs.get("location")
    try:
        return factory(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"Cannot build a Qdrant client: {exc}", location=location) from exc
    except Exception as exc:  # e.g. a local-mode directory held by another process
        raise VectorStoreError(f"Cannot open Qdrant at {location}: {exc}", location=location) from exc
