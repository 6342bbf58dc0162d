"""Fixtures of the browser tests: the real service on a demo home, and a real Chromium driven by Playwright.

The home is prepared as ``grounddesk demo --no-serve`` prepares it (demo CRM/ERP back-end, the demo help centre
imported and approved, an agent and a knowledge manager), grounddesk's SQL store is the ``sql_url`` database
(SQLite and PostgreSQL), the embedder is the real bundled model (loaded once per session) and the app is served by
uvicorn on 127.0.0.1 with WebSockets. Staff are available around the clock, so a handoff never depends on the
hour the tests run at.

Environment:
    GROUNDDESK_TEST_CHROMIUM: the Chromium binary (default ``/usr/bin/chromium``); the tests are skipped without it.
    GROUNDDESK_TEST_SCREENSHOTS: where screenshots go (default: the test's ``tmp_path``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from grounddesk.api.app import create_app
from grounddesk.api.auth_staff import create_user_command
from grounddesk.api.services import Services, build_services
from grounddesk.config import DatabaseSettings, Settings
from grounddesk.connectors.demo import DemoBackend
from grounddesk.db import create_engine_for
from grounddesk.demo import knowledge_dir
from grounddesk.escalation import EscalationSettings
from grounddesk.knowledge.embeddings import SentenceTransformerEmbedder
from grounddesk.testing.asgi_server import AsgiServer
from grounddesk.wiring import build_embedder, build_knowledge_base

CHROMIUM_ENV = "GROUNDDESK_TEST_CHROMIUM"
SCREENSHOTS_ENV = "GROUNDDESK_TEST_SCREENSHOTS"


@dataclass(frozen=True)
class StaffLogin:
    """A staff account of the demo home."""

    username: str
    password: str
    role: str
    display_name: str


AGENT = StaffLogin("agent", "agent-demo-pass", "agent", "Kim (support agent)")
KNOWLEDGE_MANAGER = StaffLogin("knowledge", "knowledge-demo-pass", "knowledge_manager", "Sam (knowledge manager)")


@dataclass(frozen=True)
class RunningService:
    """The service under test."""

    url: str
    settings: Settings
    services: Services
    backend: str
    agent: StaffLogin = AGENT
    knowledge_manager: StaffLogin = KNOWLEDGE_MANAGER


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real bundled embedding model, loaded once for the whole session."""
    return build_embedder(Settings())


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's sync driver (skips when no Chromium binary is installed)."""
    binary = os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium")
    if not Path(binary).is_file():
        pytest.skip(f"no Chromium binary at {binary} (set {CHROMIUM_ENV} to one)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """A headless Chromium shared by the session (every test opens its own contexts)."""
    binary = os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium")
    # Chromium's sandbox refuses to start as root (containers, CI runners).
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    launched = playwright_driver.chromium.launch(executable_path=binary, args=args)
    yield launched
    launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """The folder screenshots are written to."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def prepare_demo_home(settings: Settings, embedder: SentenceTransformerEmbedder) -> None:
    """Do what ``grounddesk demo --no-serve`` does: demo back-end, approved help centre, staff accounts."""
    settings.home.mkdir(parents=True, exist_ok=True)
    DemoBackend.create(settings.demo_backend_path)
    kb = build_knowledge_base(settings, embedder=embedder)
    try:
        report = kb.import_paths([knowledge_dir()], approve=True, actor="demo")
        assert not report.errors, report.errors
        assert report.imported
    finally:
        kb.close()
    engine = create_engine_for(settings.database_url())
    try:
        for user in (AGENT, KNOWLEDGE_MANAGER):
            create_user_command(engine, user.username, user.password, user.role, display_name=user.display_name)
    finally:
        engine.dispose()


@pytest.fixture
def service(sql_url: str, tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[RunningService]:
    """The real app on a demo home, served on 127.0.0.1, with grounddesk's SQL store on ``sql_url``."""
    settings = Settings(
        home=tmp_path / "home",
        database=DatabaseSettings(url=sql_url),
        escalation=EscalationSettings(business_hours=None),
    )
    prepare_demo_home(settings, embedder)
    services = build_services(settings, embedder=embedder)
    try:
        with AsgiServer(create_app(settings, services=services), ws="websockets-sansio") as server:
            backend = "postgres" if sql_url.startswith("postgresql") else "sqlite"
            yield RunningService(url=server.base_url, settings=settings, services=services, backend=backend)
    finally:
        services.close()
