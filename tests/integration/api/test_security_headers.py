"""Security headers (CSP, HSTS behind TLS only, nosniff, referrer policy), the CORS allowlist, the widget config."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from service_stack import Stack

from grounddesk.api.app import create_app
from grounddesk.api.settings import LimitsSettings, ServiceSettings

SITE = "https://www.northwind.example"
OTHER = "https://evil.example"


@contextmanager
def _client(stack: Stack, base_url: str = "http://testserver", **service: Any) -> Iterator[TestClient]:
    settings = stack.settings.model_copy(update={"service": ServiceSettings(**service)})
    services = dataclasses.replace(stack.services, settings=settings)
    with TestClient(create_app(settings, services=services), base_url=base_url) as client:
        yield client


def test_every_response_carries_the_policy_headers(stack: Stack) -> None:
    with _client(stack, frame_ancestors=["'self'", SITE]) as client:
        responses = [
            client.get("/"),
            client.get("/static/widget.js"),
            client.get("/v1/nothing"),
            client.get("/healthz"),
        ]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "object-src 'none'" in csp, csp
        assert f"frame-ancestors 'self' {SITE}" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in response.headers  # plain HTTP: never
    assert responses[2].headers["cache-control"] == "no-store"  # the API is never cached


def test_hsts_is_sent_over_https_and_behind_a_trusted_proxy_only(stack: Stack) -> None:
    with _client(stack, base_url="https://support.northwind.example") as tls:
        direct = tls.get("/healthz")
    with _client(stack) as plain:
        forged = plain.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    with _client(stack, trusted_proxy_hops=1, hsts_max_age_s=600) as proxied:
        behind = proxied.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        behind_plain = proxied.get("/healthz", headers={"X-Forwarded-Proto": "http"})
    with _client(stack, base_url="https://support.northwind.example", hsts_max_age_s=0) as off:
        disabled = off.get("/healthz")
    assert direct.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert "strict-transport-security" not in forged.headers  # no trusted proxy: the header proves nothing
    assert behind.headers["strict-transport-security"] == "max-age=600; includeSubDomains"
    assert "strict-transport-security" not in behind_plain.headers
    assert "strict-transport-security" not in disabled.headers


def test_cors_allows_the_listed_origins_only(stack: Stack) -> None:
    with _client(stack, cors_origins=[SITE]) as client:
        preflight = client.options(
            "/v1/conversations/abc/messages",
            headers={
                "Origin": SITE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        refused = client.options(
            "/v1/conversations", headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"}
        )
        allowed = client.post("/v1/conversations", json={"identity": None}, headers={"Origin": SITE})
        other = client.post("/v1/conversations", json={"identity": None}, headers={"Origin": OTHER})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == SITE
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers  # tokens travel in headers, not cookies
    assert refused.status_code == 400
    assert refused.json()["code"] == "cors_refused" and "origin" in refused.json()["detail"]
    assert "access-control-allow-origin" not in refused.headers
    assert allowed.status_code == 201 and allowed.headers["access-control-allow-origin"] == SITE
    assert allowed.headers["access-control-expose-headers"] == "Retry-After"
    # The browser withholds the answer from the other site: the request ran, but no CORS header lets it read it.
    assert "access-control-allow-origin" not in other.headers


def test_without_an_allowlist_no_cross_origin_headers_are_sent(stack: Stack) -> None:
    with _client(stack) as client:
        response = client.post("/v1/conversations", json={"identity": None}, headers={"Origin": SITE})
        preflight = client.options(
            "/v1/conversations", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"}
        )
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code == 405 and preflight.json()["code"] == "method_not_allowed"


def test_a_rate_limited_cross_origin_request_can_still_read_its_retry_after(stack: Stack) -> None:
    limits = LimitsSettings(ip_per_minute=0.6, ip_burst=1)
    with _client(stack, cors_origins=[SITE], limits=limits) as client:
        client.post("/v1/conversations", json={"identity": None}, headers={"Origin": SITE})
        refused = client.post("/v1/conversations", json={"identity": None}, headers={"Origin": SITE})
    assert refused.status_code == 429
    assert refused.headers["access-control-allow-origin"] == SITE
    assert refused.headers["access-control-expose-headers"] == "Retry-After" and refused.headers["retry-after"]


def test_the_widget_config_lists_the_link_hosts(stack: Stack) -> None:
    with _client(stack, link_hosts=["WWW.Northwind.example", " help.northwind.example ", ""]) as client:
        config = client.get("/v1/widget/config")
    assert config.status_code == 200
    assert config.json() == {
        "link_hosts": ["help.northwind.example", "www.northwind.example"],
        "max_message_chars": 4000,
    }
