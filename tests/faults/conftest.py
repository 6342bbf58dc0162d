"""Fault tests: the service killed under load, PostgreSQL restarted, the knowledge store gone, re-sent messages.

They are marked ``faults`` (``pytest -m faults`` runs only them, ``-m "not faults"`` skips them) and run with the
rest of the suite in ``make test``. The drills start the service in child processes and take a minute or two each.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faults_support import Stack, prepared_home, start_stack, stop_stack

from grounddesk.config import Settings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault-injection tests (kill -9, database restarts, lost stores)")


@pytest.fixture(scope="module")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A SQLite home with the demo help centre, approved."""
    return prepared_home(tmp_path_factory.mktemp("faults") / "home")


@pytest.fixture(scope="module")
def stack(stack_home: Settings) -> Iterator[Stack]:
    """The service in this process (one per module; tests use their own conversations)."""
    running = start_stack(stack_home)
    yield running
    stop_stack(running)


@pytest.fixture
def fresh_home(tmp_path: Path) -> Settings:
    """A SQLite home of its own, with the demo help centre."""
    return prepared_home(tmp_path / "home")
