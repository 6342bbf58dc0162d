"""Probes, error shapes, limits, headers and pages (in-process with TestClient: no socket is needed here)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from service_stack import IDENTITY_SECRET, Stack

from grounddesk.api.app import create_app
from grounddesk.api.auth_tokens import verify_identity
from grounddesk.api.settings import ServiceSettings
from grounddesk.config import Settings


def _variant(stack: Stack, **service: Any) -> Settings:
    return stack.settings.model_copy(update={"service": ServiceSettings(**service)})


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings, services=stack.services)) as test_client:
        yield test_client


def test_probes_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert set(ready.json()["checks"]) == {"database", "knowledge_registry", "vector_store"}
    spec = client.get("/openapi.json").json()
    assert {"/v1/conversations", "/v1/tickets/{ticket_id}/claim", "/v1/knowledge/search"} <= set(spec["paths"])


def test_readyz_reports_a_broken_dependency_with_503(stack: Stack) -> None:
    class Broken:
        def count(self) -> int:
            raise ConnectionError("vector store down")

    # Services are a dataclass: the same ones, with a knowledge base whose vector store fails.
    broken_kb = type("KB", (), {"registry": stack.services.knowledge.registry, "store": Broken()})()
    services = dataclasses.replace(stack.services, knowledge=broken_kb)
    with TestClient(create_app(stack.settings, services=services)) as test_client:
        response = test_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["vector_store"] == {"status": "fail", "error": "ConnectionError"}
    assert response.json()["checks"]["database"] == {"status": "ok"}


def test_a_body_over_the_limit_is_refused_with_413(client: TestClient) -> None:
    huge = {"identity": None, "locale": "x" * 1_100_000}
    declared = client.post("/v1/conversations", json=huge)
    assert declared.status_code == 413
    assert declared.json()["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
        yield b'{"identity": null, "locale": "'
        for _ in range(12):
            yield b"y" * 100_000
        yield b'"}'

    streamed = client.post("/v1/conversations", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["code"] == "request_too_large"


def test_invalid_input_is_422_with_a_code_and_a_sentence(stack: Stack, client: TestClient) -> None:
    conversation = client.post("/v1/conversations", json={"identity": None}).json()
    response = client.post(
        f"/v1/conversations/{conversation['id']}/messages",
        json={"client_message_id": "", "text": ""},
        headers={"Authorization": f"Bearer {conversation['token']}"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_input"
    assert "client_message_id" in body["detail"] and "text" in body["detail"] and "at least 1" in body["detail"]
    not_json = client.post("/v1/conversations", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["code"] == "invalid_input"
    missing = client.get("/v1/tickets/no-such-ticket", headers=stack.staff("kim"))
    assert missing.status_code == 404 and missing.json()["code"] == "ticket_not_found"
    unknown = client.get("/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json() == {"code": "not_found", "detail": "Not Found"}


def test_security_headers_and_cors_allowlist(stack: Stack) -> None:
    settings = _variant(stack, cors_origins=["https://www.northwind.example"], frame_ancestors=[])
    with TestClient(create_app(settings, services=stack.services)) as client:
        allowed = client.options(
            "/v1/conversations",
            headers={"Origin": "https://www.northwind.example", "Access-Control-Request-Method": "POST"},
        )
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        api = client.post("/v1/conversations", json={"identity": None})
        script = client.get("/static/widget.js", headers={"Origin": "https://www.northwind.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://www.northwind.example"
    assert "access-control-allow-origin" not in other.headers
    csp = api.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["referrer-policy"] == "no-referrer"
    assert api.headers["cache-control"] == "no-store"
    assert (
        script.status_code == 200 and script.headers["access-control-allow-origin"] == "https://www.northwind.example"
    )


def test_the_host_page_signs_the_demo_customer_only_when_configured(stack: Stack) -> None:
    anonymous = TestClient(create_app(stack.settings, services=stack.services)).get("/")
    assert anonymous.status_code == 200
    assert 'data-customer-id=""' in anonymous.text and 'data-identity-signature=""' in anonymous.text

    demo = _variant(stack, demo_customer_id="C-1001", demo_mode=True)
    services = dataclasses.replace(stack.services, settings=demo)
    with TestClient(create_app(demo, services=services)) as client:
        signed = client.get("/").text
        other = client.get("/", params={"as": "C-1002"}).text
        console = client.get("/console")
        knowledge = client.get("/knowledge")
    attrs = _widget_attrs(signed)
    assert attrs["data-customer-id"] == "C-1001"
    identity = verify_identity(
        "C-1001",
        attrs["data-identity-timestamp"],
        attrs["data-identity-signature"],
        IDENTITY_SECRET,
        stack.clock(),
        600,
    )
    assert identity.customer_id == "C-1001"
    assert _widget_attrs(other)["data-customer-id"] == "C-1002"
    assert console.status_code == 200 and "console.js" in console.text
    assert knowledge.status_code == 200 and "knowledge.js" in knowledge.text


def _widget_attrs(page: str) -> dict[str, str]:
    tag = page[page.index('src="/static/widget.js"') :]
    tag = tag[: tag.index(">")]
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', tag))


def test_sse_of_an_unknown_conversation_is_404_before_streaming(stack: Stack) -> None:
    token = stack.services.tokens.issue("no-such-conversation")
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        response = client.get("/v1/conversations/no-such-conversation/events", params={"token": token})
    assert response.status_code == 404 and response.json()["code"] == "conversation_not_found"
