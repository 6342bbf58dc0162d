"""The hashes of the audit chain: canonical, sensitive to every field, salted; seq ranges."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

from grounddesk.audit.chain import (
    DEFAULT_KEY,
    canonical,
    expand_ranges,
    iso,
    jsonable,
    personal_hash,
    record_hash,
    seq_ranges,
)

AT = datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)
RECORD = {"seq": 7, "at": AT, "actor": "bot", "kind": "answer", "payload_hash": "a" * 64, "prev_hash": "b" * 64}


def test_jsonable_gives_what_both_databases_read_back() -> None:
    value = {"t": (1, 2), "nan": math.nan, "inf": -math.inf, "nul": "a\x00b", "when": AT, 3: {"s": {"b", "a"}}}

    assert jsonable(value) == {
        "t": [1, 2],
        "nan": None,
        "inf": None,
        "nul": "ab",
        "when": "2026-11-20T12:00:00.123456+00:00",
        "3": {"s": ["a", "b"]},
    }


def test_canonical_json_ignores_key_order_and_keeps_unicode() -> None:
    assert canonical({"b": 1, "a": "é"}) == canonical({"a": "é", "b": 1}) == '{"a":"é","b":1}'.encode()


def test_iso_is_utc_with_microseconds_whatever_the_input_zone() -> None:
    paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert iso(paris) == iso(AT) == iso(AT.replace(tzinfo=None)) == "2026-11-20T12:00:00.123456+00:00"


def test_the_record_hash_changes_with_every_field_and_with_the_key() -> None:
    base = record_hash(DEFAULT_KEY, **RECORD)  # type: ignore[arg-type]
    changes = {
        "seq": 8,
        "at": AT + timedelta(microseconds=1),
        "actor": "kim",
        "kind": "tool_call",
        "payload_hash": "c" * 64,
        "prev_hash": "d" * 64,
    }
    for field, value in changes.items():
        assert record_hash(DEFAULT_KEY, **{**RECORD, field: value}) != base, field  # type: ignore[arg-type]
    assert record_hash(b"another key", **RECORD) != base  # type: ignore[arg-type]
    assert record_hash(DEFAULT_KEY, **RECORD) == base  # type: ignore[arg-type]


def test_the_personal_hash_covers_subject_conversation_and_payload_and_is_salted() -> None:
    base = personal_hash(DEFAULT_KEY, "s1", "C-1001", "conv-1", {"question": "hi"})

    assert personal_hash(DEFAULT_KEY, "s1", "C-1002", "conv-1", {"question": "hi"}) != base
    assert personal_hash(DEFAULT_KEY, "s1", "C-1001", "conv-2", {"question": "hi"}) != base
    assert personal_hash(DEFAULT_KEY, "s1", "C-1001", "conv-1", {"question": "ho"}) != base
    # Without the salt (dropped on erasure) a guess of the customer cannot be checked against the hash.
    assert personal_hash(DEFAULT_KEY, "s2", "C-1001", "conv-1", {"question": "hi"}) != base


def test_seq_ranges_round_trip() -> None:
    seqs = [9, 1, 2, 3, 7, 3]
    runs = seq_ranges(seqs)

    assert runs == [[1, 3], [7, 7], [9, 9]]
    assert expand_ranges(runs) == {1, 2, 3, 7, 9}
    assert expand_ranges([[3, 1], "x", [1, 2, 3]]) == set() and expand_ranges("nope") == set()
