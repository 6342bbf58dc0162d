"""The idempotency ledger of CRM/ERP writes: one SQL row per idempotency key.

A write wrapped by :class:`grounddesk.connectors.resilience.ResilientCRM` / ``ResilientERP`` first *claims* its
key here. The claim is one atomic ``INSERT ... ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL both have it), so
of two replicas sending the same write at the same moment exactly one gets the key; the other finds the row and
either returns the stored result or waits for it. A row moves ``pending -> done`` (with the result) or
``pending -> failed`` (with the error code); a failed key, or a ``pending`` one left behind by a process that
died mid-call, may be claimed again, by one caller only (compare-and-set on ``status`` and ``updated_at``).

The table is created by the migration ``0002_connector_ledger``; a test compares the two.

Example:
    >>> ledger = IdempotencyLedger(engine)
    >>> claim = ledger.claim("k1", connector="demo-crm", operation="create_case", request_hash=h)
    >>> if claim.acquired:
    ...     ledger.complete("k1", case.model_dump(mode="json"))
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import CheckConstraint, Column, Engine, String, Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping

from grounddesk.db.base import JSONType, metadata
from grounddesk.db.engine import assert_engine_configured, read_only
from grounddesk.db.types import UTCDateTime, utc_now

__all__ = ["Claim", "IdempotencyLedger", "LedgerEntry", "LedgerStatus", "connector_ledger"]

LedgerStatus = Literal["pending", "done", "failed"]

connector_ledger = Table(
    "connector_ledger",
    metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("connector", String(50), nullable=False),
    Column("operation", String(50), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", JSONType, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('pending', 'done', 'failed')", name="status"),
)


class LedgerEntry(BaseModel):
    """One row of the ledger."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    connector: str
    operation: str
    request_hash: str
    status: LedgerStatus
    result: Any = None
    error_code: str | None = None
    created_at: datetime
    updated_at: datetime


class Claim(BaseModel):
    """The outcome of :meth:`IdempotencyLedger.claim`.

    ``acquired`` is True when the caller now owns the key and must call the back-end, then
    :meth:`~IdempotencyLedger.complete` or :meth:`~IdempotencyLedger.fail`. Otherwise ``entry`` is the row
    someone else holds: ``done`` (return its result), or ``pending`` (a call in flight elsewhere), or a row
    whose ``request_hash`` differs from the caller's (the key was reused for another request).
    """

    model_config = ConfigDict(frozen=True)

    acquired: bool
    entry: LedgerEntry


class IdempotencyLedger:
    """Idempotency keys of CRM/ERP writes in grounddesk's SQL store (SQLite or PostgreSQL).

    Args:
        engine: An engine made by :func:`grounddesk.db.create_engine_for`, migrated with
            :func:`grounddesk.db.upgrade`.
        now: Wall clock for ``created_at`` / ``updated_at`` and for deciding that a ``pending`` row is stale.

    Raises:
        ConfigurationError: A SQLite engine not built by ``create_engine_for``.
    """

    def __init__(self, engine: Engine, *, now: Callable[[], datetime] = utc_now) -> None:
        assert_engine_configured(engine)
        self._engine = engine
        self._reader = read_only(engine)
        self._now = now

    def claim(
        self,
        key: str,
        *,
        connector: str,
        operation: str,
        request_hash: str,
        stale_after_s: float | None = None,
    ) -> Claim:
        """Take ``key`` for one call, atomically.

        A new key is inserted as ``pending``. An existing key with the same ``request_hash`` is taken over when
        it is ``failed``, or ``pending`` and not updated for ``stale_after_s`` (its caller presumably died);
        of several callers trying at once, one wins.

        Args:
            key: The idempotency key.
            connector: Name of the connector (kept for audits).
            operation: The write (``create_case``, ``create_return``, ...).
            request_hash: Hash of the request; a different request under the same key is never taken over.
            stale_after_s: Age after which a ``pending`` row may be taken over; None never takes one over.

        Returns:
            Whether the caller owns the key, and the row as it is now.
        """
        now = self._now()
        values = {
            "idempotency_key": key,
            "connector": connector,
            "operation": operation,
            "request_hash": request_hash,
            "status": "pending",
            "result": None,
            "error_code": None,
            "created_at": now,
            "updated_at": now,
        }
        with self._engine.begin() as conn:
            # RETURNING, not rowcount: SQLAlchemy's psycopg driver does not always report a row count.
            inserted = conn.execute(_insert_ignoring_conflict(self._engine, values)).first() is not None
            if inserted:
                return Claim(acquired=True, entry=LedgerEntry.model_validate(values))
            takeover = [connector_ledger.c.status == "failed"]
            if stale_after_s is not None:
                cutoff = now - timedelta(seconds=stale_after_s)
                takeover.append(and_(connector_ledger.c.status == "pending", connector_ledger.c.updated_at <= cutoff))
            taken = conn.execute(
                update(connector_ledger)
                .where(
                    connector_ledger.c.idempotency_key == key,
                    connector_ledger.c.request_hash == request_hash,
                    or_(*takeover),
                )
                .values(status="pending", result=None, error_code=None, updated_at=now)
                .returning(connector_ledger.c.idempotency_key)
            ).first()
            row = self._select(conn, key)
        if row is None:  # pragma: no cover - rows are never deleted while the process runs
            raise RuntimeError(f"ledger row {key!r} vanished")
        return Claim(acquired=taken is not None, entry=_entry(row))

    def complete(self, key: str, result: Any) -> None:
        """Record the result of the call that owns ``key``.

        Args:
            key: A key this caller acquired.
            result: The JSON form of the result (``model.model_dump(mode="json")``).
        """
        with self._engine.begin() as conn:
            conn.execute(
                update(connector_ledger)
                .where(connector_ledger.c.idempotency_key == key)
                .values(status="done", result=result, error_code=None, updated_at=self._now())
            )

    def fail(self, key: str, error_code: str) -> None:
        """Record that the call that owns ``key`` failed; the key may be claimed again.

        Args:
            key: A key this caller acquired.
            error_code: The stable code of the error (:class:`grounddesk.errors.ErrorCode`).
        """
        with self._engine.begin() as conn:
            conn.execute(
                update(connector_ledger)
                .where(connector_ledger.c.idempotency_key == key, connector_ledger.c.status == "pending")
                .values(status="failed", error_code=error_code[:64], updated_at=self._now())
            )

    def get(self, key: str) -> LedgerEntry | None:
        """The row of ``key``, or None.

        Args:
            key: The idempotency key.

        Returns:
            The row as it is now.
        """
        with self._reader.connect() as conn:
            row = self._select(conn, key)
        return None if row is None else _entry(row)

    @staticmethod
    def _select(conn: Any, key: str) -> RowMapping | None:
        result = conn.execute(select(connector_ledger).where(connector_ledger.c.idempotency_key == key))
        row: RowMapping | None = result.mappings().one_or_none()
        return row


def _insert_ignoring_conflict(engine: Engine, values: dict[str, Any]) -> Any:
    if engine.dialect.name == "postgresql":
        pg = postgresql.insert(connector_ledger).values(values).on_conflict_do_nothing()
        return pg.returning(connector_ledger.c.idempotency_key)
    lite = sqlite.insert(connector_ledger).values(values).on_conflict_do_nothing()
    return lite.returning(connector_ledger.c.idempotency_key)


def _entry(row: RowMapping) -> LedgerEntry:
    return LedgerEntry.model_validate(dict(row))
