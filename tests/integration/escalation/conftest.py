"""Fixtures of the escalation tests: a migrated database (SQLite and PostgreSQL), a fake clock, the stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from grounddesk.db import create_engine_for, upgrade
from grounddesk.escalation import ConversationStore, EscalationSettings, SqlTicketQueue
from grounddesk.testing.clock import FakeClock


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sql_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def conversations(engine: Engine, clock: FakeClock) -> ConversationStore:
    return ConversationStore(engine, clock)


@pytest.fixture
def queue(engine: Engine, clock: FakeClock) -> SqlTicketQueue:
    return SqlTicketQueue(engine, EscalationSettings(), clock)
