from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from grounddesk.agent.nodes.escalate import apply_resume, escalation_payload
from grounddesk.agent.state import AgentState
from grounddesk.escalation import HandoffRequest, reply_resume, return_resume


def _escalated_state() -> AgentState:
    state: dict[str, object] = {
        "messages": [
            HumanMessage(content="Someone used my card, it was not me. Mail me at <EMAIL_ADDRESS>"),
            AIMessage(content="I'm passing this to a member of our team.", name="bot"),
        ],
        "decision": {"kind": "escalate", "reason": "fraud_or_security"},
        "confidence": {"score": 0.42, "reasons": ["one approved source"]},
        "hits": [
            {"doc_id": "cards", "version": 4, "title": "Lost or stolen cards", "text": "Freeze it.", "score": 0.61}
        ],
        "draft": {"text": "Freeze your card in the app [1].", "citations": []},
        "guard": {"injection": [], "topics": [{"topic": "fraud_or_security"}], "wants_human": False},
    }
    return state  # type: ignore[return-value]


def test_the_agents_interrupt_payload_becomes_ticket_fields() -> None:
    payload = escalation_payload(_escalated_state())

    request = HandoffRequest.from_interrupt(payload)

    assert request.reason == "fraud_or_security"
    assert request.confidence == 0.42
    assert request.draft == "Freeze your card in the app [1]."
    assert request.sources == [{"doc_id": "cards", "version": 4, "title": "Lost or stolen cards", "score": 0.61}]
    assert request.payload["transcript"][0] == {
        "speaker": "customer",
        "text": "Someone used my card, it was not me. Mail me at <EMAIL_ADDRESS>",
    }


def test_a_payload_without_reason_or_draft_still_makes_a_ticket() -> None:
    request = HandoffRequest.from_interrupt({"reason": None, "draft_answer": "", "sources": None})
    assert (request.reason, request.draft, request.sources, request.confidence) == ("unspecified", None, [], None)


def test_resume_values_are_the_ones_the_agent_accepts() -> None:
    reply = apply_resume(reply_resume("kim", "I froze the card for you."))
    assert reply["mode"] == "human"
    assert reply["messages"][0].content == "I froze the card for you."
    back = apply_resume(return_resume("Card frozen, refund started"))
    assert back["mode"] == "bot"
    assert "Card frozen, refund started" in back["messages"][0].content
    assert apply_resume(return_resume())["mode"] == "bot"
