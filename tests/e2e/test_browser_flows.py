"""The product through a real browser: the customer widget, the agent console and the knowledge console.

Every check goes through the pages (Playwright's auto-waiting ``expect``), against the real service on a demo home
(see ``conftest.py``), once with grounddesk's SQL store on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, WebSocket, expect

if TYPE_CHECKING:
    from conftest import RunningService, StaffLogin

pytestmark = pytest.mark.model

RETURN_QUESTION = "How long do I have to return an item?"
HUMAN_REQUEST = "I want to talk to a person"
WHILE_HUMAN = "Are you still there? My parcel is a gift."
AGENT_REPLY = "Hi, this is Kim from Northwind. I am looking at your return right now."
AFTER_RETURN_QUESTION = "How long do refunds take?"

KITE_FACT = "The Zephyr kite warranty lasts 17 months."
KITE_QUESTION = "How long is the Zephyr kite warranty?"

# Toasts vanish after a few seconds: record every one shown, so a check cannot miss it under load.
TOAST_RECORDER = """
window.__gdToasts = [];
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType === 1 && node.dataset.testid === 'toast') window.__gdToasts.push(node.textContent);
    }
  }
}).observe(document, { childList: true, subtree: true });
"""
WAIT_MS = 30_000  # the first turns of a fresh service load the model's caches; generous, never slept


def _watch(page: Page, problems: list[str], name: str) -> None:
    """Collect the page's script errors (a broken page fails the test even if the checks pass)."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"[{name}] console.error: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"[{name}] page error: {error}"))


def _frame(payload: str | bytes) -> dict[str, Any]:
    data = json.loads(payload)
    return data if isinstance(data, dict) else {}


def _frame_of_type(kind: str) -> Callable[[str | bytes], bool]:
    return lambda payload: _frame(payload).get("type") == kind


def _sign_in(page: Page, user: StaffLogin) -> None:
    page.get_by_test_id("login-username").fill(user.username)
    page.get_by_test_id("login-password").fill(user.password)
    page.get_by_test_id("login-submit").click()


def _messages(page: Page, kind: str) -> Locator:
    return page.locator(f"[data-testid=gd-msg][data-type={kind}]")


def _ask(page: Page, text: str) -> Locator:
    """Type a message in the widget and send it; returns the customer's bubble."""
    box = page.get_by_test_id("gd-input")
    box.fill(text)
    box.press("Enter")
    mine = _messages(page, "customer_message").filter(has_text=text)
    expect(mine).to_have_count(1)
    return mine


def _context(browser: Browser, width: int = 1280, height: int = 900) -> BrowserContext:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(WAIT_MS)
    return context


