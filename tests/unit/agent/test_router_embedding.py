"""The embedding router on a small hand-made playbook with the real bundled model (loaded once per module)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grounddesk.agent.playbook import Playbook
from grounddesk.agent.router import EmbeddingRouter, IntentRouter, RouterSettings, embed_cached
from grounddesk.knowledge.embeddings import SentenceTransformerEmbedder
from grounddesk.testing.embedders import HashingEmbedder

pytestmark = pytest.mark.model

PLAYBOOK = Playbook.from_mapping(
    {
        "name": "tiny-shop",
        "slots": {
            "order_id": {
                "type": "regex",
                "pattern": r"\bNW[- ]?(?P<digits>\d{7})\b",
                "format": "NW-{digits}",
                "question": "What is your order number?",
            },
            "region": {"type": "enum", "values": ["Canada", "United States"], "synonyms": {"United States": ["US"]}},
        },
        "intents": [
            {
                "name": "order_status",
                "description": "Where a specific order is",
                "mode": "tool",
                "tool": "order_status",
                "slots": ["order_id"],
                "examples": [
                    "Where is my order?",
                    "What's the status of my order?",
                    "Has my order shipped yet?",
                    "My order hasn't arrived",
                    "Can you check my order NW-1048273?",
                    "When will my package arrive?",
                    "Is my purchase on its way?",
                    "I haven't received my order yet",
                ],
            },
            {
                "name": "shipping_info",
                "description": "Shipping costs, times and countries",
                "slots": [{"name": "region", "required": False}],
                "examples": [
                    "How much does shipping cost?",
                    "How long does delivery take?",
                    "Do you ship to Canada?",
                    "Is there free shipping?",
                    "What are the delivery options?",
                    "Do you ship internationally?",
                    "How much is express delivery?",
                    "Which carriers do you use?",
                ],
            },
            {
                "name": "returns_info",
                "description": "The return policy",
                "examples": [
                    "What is your return policy?",
                    "How many days do I have to return an item?",
                    "Can I return worn shoes?",
                    "Is return shipping free?",
                    "Can I return a gift?",
                    "Which items can't be returned?",
                    "How do refunds for returns work?",
                    "Can I exchange for another size?",
                ],
            },
            {
                "name": "talk_to_human",
                "description": "Asks for a person",
                "mode": "handoff",
                "examples": [
                    "I want to talk to a human",
                    "Can I speak to a real person?",
                    "Connect me to an agent",
                    "Transfer me to customer service",
                    "I don't want a bot",
                    "Let me talk to someone",
                    "Get me a representative",
                    "live agent please",
                ],
            },
        ],
        "out_of_scope_examples": [
            "What's the weather tomorrow?",
            "Tell me a joke",
            "Who won the game last night?",
            "How do I bake bread?",
            "What is the capital of Spain?",
            "Book me a flight",
        ],
    }
)


class CountingEmbedder:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.embedded = 0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.embedded += 1
        return self.inner.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


@pytest.fixture(scope="module")
def model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def router(model: SentenceTransformerEmbedder) -> EmbeddingRouter:
    return EmbeddingRouter(PLAYBOOK, model, RouterSettings())


def test_it_is_an_intent_router_with_a_threshold_learned_from_the_playbook(router: EmbeddingRouter) -> None:
    assert isinstance(router, IntentRouter)
    assert 0.0 < router.threshold < 1.0


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("my parcel still hasn't shown up, where is it?", "order_status"),
        ("how long will shipping to the US take", "shipping_info"),
        ("can I send back shoes I wore once?", "returns_info"),
        ("please put me through to a real human being", "talk_to_human"),
    ],
)
def test_an_in_domain_message_is_routed_to_its_intent(router: EmbeddingRouter, text: str, intent: str) -> None:
    route = router.route(text)
    assert route.intent == intent
    assert not route.out_of_scope
    assert router.threshold <= route.score <= 1.0


@pytest.mark.parametrize(
    "text", ["Write me a poem about the ocean", "What is the square root of 144?", "Who painted the Mona Lisa?"]
)
def test_a_clear_out_of_scope_message_is_rejected(router: EmbeddingRouter, text: str) -> None:
    route = router.route(text)
    assert route.out_of_scope
    assert route.intent is None and route.tool is None and route.slots == {}
    assert route.query == text


def test_a_tool_intent_with_its_slot_goes_to_the_tool_with_the_canonical_value(router: EmbeddingRouter) -> None:
    route = router.route("where is my order nw 1048273?")
    assert (route.intent, route.mode, route.tool) == ("order_status", "tool", "order_status")
    assert route.slots == {"order_id": "NW-1048273"}
    assert route.missing_slots == []


def test_a_missing_required_slot_is_listed_and_the_mode_is_clarify(router: EmbeddingRouter) -> None:
    route = router.route("has my order shipped yet? it's been a week")
    assert route.intent == "order_status"
    assert route.mode == "clarify"
    assert route.tool == "order_status"
    assert route.missing_slots == ["order_id"]
    assert PLAYBOOK.question_for("order_status", route.missing_slots[0]) == "What is your order number?"


def test_an_invalid_slot_value_is_not_taken(router: EmbeddingRouter) -> None:
    route = router.route("where is my order NW-12?")
    assert route.intent == "order_status"
    assert route.slots == {} and route.missing_slots == ["order_id"]


def test_optional_slots_are_filled_but_never_missing(router: EmbeddingRouter) -> None:
    found = router.route("do you ship to Canada?")
    assert (found.intent, found.slots, found.missing_slots) == ("shipping_info", {"region": "Canada"}, [])
    absent = router.route("how much does shipping cost?")
    assert (absent.intent, absent.slots, absent.missing_slots, absent.mode) == ("shipping_info", {}, [], "answer")


def test_a_handoff_intent_routes_to_handoff(router: EmbeddingRouter) -> None:
    route = router.route("I'd like to speak with a person")
    assert (route.intent, route.mode, route.tool) == ("talk_to_human", "handoff", None)


def test_a_follow_up_is_routed_and_searched_with_the_history(router: EmbeddingRouter) -> None:
    route = router.route("what about Canada?", history=["How much is express shipping to the US?"])
    assert route.intent == "shipping_info"
    assert route.slots == {"region": "Canada"}
    assert route.query.startswith("what about Canada?")
    assert "shipping" in route.query and "US" not in route.query.split()


def test_a_bare_slot_value_continues_the_previous_intent(router: EmbeddingRouter) -> None:
    route = router.route("NW-1048273", history=["where is my order?"])
    assert (route.intent, route.mode, route.slots) == ("order_status", "tool", {"order_id": "NW-1048273"})


def test_a_slot_given_earlier_in_the_conversation_is_used(router: EmbeddingRouter) -> None:
    route = router.route("has it shipped yet?", history=["I ordered boots, NW-7654321", "they were a gift"])
    assert route.intent == "order_status"
    assert route.slots == {"order_id": "NW-7654321"} and route.missing_slots == []


def test_a_standalone_question_keeps_its_own_query(router: EmbeddingRouter) -> None:
    route = router.route("What is your return policy for gifts?", history=["where is my order?"])
    assert route.query == "What is your return policy for gifts?"


def test_a_fixed_threshold_from_settings_overrides_the_learned_one(model: SentenceTransformerEmbedder) -> None:
    strict = EmbeddingRouter(PLAYBOOK, model, RouterSettings(oos_threshold=0.999))
    assert strict.threshold == 0.999
    assert strict.route("What is your return policy?").out_of_scope


def test_examples_and_the_fitted_model_are_cached_and_reused(
    model: SentenceTransformerEmbedder, router: EmbeddingRouter, tmp_path: Path
) -> None:
    first = CountingEmbedder(model)
    built = EmbeddingRouter(PLAYBOOK, first, RouterSettings(), cache_dir=tmp_path)
    examples = sum(len(i.examples) for i in PLAYBOOK.intents) + len(PLAYBOOK.out_of_scope_examples)
    assert first.embedded == examples + 1  # + the probe sentence that names the model in the cache key
    assert {p.name.split("-")[0] for p in tmp_path.iterdir()} == {"embeddings", "router"}

    second = CountingEmbedder(model)
    reused = EmbeddingRouter(PLAYBOOK, second, RouterSettings(), cache_dir=tmp_path)
    assert second.embedded == 1
    assert reused.threshold == pytest.approx(built.threshold) == pytest.approx(router.threshold)
    assert reused.route("where is my order?").intent == "order_status"
    assert reused.route("where is my order?").score == pytest.approx(router.route("where is my order?").score, abs=1e-5)


def test_another_model_never_reads_the_cached_vectors(model: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    EmbeddingRouter(PLAYBOOK, model, RouterSettings(), cache_dir=tmp_path)
    other = EmbeddingRouter(PLAYBOOK, HashingEmbedder(64), RouterSettings(), cache_dir=tmp_path)
    assert other.score_texts(["where is my order?"])[0].intent == "order_status"
    assert len(list(tmp_path.glob("embeddings-*.npz"))) == 2


def test_routing_is_deterministic(model: SentenceTransformerEmbedder, router: EmbeddingRouter) -> None:
    again = EmbeddingRouter(PLAYBOOK, model, RouterSettings())
    texts = ["do you ship to Canada?", "tell me a joke", "where is NW-1048273"]
    # Same decisions; scores equal up to the float noise of threaded linear algebra.
    assert again.threshold == pytest.approx(router.threshold, abs=1e-6)
    ours, theirs = again.score_texts(texts), router.score_texts(texts)
    assert [(s.intent, s.in_scope) for s in ours] == [(s.intent, s.in_scope) for s in theirs]
    assert [s.score for s in ours] == pytest.approx([s.score for s in theirs], abs=1e-6)


@pytest.mark.parametrize("intents", [1, 2])
def test_playbooks_with_one_or_two_intents_still_route(intents: int) -> None:
    data: dict[str, Any] = PLAYBOOK.model_dump(exclude={"out_of_scope_examples"})
    data["intents"] = data["intents"][:intents]
    router = EmbeddingRouter(Playbook.model_validate(data), HashingEmbedder(64), RouterSettings(oos_threshold=0.0))
    assert router.route("where is my order?").intent == "order_status"
    if intents == 2:
        assert router.route("how much does shipping cost?").intent == "shipping_info"


def test_embed_cached_returns_the_same_vectors_from_the_cache(tmp_path: Path) -> None:
    embedder = HashingEmbedder(32)
    texts = ["one", "two words", "three little words"]
    fresh = embed_cached(embedder, texts, cache_dir=tmp_path, model_id="hashing-32")
    cached = embed_cached(embedder, texts, cache_dir=tmp_path, model_id="hashing-32")
    assert fresh.shape == (3, 32) and fresh.dtype == np.float32
    np.testing.assert_array_equal(fresh, cached)
    assert len(list(tmp_path.iterdir())) == 1
