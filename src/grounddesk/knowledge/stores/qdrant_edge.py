"""The embedded default store: Qdrant's own engine running in-process through ``qdrant-edge``.

One Edge shard in a directory holds every chunk: a named dense vector ``dense`` (cosine) and a named sparse
vector ``sparse`` with ``Modifier.Idf``, so sparse scores are computed exactly as a Qdrant server computes them.

Why writes are visible at once: Edge runs no background optimizer. Points land in the appendable segment
and are searched by exact scan there; ``prevent_unoptimized`` is switched off so that points written to a
segment above the indexing threshold are never deferred ("stored but not yet searchable") until someone calls
:meth:`QdrantEdgeStore.optimize`. Durability comes from Edge's write-ahead log; :meth:`~QdrantEdgeStore.close`
also flushes.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import qdrant_edge as qe

from grounddesk.errors import ConfigurationError, VectorStoreError
from grounddesk.knowledge.stores._common import (
    DENSE,
    SPARSE,
    IndexKind,
    as_float_list,
    base_indexes,
    engine_errors,
    metadata_index_kinds,
    metadata_indexes,
    payload_dict,
    payload_from,
    sorted_chunks,
    visibility_changes,
)
from grounddesk.knowledge.types import ChunkPayload, ChunkPoint, SearchFilter, SparseVector, StoredHit

__all__ = ["QdrantEdgeStore"]

_BACKEND = "Qdrant Edge"
_BATCH = 512
_CONFIG_FILE = "edge_config.json"  # where Edge persists the shard's configuration


def _schema(kind: IndexKind) -> qe.PayloadSchemaType | qe.IntegerIndexParams:
    if kind == "range":
        return qe.IntegerIndexParams(lookup=False, range=True)
    return {
        "keyword": qe.PayloadSchemaType.Keyword,
        "integer": qe.PayloadSchemaType.Integer,
        "bool": qe.PayloadSchemaType.Bool,
    }[kind]


def _match_value(value: str | int | bool) -> qe.MatchValue:
    if isinstance(value, bool):
        # qdrant-edge-py 0.9.0 reads a Python bool as the integer 0/1 (bool subclasses int), which never
        # matches a stored JSON boolean; numpy's bool is not an int and converts to a real boolean.
        return qe.MatchValue(cast(bool, np.bool_(value)))
    return qe.MatchValue(value)


def _search_filter(flt: SearchFilter) -> qe.Filter:
    generation, now = flt.generation, flt.now
    must: list[Any] = [
        qe.FieldCondition("visible_from", range=qe.RangeFloat(lte=generation)),
        qe.FieldCondition("visible_until", range=qe.RangeFloat(gt=generation)),
        qe.FieldCondition("effective_from", range=qe.RangeFloat(lte=now)),
        qe.FieldCondition("effective_until", range=qe.RangeFloat(gt=now)),
        qe.FieldCondition("audiences", match=qe.MatchAny(flt.audiences)),
    ]
    if flt.doc_ids is not None:
        must.append(qe.FieldCondition("doc_id", match=qe.MatchAny(flt.doc_ids)))
    for key, wanted in flt.metadata.items():
        match = qe.MatchAny(wanted) if isinstance(wanted, list) else _match_value(wanted)
        must.append(qe.FieldCondition(f"metadata.{key}", match=match))
    return qe.Filter(must=must)


def _version_filter(doc_id: str, version: int | None) -> qe.Filter:
    must: list[Any] = [qe.FieldCondition("doc_id", match=qe.MatchValue(doc_id))]
    if version is not None:
        must.append(qe.FieldCondition("version", match=qe.MatchValue(version)))
    return qe.Filter(must=must)


def _point(point: ChunkPoint) -> qe.Point:
    vectors: dict[str, Any] = {DENSE: as_float_list(point.dense)}
    if point.sparse.indices:  # an empty sparse vector is left out, so it does not count in the IDF corpus
        vectors[SPARSE] = qe.SparseVector(point.sparse.indices, point.sparse.values)
    return qe.Point(point.payload.point_id, vectors, payload_dict(point.payload))


def _batches(points: Sequence[ChunkPoint]) -> Iterable[Sequence[ChunkPoint]]:
    for start in range(0, len(points), _BATCH):
        yield points[start : start + _BATCH]


def _edge_config(dense_dim: int) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=dense_dim, distance=qe.Distance.Cosine)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        optimizers=qe.EdgeOptimizersConfig(prevent_unoptimized=False),
    )


class QdrantEdgeStore:
    """Chunks in a Qdrant Edge shard under ``path``; thread-safe.

    The shard is loaded when ``path`` already holds one and created by :meth:`ensure_collection` otherwise.
    Reads of a store whose shard does not exist yet return nothing; writes raise.

    Args:
        path: The shard directory (``Settings.qdrant_path``).

    Example:
        >>> store = QdrantEdgeStore(Path("/tmp/gd/qdrant"))
        >>> store.ensure_collection(384)
        >>> store.count()
        0
        >>> store.close()
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.RLock()  # serialises writes, so "count then change" is one step
        self._closed = False
        self._shard: qe.EdgeShard | None = None
        self._indexed: set[str] = set()
        if (self._path / _CONFIG_FILE).exists() or (self._path / "segments").exists():
            with engine_errors(_BACKEND, "load the shard"):
                self._shard = qe.EdgeShard.load(str(self._path))
                self._indexed = set(self._shard.info().payload_schema)

    @property
    def path(self) -> Path:
        """The shard directory."""
        return self._path

    def ensure_collection(self, dense_dim: int) -> None:
        """Create the shard and its payload indexes if missing. Idempotent.

        Raises:
            ConfigurationError: The existing shard holds vectors of another dimension.
            VectorStoreError: The engine failed.
        """
        with self._lock:
            self._check_open()
            if self._shard is None:
                self._path.mkdir(parents=True, exist_ok=True)
                with engine_errors(_BACKEND, "create the shard"):
                    self._shard = qe.EdgeShard.create(str(self._path), _edge_config(dense_dim))
            else:
                self._check_dimension(dense_dim)
            self._create_indexes(self._shard, base_indexes())

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or replace points by their stable ids; metadata keys seen for the first time get an index.

        Raises:
            VectorStoreError: The shard does not exist yet, or the engine rejected a point (e.g. wrong dimension).
        """
        if not points:
            return
        with self._lock:
            shard = self._writable()
            self._create_indexes(shard, metadata_indexes(points, self._indexed))
            with engine_errors(_BACKEND, "upsert points"):
                for batch in _batches(points):
                    shard.update(qe.UpdateOperation.upsert_points([_point(p) for p in batch]))

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
            shard = self._readable()
            if shard is None:
                return 0
            with engine_errors(_BACKEND, "set visibility"):
                found = shard.count(qe.CountRequest(exact=True, filter=flt))
                if found and changes:
                    shard.update(qe.UpdateOperation.set_payload_by_filter(flt, changes))
            return found

    def delete(self, doc_id: str, version: int | None = None) -> int:
        """Erase the chunks of one version, or of every version; returns how many were erased."""
        return self._delete_where(_version_filter(doc_id, version))

    def purge_hidden(self, generation: int) -> int:
        """Erase chunks whose ``visible_until <= generation``; returns how many were erased."""
        return self._delete_where(
            qe.Filter(must=[qe.FieldCondition("visible_until", range=qe.RangeFloat(lte=generation))])
        )

    def search_dense(self, vector: Sequence[float], flt: SearchFilter, limit: int) -> list[StoredHit]:
        """Nearest chunks by cosine similarity, best first, among those matching ``flt``."""
        return self._query(qe.Query.Nearest(as_float_list(vector), using=DENSE), flt, limit)

    def search_sparse(self, vector: SparseVector, flt: SearchFilter, limit: int) -> list[StoredHit]:
        """Best chunks by IDF-weighted sparse dot product, best first, among those matching ``flt``."""
        if not vector.indices:
            return []
        return self._query(qe.Query.Nearest(qe.SparseVector(vector.indices, vector.values), using=SPARSE), flt, limit)

    def chunks(self, doc_id: str, version: int | None = None) -> list[ChunkPayload]:
        """Every stored chunk of a document (or of one version), ordered by version then ordinal."""
        flt = _version_filter(doc_id, version)
        found: list[ChunkPayload] = []
        offset: Any = None
        with self._lock, engine_errors(_BACKEND, "scroll chunks"):
            shard = self._readable()
            if shard is None:
                return []
            while True:
                request = qe.ScrollRequest(
                    offset=offset, limit=_BATCH, filter=flt, with_payload=True, with_vector=False
                )
                records, offset = shard.scroll(request)
                found.extend(payload_from(record.payload) for record in records)
                if offset is None:
                    break
        return sorted_chunks(found)

    def count(self) -> int:
        """How many chunks are stored, visible or not."""
        with self._lock, engine_errors(_BACKEND, "count points"):
            shard = self._readable()
            return 0 if shard is None else shard.count(qe.CountRequest(exact=True))

    def optimize(self) -> bool:
        """Run Edge's optimizers now (vacuum deleted points, merge segments, build the HNSW index).

        Blocking and CPU-heavy (seconds for ten thousand 384-dimensional points); searches do not need it.

        Returns:
            Whether any segment changed.
        """
        with self._lock:
            shard = self._writable()
            with engine_errors(_BACKEND, "optimize"):
                return shard.optimize()

    def rewrite(self) -> int:
        """Rebuild the shard from its live points, so nothing of a deleted point stays in its files.

        Qdrant drops a deleted point for every reader at once, but keeps its bytes in segment files and in its
        write-ahead log until they happen to be rewritten; erasure needs them gone now. The live points (with
        their vectors, payloads and payload indexes) are copied into a fresh shard beside this one, which then
        replaces it; the old files are deleted. Reads wait meanwhile (seconds for ten thousand chunks): they take
        the store's lock, so none finds the store empty between the two shards.

        Returns:
            How many points the rebuilt shard holds.

        Raises:
            VectorStoreError: The engine failed; the shard in place is then the old one, unchanged.
        """
        with self._lock:
            shard = self._writable()
            fresh_path = self._path.with_name(self._path.name + ".rewrite")
            old_path = self._path.with_name(self._path.name + ".old")
            shutil.rmtree(fresh_path, ignore_errors=True)
            shutil.rmtree(old_path, ignore_errors=True)
            config = json.loads((self._path / _CONFIG_FILE).read_text(encoding="utf-8"))
            records: list[Any] = []
            offset: Any = None
            try:
                with engine_errors(_BACKEND, "rewrite the shard"):
                    while True:
                        request = qe.ScrollRequest(offset=offset, limit=_BATCH, with_payload=True, with_vector=True)
                        batch, offset = shard.scroll(request)
                        records.extend(batch)
                        if offset is None:
                            break
                    fresh = qe.EdgeShard.create(str(fresh_path), _edge_config(int(config["vectors"][DENSE]["size"])))
                    kept = (r.payload.get("metadata") or {} for r in records)
                    indexes = {**base_indexes(), **metadata_index_kinds(kept, set())}
                    for field, kind in indexes.items():
                        fresh.update(qe.UpdateOperation.create_field_index(field, _schema(kind)))
                    for start in range(0, len(records), _BATCH):
                        points = [qe.Point(r.id, r.vector, r.payload) for r in records[start : start + _BATCH]]
                        fresh.update(qe.UpdateOperation.upsert_points(points))
                    fresh.optimize()
                    fresh.flush()
                    fresh.close()
            except BaseException:
                shutil.rmtree(fresh_path, ignore_errors=True)
                raise
            with engine_errors(_BACKEND, "swap in the rewritten shard"):
                shard.close()
                self._shard = None
                self._path.rename(old_path)
                fresh_path.rename(self._path)
                shutil.rmtree(old_path)
                self._shard = qe.EdgeShard.load(str(self._path))
                self._indexed = set(self._shard.info().payload_schema)
            return len(records)

    def close(self) -> None:
        """Flush and release the shard. Idempotent."""
        with self._lock:
            shard, self._shard, self._closed = self._shard, None, True
            if shard is not None:
                with engine_errors(_BACKEND, "close the shard"):
                    shard.flush()
                    shard.close()

    def _query(self, query: qe.Query, flt: SearchFilter, limit: int) -> list[StoredHit]:
        if limit <= 0:
            return []
        request = qe.QueryRequest(limit=limit, query=query, filter=_search_filter(flt), with_payload=True)
        # Under the lock: a search never meets the store between the two shards of a rewrite. Edge holds the
        # interpreter lock while it searches, so searches never ran side by side anyway.
        with self._lock, engine_errors(_BACKEND, "search"):
            shard = self._readable()
            if shard is None:
                return []
            points = shard.query(request)
        return [StoredHit(payload=payload_from(point.payload), score=point.score) for point in points]

    def _delete_where(self, flt: qe.Filter) -> int:
        with self._lock:
            shard = self._readable()
            if shard is None:
                return 0
            with engine_errors(_BACKEND, "delete points"):
                found = shard.count(qe.CountRequest(exact=True, filter=flt))
                if found:
                    shard.update(qe.UpdateOperation.delete_points_by_filter(flt))
            return found

    def _create_indexes(self, shard: qe.EdgeShard, wanted: dict[str, IndexKind]) -> None:
        with engine_errors(_BACKEND, "create payload indexes"):
            for field, kind in wanted.items():
                if field not in self._indexed:
                    shard.update(qe.UpdateOperation.create_field_index(field, _schema(kind)))
                    self._indexed.add(field)

    def _check_dimension(self, dense_dim: int) -> None:
        try:
            stored = json.loads((self._path / _CONFIG_FILE).read_text(encoding="utf-8"))["vectors"][DENSE]["size"]
        except (OSError, ValueError, KeyError, TypeError):
            return  # no readable config: the engine itself rejects vectors of the wrong size on upsert
        if stored != dense_dim:
            raise ConfigurationError(
                f"The Qdrant Edge shard at {self._path} holds {stored}-dimensional vectors, the embedder makes "
                f"{dense_dim}. Rebuild the index after changing the embedding model.",
                path=str(self._path),
                stored=stored,
                requested=dense_dim,
            )

    def _check_open(self) -> None:
        if self._closed:
            raise VectorStoreError("The Qdrant Edge store is closed.", path=str(self._path))

    def _readable(self) -> qe.EdgeShard | None:
        self._check_open()
        return self._shard

    def _writable(self) -> qe.EdgeShard:
        shard = self._readable()
        if shard is None:
            raise VectorStoreError(
                "The collection does not exist yet: call ensure_collection(dim) first.", path=str(self._path)
            )
        return shard
