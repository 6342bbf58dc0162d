"""Abuse limits of the service: per-address and per-conversation rates, the message size, the turn cap.

In-process (TestClient) with the module's services and variant settings; the WebSocket checks go through the
same app. A bucket refilling at a tiny rate makes every Retry-After deterministic without a fake clock.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient
from service_stack import Stack, recv_until
from websockets.sync.client import connect

from grounddesk.api.app import create_app
from grounddesk.api.settings import LimitsSettings, ServiceSettings
from grounddesk.config import Settings
from grounddesk.testing.asgi_server import AsgiServer

SLOW = 0.6  # tokens per minute: one every 100 s, so a refused request is told to wait about 100 s


def _settings(stack: Stack, **service: Any) -> Settings:
    return stack.settings.model_copy(update={"service": ServiceSettings(**service)})


@contextmanager
def _client(stack: Stack, **service: Any) -> Iterator[TestClient]:
    settings = _settings(stack, **service)
    services = dataclasses.replace(stack.services, settings=settings)  # the same stores, the variant settings
    with TestClient(create_app(settings, services=services)) as client:
        yield client


def _start(client: TestClient | httpx.Client) -> dict[str, Any]:
    response = client.post("/v1/conversations", json={"identity": None})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _post(client: TestClient | httpx.Client, conversation: dict[str, Any], text: str, message_id: str) -> Any:
    return client.post(
        f"/v1/conversations/{conversation['id']}/messages",
        json={"client_message_id": message_id, "text": text},
        headers={"Authorization": f"Bearer {conversation['token']}"},
    )


def test_an_address_over_its_rate_gets_429_with_retry_after(stack: Stack) -> None:
    limits = LimitsSettings(ip_per_minute=SLOW, ip_burst=3)
    with _client(stack, limits=limits) as client:
        accepted = [client.post("/v1/conversations", json={"identity": None}).status_code for _ in range(3)]
        refused = client.post("/v1/conversations", json={"identity": None})
        health = client.get("/healthz")  # not a counted path
        pages = client.get("/v1/widget/config")  # not counted either
    assert accepted == [201, 201, 201]
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "rate_limited" and "Too many requests" in body["detail"]
    assert 90 <= int(refused.headers["retry-after"]) <= 100 and body["retry_after_s"] == int(
        refused.headers["retry-after"]
    )
    assert refused.headers["content-security-policy"]  # refusals carry the security headers too
    assert health.status_code == 200 and pages.status_code == 200


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(stack: Stack) -> None:
    limits = LimitsSettings(ip_per_minute=SLOW, ip_burst=1)

    def create(client: TestClient, forwarded: str) -> int:
        response = client.post("/v1/conversations", json={"identity": None}, headers={"X-Forwarded-For": forwarded})
        return response.status_code

    with _client(stack, limits=limits) as untrusted:
        # Without a trusted proxy the header is the client's to forge: one bucket for the socket's address.
        assert [create(untrusted, "198.51.100.1"), create(untrusted, "198.51.100.2")] == [201, 429]
    with _client(stack, limits=limits, trusted_proxy_hops=1) as proxied:
        # Behind one proxy, the entry it appended is the client; what the client put before it is ignored.
        assert create(proxied, "198.51.100.1") == 201
        assert create(proxied, "198.51.100.2") == 201
        assert create(proxied, "6.6.6.6, 198.51.100.1") == 429


def test_a_conversation_sending_too_fast_gets_429_and_others_are_unaffected(stack: Stack) -> None:
    limits = LimitsSettings(conversation_messages_per_minute=SLOW, conversation_burst=2)
    with _client(stack, limits=limits) as client:
        busy, calm = _start(client), _start(client)
        statuses = [_post(client, busy, "hello there", f"m{i}").status_code for i in range(2)]
        refused = _post(client, busy, "hello again", "m2")
        other = _post(client, calm, "hello there", "m0")
    assert statuses == [202, 202]
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert 90 <= int(refused.headers["retry-after"]) <= 100
    assert other.status_code == 202
    stored = [e.client_message_id for e in stack.services.conversations.events_after(busy["id"], 0)]
    assert "m2" not in stored  # nothing of a refused message is stored


def test_a_conversation_at_its_turn_cap_gets_a_polite_429_and_retries_still_pass(stack: Stack) -> None:
    settings = _settings(stack, limits=LimitsSettings(max_turns_per_conversation=2))
    app = create_app(settings, services=dataclasses.replace(stack.services, settings=settings))
    # Served for real: the socket part goes through uvicorn and a real WebSocket client.
    with (
        AsgiServer(app, ws="websockets-sansio") as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        conversation = _start(client)
        first = _post(client, conversation, "hi", "t1")
        second = _post(client, conversation, "thanks", "t2")
        over = _post(client, conversation, "one more thing", "t3")
        resent = _post(client, conversation, "thanks", "t2")  # a retry of a stored message is not a new turn
        ws_url = server.base_url.replace("http://", "ws://", 1)
        with connect(
            f"{ws_url}/v1/conversations/{conversation['id']}/ws?token={conversation['token']}&after=1000",
            open_timeout=30,
        ) as ws:
            ws.send(json.dumps({"type": "message", "client_message_id": "t4", "text": "hello?"}))
            # Live pieces of the earlier turns' replies may come first.
            frame = recv_until(ws, lambda f: f.get("type") == "error")[-1]
    assert [first.status_code, second.status_code] == [202, 202]
    assert over.status_code == 429 and "retry-after" not in over.headers
    body = over.json()
    assert body["code"] == "conversation_limit" and body["limit"] == 2
    assert "start a new conversation" in body["detail"] and "Thank you" in body["detail"]
    assert resent.status_code == 202 and resent.json()["duplicate"] is True
    assert frame["reply_to"] == "t4" and "start a new conversation" in frame["text"]


def test_a_message_over_the_configured_length_is_413_message_too_long(stack: Stack) -> None:
    with _client(stack, max_message_chars=50) as client:
        conversation = _start(client)
        long = _post(client, conversation, "x" * 51, "long")
        fits = _post(client, conversation, "y" * 50, "fits")
        config = client.get("/v1/widget/config").json()
    assert long.status_code == 413
    assert long.json() == {
        "code": "message_too_long",
        "detail": "A message may have at most 50 characters; please shorten it.",
        "limit": 50,
    }
    assert fits.status_code == 202
    assert config["max_message_chars"] == 50


def test_with_limits_disabled_nothing_is_refused(stack: Stack) -> None:
    limits = LimitsSettings(enabled=False, ip_burst=1, conversation_burst=1, max_turns_per_conversation=1)
    with _client(stack, limits=limits) as client:
        conversation = _start(client)
        again = client.post("/v1/conversations", json={"identity": None})
        statuses = [_post(client, conversation, "hello", f"d{i}").status_code for i in range(3)]
    assert again.status_code == 201 and statuses == [202, 202, 202]


def test_the_services_give_the_agent_its_limits(stack: Stack) -> None:
    limits = stack.settings.service.limits
    assert stack.services.agent.recursion_limit == limits.recursion_limit
    toolbox = stack.services.agent.toolbox
    assert toolbox is None or toolbox.call_budget == limits.tool_calls_per_conversation