def test_customer_is_answered_handed_to_an_agent_and_back_to_the_bot(
    service: RunningService, browser: Browser, screenshots: Path
) -> None:
    problems: list[str] = []
    prefix = f"{service.backend}-"
    customer_context, agent_context = _context(browser), _context(browser, 1400, 1000)
    try:
        # The agent has the console open first: with a person online, a handoff waits for them (no "leave details").
        agent_context.add_init_script(TOAST_RECORDER)
        console = agent_context.new_page()
        _watch(console, problems, "console")
        console.goto(f"{service.url}/console")
        _sign_in(console, service.agent)
        expect(console.get_by_test_id("queue")).to_be_visible()
        expect(console.get_by_test_id("live-status")).to_have_text("Live")
        rows = console.get_by_test_id("ticket-row")
        expect(rows).to_have_count(0)

        # 1. The customer opens the widget and gets a streamed, cited answer.
        widget = customer_context.new_page()
        _watch(widget, problems, "widget")
        widget.goto(f"{service.url}/")
        widget.evaluate("window.grounddeskWidget.ready")
        with widget.expect_websocket(lambda ws: "/v1/conversations/" in ws.url) as socket_info:
            widget.get_by_test_id("gd-launcher").click()
        socket: WebSocket = socket_info.value
        frames: list[dict[str, Any]] = []
        socket.on("framereceived", lambda payload: frames.append(_frame(payload)))
        expect(widget.get_by_test_id("gd-panel")).to_be_visible()
        expect(_messages(widget, "greeting")).to_have_count(1)

        with socket.expect_event("framereceived", predicate=_frame_of_type("answer"), timeout=WAIT_MS):
            question = _ask(widget, RETURN_QUESTION)
        answers = _messages(widget, "answer")
        expect(answers).to_have_count(1)
        expect(question).to_have_attribute("data-state", "sent")
        expect(widget.get_by_test_id("gd-streaming")).to_have_count(0)
        answer_frame = next(f for f in frames if f.get("type") == "answer")
        tokens = [f for f in frames if f.get("type") == "token"]
        assert len(tokens) > 1, "the answer was not streamed in pieces before the final event"
        assert {t.get("reply_to") for t in tokens} == {answer_frame.get("client_message_id")}
        streamed = "".join(str(t.get("text") or "") for t in tokens)
        assert streamed.split() == str(answer_frame.get("text") or "").split()
        expect(answers.first.get_by_test_id("gd-text")).to_contain_text(re.compile(r"\d+ days"))
        citation = answers.first.get_by_test_id("gd-citation").first
        expect(citation).to_have_attribute("href", re.compile(r"/v1/knowledge/public/[\w.-]+\?version=\d+$"))
        expect(citation).to_contain_text(re.compile(r"\[1\]\s*\w{3,}"))  # the marker, then the source's title
        titles = {c["title"] for c in answer_frame.get("citations", [])}
        assert any(title and title in (citation.text_content() or "") for title in titles), titles
        widget.screenshot(path=screenshots / f"{prefix}widget-answer.png")

        # 2. Asking for a person: the widget shows the handoff, and no answer comes from the bot.
        _ask(widget, HUMAN_REQUEST)
        expect(widget.get_by_test_id("gd-handoff")).to_be_visible()
        expect(_messages(widget, "handoff")).to_have_count(1)
        expect(_messages(widget, "no_agent")).to_have_count(0)
        expect(answers).to_have_count(1)
        widget.screenshot(path=screenshots / f"{prefix}widget-handoff.png")

        # 3. The ticket shows up in the open console without a reload; the agent claims it, edits the draft, sends.
        expect(rows).to_have_count(1)
        row = rows.first
        # Pushed over the staff socket: only a live "ticket_created" frame raises this notice (polling does not).
        console.wait_for_function("window.__gdToasts.some((text) => text.startsWith('New ticket'))")
        expect(console.get_by_test_id("live-status")).to_have_text("Live")
        expect(row).to_have_attribute("data-status", "open")
        row.click()
        expect(console.get_by_test_id("transcript")).to_contain_text(HUMAN_REQUEST)
        expect(console.get_by_test_id("send-draft")).to_be_disabled()
        expect(console.get_by_test_id("send-edited")).to_be_disabled()
        console.get_by_test_id("claim").click()
        expect(console.get_by_test_id("release")).to_be_visible()
        expect(row).to_have_attribute("data-status", "assigned")
        draft = console.get_by_test_id("draft")
        expect(draft).to_be_enabled()
        draft.fill(AGENT_REPLY)
        expect(console.get_by_test_id("send-edited")).to_be_enabled()
        expect(console.get_by_test_id("send-draft")).to_be_disabled()
        console.get_by_test_id("send-edited").click()

        # 4. The customer sees the agent's message; while the agent holds the conversation the bot stays silent.
        agent_messages = _messages(widget, "agent_message")
        expect(agent_messages).to_have_count(1)
        expect(agent_messages.first).to_contain_text(AGENT_REPLY)
        expect(widget.get_by_test_id("gd-handoff")).to_be_hidden()
        expect(console.get_by_test_id("send-edited")).to_be_disabled()  # the same text cannot go out twice
        follow_up = _ask(widget, WHILE_HUMAN)
        expect(follow_up).to_have_attribute("data-state", "sent")
        # The message reached the agent (so its turn is over) and the bot said nothing.
        expect(console.get_by_test_id("transcript")).to_contain_text(WHILE_HUMAN)
        expect(answers).to_have_count(1)
        expect(_messages(widget, "handoff")).to_have_count(1)
        widget.screenshot(path=screenshots / f"{prefix}widget-agent.png")
        console.screenshot(path=screenshots / f"{prefix}console-ticket.png", full_page=True)

        # 5. The agent hands the conversation back to the bot, which answers the next question again.
        console.get_by_test_id("return-summary").fill("Explained the return window; the customer is happy.")
        console.get_by_test_id("return-to-bot").click()
        console.get_by_test_id("confirm-ok").click()
        expect(row).to_have_attribute("data-status", "returned_to_bot")
        expect(_messages(widget, "returned_to_bot")).to_have_count(1)
        _ask(widget, AFTER_RETURN_QUESTION)
        expect(answers).to_have_count(2)
        expect(answers.nth(1).get_by_test_id("gd-citation").first).to_be_visible()
        widget.screenshot(path=screenshots / f"{prefix}widget-back-to-bot.png")
        console.screenshot(path=screenshots / f"{prefix}console-queue.png")
    finally:
        customer_context.close()
        agent_context.close()
    assert not problems, problems


