"""Verification of the audit chain: one pass over the events in seq order.

:class:`ChainWalk` checks each event against the one before it (seq, link, record hash, personal-part hash) and,
at the end, the tombstones against the erasure events that vouch for them and the last event against the chain
head. :meth:`grounddesk.audit.trail.AuditTrail.verify` feeds it :func:`stream_events`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import RowMapping

from grounddesk.audit.chain import GENESIS_HASH, expand_ranges, personal_hash, record_hash
from grounddesk.audit.tables import audit_events
from grounddesk.audit.types import ERASING_KINDS, TOMBSTONE_KEY, VerifyProblem

__all__ = ["ChainWalk", "stream_events"]


class ChainWalk:
    """The state of one verification pass over events in seq order.

    Args:
        key: The HMAC key the chain was written with.
    """

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.count = 0
        self.problems: list[VerifyProblem] = []
        self.tombstones: dict[int, Any] = {}
        self.vouched: dict[int, set[int]] = {}
        self.expected = 1
        self.prev_hash = GENESIS_HASH
        self.last: tuple[int, str] | None = None

    def problem(self, seq: int, kind: Any, detail: str) -> None:
        """Note a problem at ``seq``."""
        self.problems.append(VerifyProblem(seq=seq, problem=kind, detail=detail))

    def visit(self, row: RowMapping) -> None:
        """Check the next event (rows must come in seq order)."""
        self.count += 1
        seq = int(row["seq"])
        if seq < self.expected:  # only a seq below 1 can come before the expected one
            self.problem(seq, "unexpected", f"event {seq} is not a valid position in the chain: inserted")
            return
        gap = seq > self.expected
        if gap:
            missing = f"{self.expected}" if seq - self.expected == 1 else f"{self.expected}..{seq - 1}"
            for lost in range(self.expected, seq):
                self.problem(lost, "missing", f"event {lost} was deleted (missing: {missing})")
        if not gap and row["prev_hash"] != self.prev_hash:
            self.problem(seq, "broken_link", f"event {seq} does not link to the event before it")
        digest = record_hash(
            self.key,
            seq=seq,
            at=row["at"],
            actor=row["actor"],
            kind=row["kind"],
            payload_hash=row["payload_hash"],
            prev_hash=row["prev_hash"],
        )
        if digest != row["hash"]:
            self.problem(seq, "hash_mismatch", f"event {seq} was changed after it was written (record or hash)")
        self._check_payload(seq, row)
        self.prev_hash = str(row["hash"])
        self.expected = seq + 1
        self.last = (seq, str(row["hash"]))

    def _check_payload(self, seq: int, row: RowMapping) -> None:
        payload = row["payload"] if isinstance(row["payload"], dict) else {}
        if TOMBSTONE_KEY in payload:
            marker = payload[TOMBSTONE_KEY]
            clean = row["salt"] is None and row["subject"] is None and row["conversation_id"] is None
            if len(payload) != 1 or not isinstance(marker, dict) or not clean:
                self.problem(seq, "bad_tombstone", f"event {seq} has a malformed tombstone")
            else:
                self.tombstones[seq] = marker.get("by_seq")
            return
        salt = row["salt"]
        expected = (
            personal_hash(self.key, str(salt), row["subject"], row["conversation_id"], payload)
            if salt is not None
            else None
        )
        if expected != row["payload_hash"]:
            self.problem(seq, "payload_mismatch", f"the payload, subject or conversation of event {seq} was changed")
            return
        if row["kind"] in ERASING_KINDS:
            self.vouched[seq] = expand_ranges(payload.get("tombstoned"))

    def finish(self, head: tuple[int, str] | None) -> list[VerifyProblem]:
        """Check tombstones and the chain head; return every problem, by seq."""
        for seq, by_seq in sorted(self.tombstones.items()):
            if not isinstance(by_seq, int) or by_seq <= seq or seq not in self.vouched.get(by_seq, set()):
                self.problem(seq, "bad_tombstone", f"no erasure event vouches for the tombstone of event {seq}")
        last_seq, last_hash = self.last if self.last is not None else (0, GENESIS_HASH)
        if head is None:
            self.problem(last_seq or 1, "head_mismatch", "the chain head row is missing")
        elif last_seq > head[0]:
            for seq in range(head[0] + 1, last_seq + 1):
                self.problem(seq, "unexpected", f"event {seq} is past the chain head (seq {head[0]}): inserted")
        elif last_seq < head[0]:
            for seq in range(last_seq + 1, head[0] + 1):
                self.problem(seq, "missing", f"event {seq} was deleted (the chain head is at seq {head[0]})")
        elif last_hash != head[1]:
            self.problem(last_seq, "head_mismatch", f"the chain head does not match event {last_seq}")
        return sorted(self.problems, key=lambda p: (p.seq, p.problem))


def stream_events(conn: Connection) -> Iterator[RowMapping]:
    """Every event in seq order, a page at a time (keyset pagination: constant memory)."""
    after: int | None = None
    while True:
        query = select(audit_events).order_by(audit_events.c.seq).limit(1000)
        if after is not None:
            query = query.where(audit_events.c.seq > after)
        rows = conn.execute(query).mappings().all()
        if not rows:
            return
        yield from rows
        after = int(rows[-1]["seq"])
