"""Helpers of the service tests: the whole service on a temporary home with the demo help centre.

The service runs for real (uvicorn on 127.0.0.1 in a thread, WebSockets enabled) over the demo knowledge,
imported and approved once per module. The embedder is the model-free ``HashingEmbedder``, with a lower answer
threshold so that its (lower) confidence still answers the plain policy questions the tests ask.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import SecretStr
from websockets.sync.client import ClientConnection, connect

from grounddesk.api.app import create_app
from grounddesk.api.auth import AuthSettings, Role
from grounddesk.api.auth_tokens import sign_identity
from grounddesk.api.services import Services, build_services
from grounddesk.api.settings import ServiceSettings
from grounddesk.config import AgentSettings, DatabaseSettings, Settings
from grounddesk.demo import knowledge_dir
from grounddesk.escalation import BusinessHours, EscalationSettings
from grounddesk.testing.asgi_server import AsgiServer
from grounddesk.testing.clock import FakeClock
from grounddesk.testing.embedders import HashingEmbedder
from grounddesk.wiring import build_knowledge_base

IDENTITY_SECRET = "northwind-site-identity-secret-0123456789"
PASSWORD = "trail-mix-Harbour-42"
WAIT_S = 30.0


def make_settings(home: Path, database_url: str | None = None, **service: Any) -> Settings:
    return Settings(
        home=home,
        database=DatabaseSettings(url=database_url),
        agent=AgentSettings(answer_threshold=0.3),
        auth=AuthSettings(
            identity_secret=SecretStr(IDENTITY_SECRET),
            password_time_cost=1,
            password_memory_kib=1024,
            password_parallelism=1,
        ),
        # Friday 20 November 2026, 12:00 UTC (the fake clock's start) is inside these hours.
        escalation=EscalationSettings(business_hours=BusinessHours()),
        service=ServiceSettings(**service),
    )


def import_demo_knowledge(settings: Settings, embedder: HashingEmbedder) -> None:
    kb = build_knowledge_base(settings, embedder=embedder)
    try:
        report = kb.import_paths([knowledge_dir()], approve=True)
        assert not report.errors
    finally:
        kb.close()


@dataclass
class Stack:
    """The running service and handles to drive it."""

    settings: Settings
    services: Services
    server: AsgiServer
    clock: FakeClock
    staff_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=WAIT_S)

    def staff(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.staff_tokens[username]}"}

    def start_conversation(self, customer_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"identity": None}
        if customer_id is not None:
            ts = int(self.clock().timestamp())
            body["identity"] = {
                "customer_id": customer_id,
                "timestamp": ts,
                "signature": sign_identity(customer_id, ts, IDENTITY_SECRET),
            }
        with self.http() as client:
            response = client.post("/v1/conversations", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def customer_ws(self, conversation: dict[str, Any], after: int = 0) -> ClientConnection:
        url = f"{self.ws_url}/v1/conversations/{conversation['id']}/ws?token={conversation['token']}&after={after}"
        return connect(url, open_timeout=WAIT_S)

    @contextmanager
    def staff_ws(self, username: str = "kim") -> Iterator[ClientConnection]:
        """The console's socket, once the server says it listens (its first frame, ``ready``)."""
        url = f"{self.ws_url}/v1/staff/ws?token={self.staff_tokens[username]}"
        with connect(url, open_timeout=WAIT_S) as ws:
            ready = json.loads(ws.recv(timeout=WAIT_S))
            assert ready["type"] == "ready" and ready["user"]["username"] == username, ready
            yield ws

    def post_message(self, conversation: dict[str, Any], text: str, client_message_id: str) -> httpx.Response:
        with self.http() as client:
            return client.post(
                f"/v1/conversations/{conversation['id']}/messages",
                json={"client_message_id": client_message_id, "text": text},
                headers={"Authorization": f"Bearer {conversation['token']}"},
            )


STAFF = {"kim": Role.AGENT, "lee": Role.AGENT, "maya": Role.KNOWLEDGE_MANAGER, "root": Role.ADMIN}


def start_stack(settings: Settings, embedder: HashingEmbedder, *, lifespan: Literal["on", "off"] = "off") -> Stack:
    """The service on a free port; with ``lifespan="on"`` stopping it waits for the turns still running."""
    clock = FakeClock()
    services = build_services(settings, embedder=embedder, clock=clock)
    try:
        for username, role in STAFF.items():
            services.staff.create_user(username, PASSWORD, role, display_name=username.title())
        tokens = {name: services.staff.login(name, PASSWORD)[0] for name in STAFF}
        server = AsgiServer(create_app(settings, services=services), ws="websockets-sansio", lifespan=lifespan).start()
    except BaseException:
        services.close()
        raise
    return Stack(settings=settings, services=services, server=server, clock=clock, staff_tokens=tokens)


def stop_stack(stack: Stack) -> None:
    stack.server.stop()
    stack.services.close()


# -- reading frames ---------------------------------------------------------------------------------------------


def recv_until(
    ws: ClientConnection, done: Callable[[dict[str, Any]], bool], timeout_s: float = WAIT_S
) -> list[dict[str, Any]]:
    """Frames received until (and including) the first one ``done`` accepts; fails after ``timeout_s``."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching frame within {timeout_s}s; got {frames}")
        frame = json.loads(ws.recv(timeout=remaining))
        frames.append(frame)
        if done(frame):
            return frames


def say(ws: ClientConnection, text: str, client_message_id: str | None = None) -> str:
    """Send a customer ``message`` frame; returns its client message id."""
    message_id = client_message_id or uuid.uuid4().hex
    ws.send(json.dumps({"type": "message", "client_message_id": message_id, "text": text}))
    return message_id


def of_type(*types: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame.get("type") in types


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The ``data:`` payloads of a Server-Sent Events response, as they arrive."""
    for line in response.iter_lines():
        if line.startswith("data: "):
            yield json.loads(line[len("data: ") :])
