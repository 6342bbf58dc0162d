"""Units of work: several stores' writes in one transaction, their side effects after it commits.

A store method opens its own transaction (``writing(engine)``) unless the calling code runs inside a
:func:`unit_of_work` on the same database, in which case it joins that one. Publishing what changed (the live
event hub) goes through :func:`after_commit`, so nobody hears of a change that a later failure rolled back.

A hand-off is the case it exists for: the ticket, the conversation's mode, the hand-off message and the
contact offer were four transactions, each queueing for SQLite's write lock under load; now they are one, and
a crash between them cannot leave a ticket without its hand-off message.

Example:
    >>> with unit_of_work(engine):
    ...     ticket = queue.open_ticket(conversation_id, "needs_human", {})
    ...     conversations.set_mode(conversation_id, "pending_human")
    ... # both committed here, and only then published
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

__all__ = ["after_commit", "unit_of_work", "writing"]


@dataclass
class _Unit:
    engine: Engine
    connection: Connection
    callbacks: list[Callable[[], Any]] = field(default_factory=list)


_CURRENT: ContextVar[_Unit | None] = ContextVar("grounddesk_unit_of_work", default=None)


def _joined(engine: Engine) -> _Unit | None:
    unit = _CURRENT.get()
    # The same database: engines made by read_only() or execution_options() share the pool of their parent.
    return unit if unit is not None and unit.engine.pool is engine.pool else None


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Connection]:
    """One transaction for every :func:`writing` block on ``engine`` inside; callbacks run once it commits.

    Nested units on the same database join the outer one. An exception rolls everything back and drops the
    callbacks.
    """
    outer = _joined(engine)
    if outer is not None:
        yield outer.connection
        return
    with engine.begin() as connection:
        unit = _Unit(engine, connection)
        token = _CURRENT.set(unit)
        try:
            yield connection
        finally:
            _CURRENT.reset(token)
    for callback in unit.callbacks:
        callback()


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()``, or the connection of the unit of work around the caller on the same database."""
    unit = _joined(engine)
    if unit is not None:
        yield unit.connection
        return
    with engine.begin() as connection:
        yield connection


def after_commit(engine: Engine, callback: Callable[[], Any]) -> None:
    """Run ``callback`` once the surrounding unit of work on ``engine`` commits; now when there is none."""
    unit = _joined(engine)
    if unit is None:
        callback()
    else:
        unit.callbacks.append(callback)
