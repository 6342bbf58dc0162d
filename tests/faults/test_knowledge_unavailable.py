"""The knowledge store becomes unavailable under a running service: the agent hands over instead of answering.

The service runs on the embedded Qdrant engine (Qdrant Edge). The test closes the store under the running service,
as when the storage engine fails or its files are taken away, then asks a question the bot answered a moment
before: the customer gets a hand-off, the ticket's reason is ``knowledge_unavailable``, no answer is given, and the
readiness probe reports the store down.
"""

from __future__ import annotations

import pytest
from faults_support import POLICY_QUESTION, new_id, recv_until, replies, reply_to, start_stack, stop_stack

from grounddesk.config import Settings

pytestmark = pytest.mark.faults


def test_the_agent_escalates_knowledge_unavailable_when_the_vector_store_is_gone(fresh_home: Settings) -> None:
    stack = start_stack(fresh_home)
    try:
        before, after = stack.start_conversation(), stack.start_conversation()
        first, second = new_id(), new_id()
        with stack.customer_ws(before) as ws:
            assert stack.post_message(before, POLICY_QUESTION, first).status_code == 202
            answered = recv_until(ws, reply_to(first))[-1]
        with stack.http() as client:
            assert client.get("/readyz").status_code == 200

        stack.services.knowledge.store.close()  # the vector store is gone

        with stack.customer_ws(after) as ws:
            assert stack.post_message(after, POLICY_QUESTION, second).status_code == 202
            handoff = recv_until(ws, reply_to(second))[-1]
        with stack.http() as client:
            ready = client.get("/readyz")
        ticket = stack.services.queue.active_for_conversation(after["id"])
        events = stack.events(after)
    finally:
        stop_stack(stack)
    assert answered["type"] == "answer" and answered["citations"]
    assert handoff["type"] == "handoff" and handoff["decision"] == "escalate"
    assert not handoff["citations"]
    assert replies(events, second) == ["handoff"]
    assert ticket is not None and ticket.reason == "knowledge_unavailable"
    assert ticket.payload["reason"] == "knowledge_unavailable" and ticket.payload["sources"] == []
    assert ready.status_code == 503
    assert ready.json()["checks"]["vector_store"]["status"] == "fail"
