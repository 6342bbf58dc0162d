"""Simple fakes at the agent's seams, shared by the graph and checkpoint tests."""

from __future__ import annotations

import re
from collections.abc import Sequence

from grounddesk.agent.types import (
    Citation,
    Confidence,
    ConfidenceFactor,
    Draft,
    DraftSentence,
    GuardResult,
    PIISpan,
    Route,
    TopicMatch,
)
from grounddesk.errors import KnowledgeBaseError
from grounddesk.knowledge.search import Hit, SearchResult

EMAIL = re.compile(r"[\w.]+@[\w.]+")


class FakeGuard:
    def inspect(self, text: str) -> GuardResult:
        spans = [PIISpan(entity="EMAIL_ADDRESS", start=m.start(), end=m.end()) for m in EMAIL.finditer(text)]
        masked = EMAIL.sub("<EMAIL_ADDRESS>", text)
        topics = [TopicMatch(topic="legal", action="escalate", reason="legal_threat")] if "lawyer" in text else []
        return GuardResult(
            masked_text=masked,
            pii=spans,
            topics=topics,
            wants_human="human" in text.lower(),
            injection=["override"] if "ignore previous" in text else [],
        )


class FakeRouter:
    def route(self, text: str, *, history: Sequence[str] = ()) -> Route:
        if "order" in text:
            return Route(intent="order_status", score=0.9, mode="tool", tool="order_status", missing_slots=["order_id"])
        if text.lower().startswith("hello"):
            return Route(intent="greeting", score=0.8)
        return Route(intent="returns_info", score=0.9)


class FakeKnowledge:
    def __init__(self) -> None:
        self.fail = False
        self.queries: list[tuple[str, list[str]]] = []

    def search(self, query: str, *, audiences: Sequence[str] = ("public",), top_k: int | None = None) -> SearchResult:
        self.queries.append((query, list(audiences)))
        if self.fail:
            raise KnowledgeBaseError("the vector store is down")
        if "nothing" in query:
            return SearchResult(hits=[], took_ms=1.0, generation=1)
        hit = Hit(
            chunk_id="returns@2#0",
            doc_id="returns",
            version=2,
            title="Returns policy",
            heading_path=["Returns"],
            text="You can return unworn items within 30 days of delivery.",
            score=0.9,
        )
        return SearchResult(hits=[hit], took_ms=1.0, generation=1)


class FakeComposer:
    def compose(self, question: str, hits: Sequence[Hit]) -> Draft:
        hit = hits[0]
        citation = Citation(n=1, doc_id=hit.doc_id, version=hit.version, title=hit.title, chunk_id=hit.chunk_id)
        return Draft(
            text=f"{hit.text} [1]",
            sentences=[DraftSentence(text=hit.text, citation=1, support=1.0)],
            citations=[citation],
        )


class FakeScorer:
    def score(
        self,
        *,
        question: str,
        hits: Sequence[Hit],
        draft: Draft,
        route: Route | None,
        guard: GuardResult | None,
        message: str | None = None,
    ) -> Confidence:
        value = 0.2 if "unsure" in question else 0.9
        return Confidence(score=value, raw=value, factors=[ConfidenceFactor(name="top", value=value, phrase="fake")])
