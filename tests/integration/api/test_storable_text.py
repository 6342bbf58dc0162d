"""Text no store can hold (NUL, lone surrogates) is refused with 422 at the edge, on SQLite and on PostgreSQL.

Found by the fuzzing (``test_fuzz_openapi.py`` on PostgreSQL): a NUL in a JSON string was a 500 there, because
PostgreSQL refuses it while SQLite takes it. Each way text comes in is checked here on both back-ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_stack import Stack, make_settings, of_type, recv_until, start_stack, stop_stack

from grounddesk.api.storable import unstorable
from grounddesk.testing.embedders import HashingEmbedder


@pytest.fixture
def stack(sql_url: str, tmp_path: Path) -> Iterator[Stack]:
    running = start_stack(make_settings(tmp_path / "home", sql_url), HashingEmbedder(64), lifespan="on")
    yield running
    stop_stack(running)


def _message(client: httpx.Client, conversation: dict[str, str], raw_json: str) -> httpx.Response:
    return client.post(
        f"/v1/conversations/{conversation['id']}/messages",
        content=raw_json.encode(),
        headers={"Authorization": f"Bearer {conversation['token']}", "Content-Type": "application/json"},
    )


def test_unstorable_text_is_refused_everywhere_it_can_come_in(stack: Stack) -> None:
    conversation = stack.start_conversation()
    staff = stack.staff("maya")
    with stack.http() as client:
        nul = _message(client, conversation, '{"client_message_id": "m1", "text": "hi \\u0000 there"}')
        lone = _message(client, conversation, '{"client_message_id": "m2", "text": "hi \\ud800 there"}')
        emoji = _message(client, conversation, '{"client_message_id": "m3", "text": "hi \\ud83d\\ude00 there"}')
        literal = _message(client, conversation, '{"client_message_id": "m4", "text": "type \\\\u0000 to test"}')
        in_key = client.post(
            "/v1/knowledge/search",
            content=b'{"query": "x", "\\u0000": 1}',
            headers={**staff, "Content-Type": "application/json"},
        )
        in_path = client.get("/v1/tickets/abc%00def", headers=stack.staff("kim"))
        in_query = client.get("/v1/knowledge/documents", params={"status": "draft\x00"}, headers=staff)
        audience = client.post(
            "/v1/knowledge/documents",
            files={"files": ("faq.md", b"# FAQ\n\nWe ship worldwide.\n", "text/markdown")},
            data={"audience": "public\x00"},
            headers=staff,
        )
        named = client.post(  # raw multipart: clients percent-encode such names, an attacker need not
            "/v1/knowledge/documents",
            content=(
                b"--b0undary\r\n"
                b'Content-Disposition: form-data; name="files"; filename="sh\x00ipping\x07.md"\r\n'
                b"Content-Type: text/markdown\r\n\r\n"
                b"# Shipping\n\nWe ship worldwide.\n\r\n"
                b"--b0undary--\r\n"
            ),
            headers={**staff, "Content-Type": "multipart/form-data; boundary=b0undary"},
        )
    for refused in (nul, lone, in_key, in_path, in_query, audience):
        assert refused.status_code == 422, (refused.request.url, refused.text)
        assert refused.json()["code"] == "invalid_input", refused.text
    assert "NUL" in nul.json()["detail"] and "surrogate" in lone.json()["detail"]
    assert emoji.status_code == 202 and literal.status_code == 202  # a real emoji, an escaped backslash: fine
    assert named.status_code == 200, named.text
    imported = named.json()["imported"]
    assert [item["doc_id"] for item in imported] == ["shipping"] and unstorable(imported) is None
    events = stack.services.conversations.events_after(conversation["id"], 0)
    stored = [e.text for e in events if e.author == "customer"]
    assert stored == ["hi \U0001f600 there", "type \\u0000 to test"]


def test_a_websocket_frame_with_unstorable_text_gets_an_error_event(stack: Stack) -> None:
    conversation = stack.start_conversation()
    with stack.customer_ws(conversation) as ws:
        ws.send(json.dumps({"type": "message", "client_message_id": "w1", "text": "hello \x00"}))
        error = recv_until(ws, of_type("error"))[-1]
        ws.send(json.dumps({"type": "message", "client_message_id": "w2", "text": "hello"}))
        accepted = recv_until(ws, of_type("customer_message"))[-1]
    assert error["reply_to"] == "w1" and "NUL" in error["text"]
    assert accepted["client_message_id"] == "w2" and accepted["seq"] == 1  # the socket stayed usable
