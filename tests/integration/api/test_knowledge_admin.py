"""The knowledge console's API: uploads are drafts, invisible to search until approved; diff, retire, delete."""

from __future__ import annotations

from typing import Any

import httpx
from service_stack import Stack

RENTAL_V1 = b"""---
title: E-bike rentals
---
# E-bike rentals

Northwind rents electric bikes at every store. An e-bike rental costs 45 dollars per day, helmet included.
Bring a photo ID to pick up your e-bike rental at the store.
"""
RENTAL_V2 = RENTAL_V1.replace(b"45 dollars", b"50 dollars")
QUESTION = "How much does an e-bike rental cost per day?"


def _search(client: httpx.Client, stack: Stack, query: str = QUESTION) -> dict[str, Any]:
    response = client.post(
        "/v1/knowledge/search", json={"query": query, "audiences": ["public"]}, headers=stack.staff("maya")
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _upload(client: httpx.Client, stack: Stack, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    response = client.post(
        "/v1/knowledge/documents",
        files=[("files", (name, data)) for name, data in files],
        data={"audience": "public"},
        headers=stack.staff("maya"),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_an_upload_is_a_draft_that_search_does_not_see_until_it_is_approved(stack: Stack) -> None:
    with stack.http() as client:
        report = _upload(client, stack, [("ebike-rentals.md", RENTAL_V1), ("notes.exe", b"MZ\x90\x00binary")])
        assert report["imported"] == [{"doc_id": "ebike-rentals", "version": 1, "status": "draft"}]
        assert [(e["filename"], e["code"]) for e in report["errors"]] == [("notes.exe", "unsupported_format")]

        before = _search(client, stack)
        assert "ebike-rentals" not in {h["doc_id"] for h in before["hits"]}
        assert all(c["doc_id"] != "ebike-rentals" for c in before["answer"]["citations"])
        drafts = client.get("/v1/knowledge/documents", params={"status": "draft"}, headers=stack.staff("maya"))
        assert [d["doc_id"] for d in drafts.json()["documents"]] == ["ebike-rentals"]
        assert client.get("/v1/knowledge/public/ebike-rentals").status_code == 404  # not published

        approved = client.post(
            "/v1/knowledge/documents/ebike-rentals/approve", json={"version": 1}, headers=stack.staff("maya")
        )
        assert approved.json() == {"doc_id": "ebike-rentals", "version": 1, "status": "approved"}
        after = _search(client, stack)
        assert after["hits"][0]["doc_id"] == "ebike-rentals" and "45 dollars" in after["hits"][0]["text"]
        assert set(after["answer"]) >= {"decision", "answer", "citations", "confidence"}
        page = client.get("/v1/knowledge/public/ebike-rentals", params={"version": 1})
        assert page.status_code == 200 and "45 dollars per day" in page.text

        listed = client.get("/v1/knowledge/documents", headers=stack.staff("maya")).json()["documents"]
        entry = next(d for d in listed if d["doc_id"] == "ebike-rentals")
        assert entry["latest_version"] == 1 and entry["approved_version"] == 1 and entry["status"] == "approved"


def test_a_new_version_gets_a_diff_and_replaces_the_old_only_when_approved(stack: Stack) -> None:
    with stack.http() as client:
        _upload(client, stack, [("ferry.md", RENTAL_V1.replace(b"E-bike", b"Ferry"))])
        client.post("/v1/knowledge/documents/ferry/approve", headers=stack.staff("maya"))
        second = _upload(client, stack, [("ferry.md", RENTAL_V2.replace(b"E-bike", b"Ferry"))])
        assert second["imported"] == [{"doc_id": "ferry", "version": 2, "status": "draft"}]
        again = _upload(client, stack, [("ferry.md", RENTAL_V2.replace(b"E-bike", b"Ferry"))])
        assert again["imported"] == [] and again["unchanged"][0]["version"] == 2

        doc = client.get("/v1/knowledge/documents/ferry", headers=stack.staff("maya")).json()
        assert [(v["version"], v["status"]) for v in doc["versions"]] == [(1, "approved"), (2, "draft")]
        assert doc["versions"][0]["audience"] == ["public"]
        diff = client.get(
            "/v1/knowledge/documents/ferry/diff", params={"from": 1, "to": 2}, headers=stack.staff("maya")
        ).json()["diff"]
        changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("---", "+++"))]
        assert [line[0] for line in changed] == ["-", "+"]
        assert "45 dollars" in changed[0] and "50 dollars" in changed[1]
        empty = client.get(
            "/v1/knowledge/documents/ferry/diff", params={"from": 0, "to": 1}, headers=stack.staff("maya")
        ).json()["diff"]
        assert empty.startswith("--- /dev/null")

        public = client.get("/v1/knowledge/public/ferry", params={"version": 2}).text
        assert "45 dollars" in public and "50 dollars" not in public  # still the approved version 1

        retired = client.post("/v1/knowledge/documents/ferry/retire", headers=stack.staff("maya"))
        assert retired.json() == {"doc_id": "ferry", "version": 1, "status": "retired"}
        assert client.get("/v1/knowledge/public/ferry").status_code == 404
        deleted = client.delete("/v1/knowledge/documents/ferry", headers=stack.staff("maya"))
        assert deleted.status_code == 200 and deleted.json()["doc_id"] == "ferry"
        gone = client.get("/v1/knowledge/documents/ferry", headers=stack.staff("maya"))
        assert gone.status_code == 404 and gone.json()["code"] == "document_not_found"


def test_a_knowledge_correction_from_a_ticket_is_a_draft_for_review(stack: Stack) -> None:
    conversation = stack.start_conversation()
    ticket = stack.services.queue.open_ticket(conversation["id"], "low_confidence", {})
    with stack.http() as client:
        proposed = client.post(
            f"/v1/tickets/{ticket.id}/knowledge-correction",
            json={"title": "Gift wrapping", "text": "Gift wrapping costs 5 dollars per order."},
            headers=stack.staff("kim"),
        )
        assert proposed.status_code == 200, proposed.text
        assert proposed.json() == {"doc_id": "corrections/gift-wrapping", "version": 1, "status": "draft"}
        hits = _search(client, stack, "How much does gift wrapping cost?")["hits"]
        assert "corrections/gift-wrapping" not in {h["doc_id"] for h in hits}
        detail = client.get(f"/v1/tickets/{ticket.id}", headers=stack.staff("kim")).json()
    assert any("corrections/gift-wrapping@1" in str(e["data"]) for e in detail["events"])


def test_internal_documents_are_not_public_pages(stack: Stack) -> None:
    with stack.http() as client:
        page = client.get("/v1/knowledge/public/agent-playbook-refunds-fraud-verification")
        customer = stack.start_conversation(customer_id="C-1001")
        as_customer = client.get(
            "/v1/knowledge/public/agent-playbook-refunds-fraud-verification", params={"token": customer["token"]}
        )
    assert page.status_code == 404 and page.json()["code"] == "document_not_found"
    assert as_customer.status_code == 404
