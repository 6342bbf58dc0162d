"""What the demo CRM and ERP share: the SQLite engine, error mapping, native idempotency and the health check."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from grounddesk.connectors._demo_schema import customers, demo_metadata, idempotency_keys
from grounddesk.connectors.types import ConnectorHealth, ConnectorUnavailable, ConnectorValidationError
from grounddesk.db.engine import assert_engine_configured, create_engine_for, read_only
from grounddesk.db.types import utc_now

__all__ = ["DemoConnectorBase", "revalidate", "sqlite_url"]

logger = logging.getLogger(__name__)

#: How many times a write is tried when a concurrent writer took its idempotency key first.
_KEY_RACE_ATTEMPTS = 2


_Model = TypeVar("_Model", bound=BaseModel)


def revalidate(model: type[_Model], value: _Model, connector: str) -> _Model:
    """``value`` validated again: one built with ``model_construct()`` skipped validation, and a back-end refuses it.

    Raises:
        ConnectorValidationError: The values break the model's rules.
    """
    try:
        return model.model_validate(value.model_dump())
    except ValidationError as exc:
        raise ConnectorValidationError(f"Invalid {model.__name__}: {exc}", connector=connector) from exc


def _cause(exc: SQLAlchemyError) -> str:
    # The driver's message ("database is locked", "disk I/O error") without SQLAlchemy's statement dump.
    return str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{Path(path).expanduser()}"


class DemoConnectorBase:
    """A connector over the demo back-end's SQLite database.

    Args:
        engine_or_path: The SQLite file (its tables are created if missing), or an engine made by
            :func:`grounddesk.db.create_engine_for` (not disposed by :meth:`close`).
        clock: The source of "now" for records written (UTC).

    Raises:
        ConfigurationError: A SQLite engine not made by ``create_engine_for``.
        ConnectorUnavailable: The database cannot be opened.
    """

    name: str = "demo"
    kind: Literal["crm", "erp"] = "crm"

    def __init__(self, engine_or_path: Engine | str | Path, *, clock: Callable[[], datetime] = utc_now) -> None:
        if isinstance(engine_or_path, Engine):
            assert_engine_configured(engine_or_path)
            self._engine, self._owns_engine = engine_or_path, False
        else:
            self._engine, self._owns_engine = create_engine_for(sqlite_url(engine_or_path)), True
        self._reader = read_only(self._engine)
        self._clock = clock
        self._closed = False
        with self._guard():
            demo_metadata.create_all(self._engine)

    @classmethod
    def open(cls, path: str | Path) -> Self:
        """The connector on the demo back-end file at ``path``."""
        return cls(path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections (idempotent); an engine given by the caller stays open."""
        if not self._closed and self._owns_engine:
            self._engine.dispose()
        self._closed = True

    def health(self) -> ConnectorHealth:
        """Query the database once; never raises."""
        started = time.perf_counter()
        try:
            with self._reader.connect() as conn:
                count = conn.execute(select(func.count()).select_from(customers)).scalar_one()
        except SQLAlchemyError as exc:
            return ConnectorHealth(name=self.name, kind=self.kind, ok=False, detail=f"database error: {_cause(exc)}")
        latency_ms = (time.perf_counter() - started) * 1000
        return ConnectorHealth(
            name=self.name, kind=self.kind, ok=True, latency_ms=latency_ms, detail=f"{count} customers"
        )

    # -- for subclasses ------------------------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn database failures into :class:`ConnectorUnavailable`."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise ConnectorUnavailable(f"The demo back-end failed: {_cause(exc)}", connector=self.name) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction (it neither waits for nor blocks a writer)."""
        with self._guard(), self._reader.connect() as conn:
            yield conn

    def _now(self) -> datetime:
        return self._clock().replace(microsecond=0)

    def _write_once(self, operation: str, idempotency_key: str, write: Callable[[Connection], str]) -> str:
        """Run ``write`` once per key and give back the id of the record it made.

        The key is stored in the write's own transaction, so a write and its key commit or vanish together.
        Transactions start with ``BEGIN IMMEDIATE``: two writers with one key queue up, and the second finds
        the first one's key.
        """
        if not idempotency_key or len(idempotency_key) > 255:
            raise ConnectorValidationError(
                "An idempotency key of 1 to 255 characters is required", connector=self.name, operation=operation
            )
        for attempt in range(_KEY_RACE_ATTEMPTS):
            try:
                with self._guard(), self._engine.begin() as conn:
                    found: str | None = conn.execute(
                        select(idempotency_keys.c.result_id).where(
                            idempotency_keys.c.operation == operation, idempotency_keys.c.key == idempotency_key
                        )
                    ).scalar_one_or_none()
                    if found is not None:
                        logger.info(
                            "idempotent replay",
                            extra={"connector": self.name, "operation": operation, "record_id": found},
                        )
                        return found
                    result_id = write(conn)
                    conn.execute(
                        insert(idempotency_keys).values(
                            operation=operation, key=idempotency_key, result_id=result_id, created_at=self._now()
                        )
                    )
            except ConnectorUnavailable as exc:
                # Only a database without write serialisation lets two writers in; the loser reads the key.
                if not isinstance(exc.__cause__, IntegrityError) or attempt + 1 == _KEY_RACE_ATTEMPTS:
                    raise
                continue
            logger.info("write", extra={"connector": self.name, "operation": operation, "record_id": result_id})
            return result_id
        raise AssertionError("unreachable")  # pragma: no cover
