"""The hashes of the audit chain: canonical JSON, the personal-part hash and the record hash.

Both hashes are HMAC-SHA256 under the trail's key (a fixed public key when none is configured), over canonical
JSON (sorted keys, no spaces, UTF-8), so the same event hashes the same on SQLite and PostgreSQL whatever order
JSONB keeps its keys in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_KEY",
    "GENESIS_HASH",
    "canonical",
    "jsonable",
    "personal_hash",
    "record_hash",
    "seq_ranges",
    "expand_ranges",
]

#: ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64
#: The HMAC key used when ``audit.key`` is not configured.
DEFAULT_KEY = b"grounddesk-audit-v1"


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types, exactly as it will read back from either database.

    Tuples become lists, non-finite floats None (PostgreSQL's JSONB has no NaN), NUL characters are dropped (no
    PostgreSQL text may hold one), anything else unknown its ``str``.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, Mapping):
        return {str(k).replace("\x00", ""): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [jsonable(v) for v in items]
    if isinstance(value, datetime):
        return iso(value)
    return str(value).replace("\x00", "")


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes of an already :func:`jsonable` value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def iso(at: datetime) -> str:
    """A moment as UTC ISO 8601 with microseconds (what both databases keep)."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def personal_hash(
    key: bytes, salt: str, subject: str | None, conversation_id: str | None, payload: Mapping[str, Any]
) -> str:
    """The hash of an event's personal part, salted so that it cannot be matched against a guess once erased."""
    body = canonical({"conversation_id": conversation_id, "payload": payload, "salt": salt, "subject": subject})
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def record_hash(key: bytes, *, seq: int, at: datetime, actor: str, kind: str, payload_hash: str, prev_hash: str) -> str:
    """The chained hash of an event's record."""
    body = canonical(
        {
            "actor": actor,
            "at": iso(at),
            "kind": kind,
            "payload_hash": payload_hash,
            "prev_hash": prev_hash,
            "seq": seq,
        }
    )
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """Sorted seqs as inclusive ``[first, last]`` runs: ``[1, 2, 3, 7]`` -> ``[[1, 3], [7, 7]]``."""
    runs: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if runs and runs[-1][1] == seq - 1:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq])
    return runs


def expand_ranges(runs: Any) -> set[int]:
    """The seqs of :func:`seq_ranges` runs (malformed runs give nothing)."""
    out: set[int] = set()
    if not isinstance(runs, list):
        return out
    for run in runs:
        if isinstance(run, list) and len(run) == 2 and all(isinstance(x, int) for x in run) and run[0] <= run[1]:
            out.update(range(run[0], run[1] + 1))
    return out
