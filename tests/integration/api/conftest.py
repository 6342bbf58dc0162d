"""Fixtures of the service tests (see ``service_stack.py``): one running service per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from service_stack import Stack, import_demo_knowledge, make_settings, start_stack, stop_stack

from grounddesk.testing.embedders import HashingEmbedder


@pytest.fixture(scope="module")
def embedder() -> HashingEmbedder:
    return HashingEmbedder(256)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, embedder: HashingEmbedder) -> Iterator[Stack]:
    """One running service per test module (tests use their own conversations)."""
    settings = make_settings(tmp_path_factory.mktemp("service-home"))
    import_demo_knowledge(settings, embedder)
    running = start_stack(settings, embedder)
    yield running
    stop_stack(running)