BOT_REPLY = "[data-testid=gd-msg]:is([data-type=answer], [data-type=clarify], [data-type=handoff])"


def _widget_reply(context: BrowserContext, url: str, question: str, problems: list[str]) -> Locator:
    """A new tab (a new conversation: the widget keeps it in sessionStorage) asks ``question``; the bot's reply."""
    page = context.new_page()
    _watch(page, problems, "widget")
    page.goto(f"{url}/")
    page.evaluate("window.grounddeskWidget.ready")
    page.get_by_test_id("gd-launcher").click()
    expect(_messages(page, "greeting")).to_have_count(1)
    _ask(page, question)
    replies = page.locator(BOT_REPLY)
    expect(replies).to_have_count(1)
    return replies.first


def _search(page: Page, query: str) -> Locator:
    """Run the knowledge console's search preview; returns its hits once the new results are shown."""
    page.get_by_test_id("search-query").fill(query)
    page.get_by_test_id("audience-public").check()
    page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id("search-submit")).to_be_enabled()
    expect(page.get_by_test_id("search-answer")).to_be_visible()
    return page.get_by_test_id("search-hit")


def test_uploaded_knowledge_is_found_only_once_approved(
    service: RunningService, browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    problems: list[str] = []
    prefix = f"{service.backend}-"
    upload = tmp_path / "zephyr-kite-warranty.md"
    upload.write_text(
        "# Zephyr kite warranty\n\n"
        f"{KITE_FACT} It covers the sail, the spars and the bridle against manufacturing defects.\n\n"
        "Send the kite back with the original receipt to claim the warranty.\n",
        encoding="utf-8",
    )
    context = _context(browser, 1400, 1000)
    try:
        page = context.new_page()
        _watch(page, problems, "knowledge")
        page.goto(f"{service.url}/knowledge")
        _sign_in(page, service.knowledge_manager)
        expect(page.get_by_test_id("doc-row").first).to_be_visible()
        expect(page.get_by_test_id("review-row")).to_have_count(0)

        page.get_by_test_id("upload-input").set_input_files(str(upload))
        page.get_by_test_id("upload-audience").select_option("public")
        page.get_by_test_id("upload-submit").click()
        imported = page.get_by_test_id("upload-imported")
        expect(imported).to_have_count(1)
        doc_id = imported.first.get_attribute("data-doc-id")
        assert doc_id
        review = page.locator(f"[data-testid=review-row][data-doc-id='{doc_id}']")
        expect(review).to_have_count(1)

        # A draft is not searchable: the search preview neither retrieves it nor answers with its fact.
        hits = _search(page, KITE_QUESTION)
        expect(hits.and_(page.locator(f"[data-doc-id='{doc_id}']"))).to_have_count(0)
        expect(page.get_by_test_id("search-answer")).not_to_contain_text("17 months")
        page.screenshot(path=screenshots / f"{prefix}knowledge-draft.png", full_page=True)
        before = _widget_reply(context, service.url, KITE_QUESTION, problems)
        expect(before.get_by_test_id("gd-text")).not_to_have_text(re.compile("17 months"))
        before.page.close()

        review.click()
        expect(page.get_by_test_id("diff")).to_contain_text(KITE_FACT)
        page.get_by_test_id("approve").click()
        page.get_by_test_id("confirm-ok").click()
        expect(page.locator(f"[data-testid=doc-row][data-doc-id='{doc_id}']")).to_have_attribute(
            "data-status", "approved"
        )
        expect(review).to_have_count(0)

        hits = _search(page, KITE_QUESTION)
        kite_hit = hits.and_(page.locator(f"[data-doc-id='{doc_id}']"))
        expect(kite_hit.first).to_be_visible()
        expect(kite_hit.first).to_contain_text("17 months")
        expect(page.get_by_test_id("search-answer")).to_contain_text("17 months")
        page.screenshot(path=screenshots / f"{prefix}knowledge-approved.png", full_page=True)

        # And a customer now gets the new fact, cited, from the widget.
        after = _widget_reply(context, service.url, KITE_QUESTION, problems)
        expect(after).to_have_attribute("data-type", "answer")
        expect(after.get_by_test_id("gd-text")).to_contain_text("17 months")
        expect(after.locator(f"[data-testid=gd-citation][data-doc-id='{doc_id}']")).to_have_count(1)
        after.page.screenshot(path=screenshots / f"{prefix}widget-new-knowledge.png")
    finally:
        context.close()
    assert not problems, problems
