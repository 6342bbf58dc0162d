"""Two support agents claim the same ticket at the same moment over HTTP: exactly one gets it.

Runs on SQLite and PostgreSQL (the ``sql_url`` fixture): the queue, the conversations, the staff directory and
the agent's checkpoints all live in that database.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_stack import WAIT_S, Stack, make_settings, recv_until, start_stack, stop_stack

from grounddesk.testing.embedders import HashingEmbedder


@pytest.fixture
def sql_stack(sql_url: str, tmp_path: Path) -> Iterator[Stack]:
    # No knowledge is needed: asking for a person escalates whatever the knowledge base holds.
    running = start_stack(make_settings(tmp_path / "home", sql_url), HashingEmbedder(64))
    yield running
    stop_stack(running)


def test_two_agents_claiming_at_once_one_wins_and_the_other_gets_409(sql_stack: Stack) -> None:
    stack = sql_stack
    conversation = stack.start_conversation()
    with stack.staff_ws("lee") as console:
        posted = stack.post_message(conversation, "Can I talk to a human please?", uuid.uuid4().hex)
        assert posted.status_code == 202
        created = recv_until(console, lambda f: f["type"] == "ticket_created")[-1]["ticket"]
    assert created["conversation_id"] == conversation["id"]

    barrier = threading.Barrier(2)
    results: dict[str, httpx.Response] = {}

    def claim(username: str) -> None:
        with httpx.Client(base_url=stack.url, timeout=WAIT_S) as client:
            barrier.wait(timeout=WAIT_S)
            results[username] = client.post(f"/v1/tickets/{created['id']}/claim", headers=stack.staff(username))

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("kim", "lee")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 409], {name: r.text for name, r in results.items()}
    winner = next(name for name, r in results.items() if r.status_code == 200)
    loser = next(r for r in results.values() if r.status_code == 409)
    assert loser.json()["code"] == "ticket_conflict" and loser.json()["assignee"] == winner
    with stack.http() as client:
        ticket = client.get(f"/v1/tickets/{created['id']}", headers=stack.staff("kim")).json()
    assert ticket["status"] == "assigned" and ticket["assignee"] == winner
    assert [e["kind"] for e in ticket["events"]].count("claimed") == 1
