from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grounddesk.config import DatabaseSettings, QdrantSettings, Settings
from grounddesk.knowledge.service import KnowledgeBase
from grounddesk.testing.embedders import HashingEmbedder
from grounddesk.wiring import build_knowledge_base


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "edge"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_kb(tmp_path: Path, sql_url: str, store_kind: str, clock: Clock) -> Iterator[Callable[[], KnowledgeBase]]:
    """Builds knowledge bases on one home (SQLite or PostgreSQL x memory or edge), closing them at the end."""
    opened: list[KnowledgeBase] = []
    settings = Settings(
        home=tmp_path / "home",
        database=DatabaseSettings(url=sql_url),
        qdrant=QdrantSettings(embedded=store_kind),  # type: ignore[arg-type]
    )

    def make() -> KnowledgeBase:
        kb = build_knowledge_base(settings, embedder=HashingEmbedder(), clock=clock)
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.close()


@pytest.fixture
def kb(make_kb: Callable[[], KnowledgeBase]) -> KnowledgeBase:
    return make_kb()
