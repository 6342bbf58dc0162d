"""Helpers of the fault tests: a prepared service home, an in-process service stack, PostgreSQL control.

The in-process stack is the shipped service (``build_services`` + ``create_app``) served by uvicorn in a thread,
with the model-free HashingEmbedder: the tests reach into ``Stack.services`` to put the stores in the state a crash
would leave them in, then drive the customer's side over HTTP and the WebSocket.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from grounddesk.api.app import create_app
from grounddesk.api.auth import AuthSettings, Role
from grounddesk.api.services import Services, build_services
from grounddesk.api.settings import LimitsSettings, ServiceSettings
from grounddesk.config import AgentSettings, DatabaseSettings, Settings
from grounddesk.testing.asgi_server import AsgiServer
from grounddesk.testing.embedders import HashingEmbedder
from grounddesk.testing.service_process import HASHING_DIMENSION, prepare_home, service_env

WAIT_S = 30.0
POLICY_QUESTION = "What is your return policy?"
ANSWER_THRESHOLD = "0.3"  # the HashingEmbedder's confidence is lower than the real model's
STAFF_PASSWORD = "trail-mix-Harbour-42"
_REPLY_TYPES = ("answer", "clarify", "handoff")


def fault_settings(home: Path, database_url: str | None = None) -> Settings:
    """Settings of a fault-test service: the drills measure durability, so the abuse limits are off."""
    return Settings(
        home=home,
        database=DatabaseSettings(url=database_url),
        agent=AgentSettings(answer_threshold=float(ANSWER_THRESHOLD)),
        auth=AuthSettings(password_time_cost=1, password_memory_kib=1024, password_parallelism=1),
        service=ServiceSettings(limits=LimitsSettings(enabled=False)),
    )


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of a service child process with the same configuration as ``settings``."""
    return service_env(
        settings,
        GROUNDDESK_AGENT_ANSWER_THRESHOLD=ANSWER_THRESHOLD,
        GROUNDDESK_SERVICE_LIMITS=json.dumps({"enabled": False}),
    )


def prepared_home(home: Path, database_url: str | None = None) -> Settings:
    """A home with the demo help centre imported and approved (HashingEmbedder vectors)."""
    settings = fault_settings(home, database_url)
    prepare_home(settings)
    return settings


# -- the in-process stack ----------------------------------------------------------------------------------------


@dataclass
class Stack:
    """The running service and the objects behind it."""

    services: Services
    server: AsgiServer
    staff_token: str

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=WAIT_S)

    def start_conversation(self) -> dict[str, Any]:
        with self.http() as client:
            response = client.post("/v1/conversations", json={})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def post_message(self, conversation: dict[str, Any], text: str, client_message_id: str) -> httpx.Response:
        with self.http() as client:
            return client.post(
                f"/v1/conversations/{conversation['id']}/messages",
                json={"client_message_id": client_message_id, "text": text},
                headers=auth(conversation),
            )

    def events(self, conversation: dict[str, Any]) -> list[dict[str, Any]]:
        with self.http() as client:
            response = client.get(f"/v1/conversations/{conversation['id']}", headers=auth(conversation))
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    def customer_ws(self, conversation: dict[str, Any], after: int = 0) -> ClientConnection:
        url = f"{self.ws_url}/v1/conversations/{conversation['id']}/ws?token={conversation['token']}&after={after}"
        return connect(url, open_timeout=WAIT_S)

    @contextmanager
    def console_ws(self) -> Iterator[ClientConnection]:
        """The support agent's console socket, once it says it listens (its first frame, ``ready``)."""
        with connect(f"{self.ws_url}/v1/staff/ws?token={self.staff_token}", open_timeout=WAIT_S) as ws:
            ready = json.loads(ws.recv(timeout=WAIT_S))
            assert ready["type"] == "ready", ready
            yield ws


def start_stack(settings: Settings) -> Stack:
    services = build_services(settings, embedder=HashingEmbedder(HASHING_DIMENSION))
    try:
        services.staff.create_user("kim", STAFF_PASSWORD, Role.AGENT, display_name="Kim")
        token = services.staff.login("kim", STAFF_PASSWORD)[0]
        server = AsgiServer(create_app(settings, services=services), ws="websockets-sansio").start()
    except BaseException:
        services.close()
        raise
    return Stack(services=services, server=server, staff_token=token)


def stop_stack(stack: Stack) -> None:
    stack.server.stop()
    stack.services.close()


def auth(conversation: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {conversation['token']}"}


def new_id() -> str:
    return uuid.uuid4().hex


def recv_until(ws: ClientConnection, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Frames received until (and including) the first one ``done`` accepts."""
    frames: list[dict[str, Any]] = []
    while True:
        frame = json.loads(ws.recv(timeout=WAIT_S))
        frames.append(frame)
        if done(frame):
            return frames


def reply_to(client_message_id: str) -> Callable[[dict[str, Any]], bool]:
    """Accepts the stored reply (answer, clarify or handoff) to a customer message."""
    return lambda f: f.get("reply_to") == client_message_id and f["type"] in _REPLY_TYPES


def replies(events: list[dict[str, Any]], client_message_id: str) -> list[str]:
    """The types of the stored replies to a customer message."""
    return [e["type"] for e in events if e["reply_to"] == client_message_id and e["type"] in _REPLY_TYPES]
