"""Hostile text in answers is inert in the widget: no markup, no images, no script links; only allowed links.

A real Chromium against the real service (HashingEmbedder: no model is needed, the hostile text does not come from
retrieval). Two ways in: an answer event stored in the conversation exactly as the bot's answers are (with a
``javascript:`` citation URL as well), and a support agent's reply sent through the console API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from grounddesk.api.app import create_app
from grounddesk.api.auth import Role
from grounddesk.api.services import Services, build_services
from grounddesk.api.settings import ServiceSettings
from grounddesk.config import DatabaseSettings, Settings
from grounddesk.escalation import ConversationEventKind, EscalationSettings
from grounddesk.testing.asgi_server import AsgiServer
from grounddesk.testing.embedders import HashingEmbedder

WAIT_MS = 30_000
ALLOWED = "https://www.northwind.example/help/returns"
ELSEWHERE = "https://evil.example/steal?c=1"
HOSTILE = (
    "Please see <img src=x onerror=\"window.__gdPwned='img'\"> and "
    "<a href=\"javascript:window.__gdPwned='a'\">click here</a> or [the form](javascript:window.__gdPwned='md') "
    f"or ![logo]({ELSEWHERE}) javascript:window.__gdPwned='bare' <script>window.__gdPwned='script'</script> "
    f"Returns: {ALLOWED}. Also {ELSEWHERE}"
)
PASSWORD = "trail-mix-Harbour-42"


@dataclass(frozen=True)
class SafeService:
    url: str
    services: Services
    staff_token: str


@pytest.fixture
def safe_service(tmp_path: Path) -> Iterator[SafeService]:
    settings = Settings(
        home=tmp_path / "home",
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'grounddesk.db'}"),
        escalation=EscalationSettings(business_hours=None),
        service=ServiceSettings(link_hosts=["www.northwind.example"]),
    )
    services = build_services(settings, embedder=HashingEmbedder(256))
    try:
        services.staff.create_user("kim", PASSWORD, Role.AGENT, display_name="Kim")
        token = services.staff.login("kim", PASSWORD)[0]
        with AsgiServer(create_app(settings, services=services), ws="websockets-sansio") as server:
            yield SafeService(url=server.base_url, services=services, staff_token=token)
    finally:
        services.close()


def _open_widget(page: Page, url: str) -> str:
    """Open the widget on the host page; returns the conversation id it started."""
    page.goto(f"{url}/")
    page.evaluate("window.grounddeskWidget.ready")
    page.get_by_test_id("gd-launcher").click()
    expect(page.locator("[data-testid=gd-msg][data-type=greeting]")).to_have_count(1, timeout=WAIT_MS)
    stored = page.evaluate(
        "() => Object.keys(sessionStorage).filter((k) => k.startsWith('grounddesk.widget:'))"
        ".map((k) => sessionStorage.getItem(k))[0]"
    )
    return str(json.loads(stored)["id"])


def _inert(page: Page) -> None:
    """Nothing of the hostile markup became an element or ran."""
    assert page.evaluate("() => window.__gdPwned === undefined")
    counts = page.evaluate(
        """() => {
          const root = document.querySelector('[data-grounddesk-widget]').shadowRoot;
          return {
            img: root.querySelectorAll('img').length + document.querySelectorAll('body img').length,
            script: root.querySelectorAll('script').length,
            jsLinks: [...root.querySelectorAll('a')].filter((a) => !/^https?:/.test(a.href)).length,
          };
        }"""
    )
    assert counts == {"img": 0, "script": 0, "jsLinks": 0}, counts


def test_an_answer_with_markup_and_script_links_renders_as_text_with_only_allowed_links(
    safe_service: SafeService, browser: Browser
) -> None:
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        conversation_id = _open_widget(page, safe_service.url)
        payload = {
            "decision": "answer",
            "confidence": 0.9,
            "citations": [
                {
                    "n": 1,
                    "doc_id": "returns",
                    "version": 1,
                    "title": "Returns <b>policy</b>",
                    "url": "javascript:alert(1)",
                },
                {"n": 2, "doc_id": "elsewhere", "version": 1, "title": "Elsewhere", "url": ELSEWHERE},
                {"n": 3, "doc_id": "ours", "version": 2, "title": "Ours", "url": "/v1/knowledge/public/ours?version=2"},
            ],
        }
        safe_service.services.conversations.append(
            conversation_id, ConversationEventKind.ANSWER, f"{HOSTILE} [1][2][3]", author="bot", payload=payload
        )

        answer = page.locator("[data-testid=gd-msg][data-type=answer]")
        expect(answer).to_have_count(1, timeout=WAIT_MS)
        bubble = answer.get_by_test_id("gd-text")
        # Every character of the markup is shown as text.
        expect(bubble).to_contain_text("<img src=x onerror=\"window.__gdPwned='img'\">")
        expect(bubble).to_contain_text("<script>window.__gdPwned='script'</script>")
        expect(bubble).to_contain_text("[the form](javascript:window.__gdPwned='md')")
        # One link only: the allowed host. The other site and javascript: stay text.
        links = bubble.get_by_test_id("gd-link")
        expect(links).to_have_count(1)
        expect(links.first).to_have_attribute("href", ALLOWED)
        expect(links.first).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(links.first).to_have_text(ALLOWED)  # the sentence's full stop is not part of the link
        expect(bubble.locator("a")).to_have_count(1)
        expect(bubble).to_contain_text(ELSEWHERE)
        # Sources: a javascript: or foreign URL is not a link; our own page is.
        citations = answer.get_by_test_id("gd-citation")
        expect(citations).to_have_count(3)
        expect(answer.locator("a[data-testid=gd-citation]")).to_have_count(1)
        expect(answer.locator("a[data-testid=gd-citation]")).to_have_attribute(
            "href", f"{safe_service.url}/v1/knowledge/public/ours?version=2"
        )
        expect(citations.first).to_contain_text("Returns <b>policy</b>")
        _inert(page)
        assert errors == []
    finally:
        context.close()


def test_a_support_agents_reply_with_markup_is_shown_as_text(safe_service: SafeService, browser: Browser) -> None:
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        conversation_id = _open_widget(page, safe_service.url)
        box = page.get_by_test_id("gd-input")
        box.fill("I want to talk to a person")
        box.press("Enter")
        # Nobody has the console open, so the widget may go on to offer the contact form: wait for the handoff itself.
        expect(page.locator("[data-testid=gd-msg][data-type=handoff]")).to_have_count(1, timeout=WAIT_MS)
        staff = {"Authorization": f"Bearer {safe_service.staff_token}"}
        with httpx.Client(base_url=safe_service.url, headers=staff, timeout=30) as client:
            tickets = client.get("/v1/tickets").json()["tickets"]
            ticket = next(t for t in tickets if t["conversation_id"] == conversation_id)
            assert client.post(f"/v1/tickets/{ticket['id']}/claim").status_code == 200
            sent = client.post(f"/v1/tickets/{ticket['id']}/reply", json={"text": HOSTILE, "source": "own"})
            assert sent.status_code == 200, sent.text

        reply = page.locator("[data-testid=gd-msg][data-type=agent_message]")
        expect(reply).to_have_count(1, timeout=WAIT_MS)
        expect(reply.get_by_test_id("gd-text")).to_have_text(HOSTILE)
        expect(reply.locator("a")).to_have_count(0)
        _inert(page)
    finally:
        context.close()


def test_the_pages_are_served_with_a_script_policy_that_forbids_inline_script(safe_service: SafeService) -> None:
    response = httpx.get(f"{safe_service.url}/", timeout=30)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert httpx.get(f"{safe_service.url}/v1/widget/config", timeout=30).json()["link_hosts"] == [
        "www.northwind.example"
    ]
