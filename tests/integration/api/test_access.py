"""Who may call what: conversation tokens open one conversation only; staff endpoints check roles.

Every conversation endpoint (history, messages, WebSocket, SSE, feedback, contact) is tried with the token of
another conversation (403 / close 4403), without a token (401 / close 4401) and with a staff token (401).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from service_stack import WAIT_S, Stack
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

CONVERSATION_CALLS = [
    ("GET", "", None),
    ("POST", "/messages", {"client_message_id": "m-1", "text": "Where is my order?"}),
    ("POST", "/feedback", {"seq": 1, "rating": "up"}),
    ("POST", "/contact", {"email": "someone@example.com"}),
    ("GET", "/events", None),
]


@pytest.fixture(scope="module")
def two_conversations(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    return stack.start_conversation(), stack.start_conversation(customer_id="C-1002")


def _call(stack: Stack, method: str, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    with stack.http() as client:
        if path.endswith("/events"):  # a stream: refused before it starts, so the body is short
            with client.stream(method, path, headers=headers) as response:
                assert response.status_code != 200
                response.read()
                return response
        return client.request(method, path, json=body, headers=headers)


def _close_code(url: str) -> int:
    """The code the server closes a WebSocket with at once (after accepting it, so a browser sees the code)."""
    with connect(url, open_timeout=WAIT_S) as socket, pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def _ws_close_code(stack: Stack, conversation_id: str, token: str | None) -> int:
    query = f"?token={token}" if token else ""
    return _close_code(f"{stack.ws_url}/v1/conversations/{conversation_id}/ws{query}")


@pytest.mark.parametrize(
    ("method", "suffix", "body"), CONVERSATION_CALLS, ids=[c[1] or "/" for c in CONVERSATION_CALLS]
)
def test_a_token_of_one_conversation_cannot_read_or_write_another(
    stack: Stack, two_conversations: tuple[dict[str, Any], dict[str, Any]], method: str, suffix: str, body: Any
) -> None:
    a, b = two_conversations
    path = f"/v1/conversations/{b['id']}{suffix}"
    wrong = _call(stack, method, path, body, {"Authorization": f"Bearer {a['token']}"})
    assert wrong.status_code == 403
    assert wrong.json() == {
        "code": "forbidden",
        "detail": "This token is for another conversation",
        "reason": "wrong_conversation",
    }
    missing = _call(stack, method, path, body, {})
    assert missing.status_code == 401 and missing.json()["code"] == "auth_required"
    staff = _call(stack, method, path, body, stack.staff("kim"))
    assert staff.status_code == 401 and staff.json()["code"] == "invalid_token"
    forged = _call(stack, method, path, body, {"Authorization": f"Bearer {b['token'][:-4]}AAAA"})
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_token"
    # The query-string form (used by EventSource and WebSocket URLs) is checked the same way.
    with stack.http() as client:
        by_query = (
            client.request(method, path, params={"token": a["token"]}, json=body) if suffix != "/events" else None
        )
    if by_query is not None:
        assert by_query.status_code == 403
    # Nothing was written to B.
    assert stack.services.conversations.get(b["id"]).last_seq == 0


def test_the_websocket_of_another_conversation_is_closed_with_4403(
    stack: Stack, two_conversations: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = two_conversations
    assert _ws_close_code(stack, b["id"], a["token"]) == 4403
    assert _ws_close_code(stack, b["id"], None) == 4401
    assert _ws_close_code(stack, b["id"], stack.staff_tokens["kim"]) == 4401
    assert _ws_close_code(stack, b["id"], b["token"][:-4] + "AAAA") == 4401


def test_a_verified_customers_token_carries_the_customer_and_wider_audiences(
    stack: Stack, two_conversations: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    anonymous, verified = two_conversations
    assert anonymous["verified"] is False and verified["verified"] is True
    claims = stack.services.tokens.decode(verified["token"])
    assert claims.customer_id == "C-1002" and set(claims.audiences) == {"public", "customers"}
    assert stack.services.tokens.decode(anonymous["token"]).audiences == ("public",)
    with stack.http() as client:
        bad = client.post(
            "/v1/conversations",
            json={
                "identity": {
                    "customer_id": "C-1001",
                    "timestamp": int(stack.clock().timestamp()),
                    "signature": "0" * 64,
                }
            },
        )
    assert bad.status_code == 401 and bad.json()["reason"] == "bad_signature"


STAFF_CALLS = [
    ("GET", "/v1/tickets", None),
    ("GET", "/v1/knowledge/documents", None),
    ("POST", "/v1/knowledge/search", {"query": "returns"}),
    ("GET", "/v1/auth/me", None),
]


@pytest.mark.parametrize(("method", "path", "body"), STAFF_CALLS, ids=[c[1] for c in STAFF_CALLS])
def test_staff_endpoints_refuse_customer_tokens_and_anonymous_callers(
    stack: Stack, two_conversations: tuple[dict[str, Any], dict[str, Any]], method: str, path: str, body: Any
) -> None:
    customer = two_conversations[0]
    with stack.http() as client:
        as_customer = client.request(method, path, json=body, headers={"Authorization": f"Bearer {customer['token']}"})
        anonymous = client.request(method, path, json=body)
        unknown = client.request(method, path, json=body, headers={"Authorization": "Bearer gds_not-a-session"})
    assert as_customer.status_code == 403 and as_customer.json()["code"] == "forbidden"
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "auth_required"
    assert unknown.status_code == 401 and unknown.json()["code"] == "invalid_token"


def test_roles_agents_cannot_approve_documents_and_knowledge_managers_cannot_claim_tickets(stack: Stack) -> None:
    conversation = stack.start_conversation()
    ticket = stack.services.queue.open_ticket(conversation["id"], "customer_requested_human", {})
    with stack.http() as client:
        approve = client.post("/v1/knowledge/documents/returns-policy/approve", headers=stack.staff("kim"))
        upload = client.post(
            "/v1/knowledge/documents", files={"files": ("a.md", b"# A\n\ntext")}, headers=stack.staff("kim")
        )
        claim = client.post(f"/v1/tickets/{ticket.id}/claim", headers=stack.staff("maya"))
        listing = client.get("/v1/tickets", headers=stack.staff("maya"))
        admin_claim = client.post(f"/v1/tickets/{ticket.id}/claim", headers=stack.staff("root"))
        admin_docs = client.get("/v1/knowledge/documents", headers=stack.staff("root"))
    for refused in (approve, upload, claim, listing):
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden", refused.text
    assert admin_claim.status_code == 200 and admin_claim.json()["assignee"] == "root"
    assert admin_docs.status_code == 200
    # The console's socket needs the agent role too.
    assert _close_code(f"{stack.ws_url}/v1/staff/ws?token={stack.staff_tokens['maya']}") == 4403
    assert _close_code(f"{stack.ws_url}/v1/staff/ws") == 4401


def test_login_me_and_logout(stack: Stack) -> None:
    with stack.http() as client:
        wrong = client.post("/v1/auth/login", json={"username": "kim", "password": "not the password"})
        login = client.post("/v1/auth/login", json={"username": "KIM", "password": "trail-mix-Harbour-42"})
        token = login.json()["token"]
        me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        out = client.post("/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
        after = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    assert login.status_code == 200 and token.startswith("gds_")
    assert login.json()["user"] == {"username": "kim", "role": "agent", "display_name": "Kim"}
    assert me.json() == {"username": "kim", "role": "agent", "display_name": "Kim"}
    assert out.status_code == 204
    assert after.status_code == 401 and after.json()["reason"] == "revoked"


def test_api_keys_work_as_bearer_or_header(stack: Stack) -> None:
    user = next(u for u in stack.services.staff.list_users() if u.username == "maya")
    key, _ = stack.services.staff.create_api_key(user.id, "import script")
    with stack.http() as client:
        by_header = client.get("/v1/knowledge/documents", headers={"X-API-Key": key})
        by_bearer = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert by_header.status_code == 200 and by_header.json()["documents"]
    assert by_bearer.json()["username"] == "maya"
