"""Pieces shared by the Qdrant-backed stores: names, payload layout and which payload fields get indexes.

Payload layout (identical on every Qdrant back-end): the fields of :class:`ChunkPayload` at the top level,
``metadata`` as a nested object, so a metadata condition filters on ``metadata.<key>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, cast

import numpy as np

from grounddesk.errors import GrounddeskError, VectorStoreError
from grounddesk.knowledge.types import ChunkPayload, ChunkPoint, MetadataValue

__all__ = [
    "DENSE",
    "SPARSE",
    "IndexKind",
    "as_float_list",
    "base_indexes",
    "engine_errors",
    "metadata_index_kinds",
    "metadata_indexes",
    "payload_dict",
    "payload_from",
    "sorted_chunks",
    "visibility_changes",
]

DENSE = "dense"
SPARSE = "sparse"

IndexKind = Literal["keyword", "integer", "range", "bool"]

#: Payload indexes every collection gets; ``range`` is an integer index without exact-value lookup.
_BASE_INDEXES: dict[str, IndexKind] = {
    "doc_id": "keyword",
    "audiences": "keyword",
    "version": "integer",
    "visible_from": "range",
    "visible_until": "range",
    "effective_from": "range",
    "effective_until": "range",
}


def base_indexes() -> dict[str, IndexKind]:
    """The payload indexes of the filtered top-level fields, by field name."""
    return dict(_BASE_INDEXES)


def _metadata_kind(value: MetadataValue) -> IndexKind | None:
    # bool before int: bool is a subclass of int. Floats cannot be filtered on (SearchFilter has no float).
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "keyword"
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return "keyword"
    return None


def metadata_indexes(points: Iterable[ChunkPoint], known: set[str]) -> dict[str, IndexKind]:
    """Indexes to create for metadata keys first seen in ``points``: ``{"metadata.<key>": kind}``.

    The kind comes from the first value seen; a later value of another type is still stored and filtered on
    correctly (Qdrant checks the payload itself when an index cannot answer), only without index support.
    """
    return metadata_index_kinds((point.payload.metadata for point in points), known)


def metadata_index_kinds(metadatas: Iterable[Mapping[str, Any]], known: set[str]) -> dict[str, IndexKind]:
    """:func:`metadata_indexes` over plain metadata mappings (e.g. stored payloads read back)."""
    found: dict[str, IndexKind] = {}
    for metadata in metadatas:
        for key, value in metadata.items():
            field = f"metadata.{key}"
            if field in known or field in found:
                continue
            kind = _metadata_kind(value)
            if kind is not None:
                found[field] = kind
    return found


def payload_dict(payload: ChunkPayload) -> dict[str, Any]:
    """The stored form of a payload."""
    return payload.model_dump(mode="python")


def payload_from(raw: dict[str, Any] | None) -> ChunkPayload:
    """Rebuild a payload from what a Qdrant engine returned."""
    return ChunkPayload.model_validate(raw or {})


def sorted_chunks(payloads: Iterable[ChunkPayload]) -> list[ChunkPayload]:
    """Chunks ordered by version, then ordinal."""
    return sorted(payloads, key=lambda p: (p.version, p.ordinal))


def as_float_list(vector: Sequence[float]) -> list[float]:
    """A plain list of Python floats (what the engines' bindings convert fastest)."""
    if isinstance(vector, list):
        return vector
    return cast(list[float], np.asarray(vector, dtype=np.float64).tolist())


@contextmanager
def engine_errors(backend: str, operation: str) -> Iterator[None]:
    """Re-raise an engine's exception as :class:`VectorStoreError` (ours pass through unchanged)."""
    try:
        yield
    except GrounddeskError:
        raise
    except Exception as exc:
        raise VectorStoreError(f"{backend} failed to {operation}: {exc}", backend=backend, operation=operation) from exc


def visibility_changes(visible_from: int | None, visible_until: int | None) -> dict[str, int]:
    """The payload fields a ``set_visibility`` call writes (``None`` leaves a bound as it is)."""
    changes: dict[str, int] = {}
    if visible_from is not None:
        changes["visible_from"] = visible_from
    if visible_until is not None:
        changes["visible_until"] = visible_until
    return changes
