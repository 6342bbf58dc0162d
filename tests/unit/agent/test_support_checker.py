"""Support scores: words and numbers of a sentence found in its cited source, plus semantic closeness."""

from __future__ import annotations

import pytest

from grounddesk.agent.support import SupportChecker, check, numbers_in, support_score
from grounddesk.agent.types import Citation, Draft, DraftSentence
from grounddesk.testing.embedders import HashingEmbedder

SOURCE = "Items can be returned within 30 days of delivery for a full refund. The return label costs $6.95."


def test_a_sentence_copied_from_its_source_is_fully_supported() -> None:
    assert support_score("Items can be returned within 30 days of delivery.", [SOURCE]) == 1.0


def test_a_wrong_number_is_not_supported_even_when_every_word_is() -> None:
    assert support_score("Items can be returned within 60 days of delivery.", [SOURCE]) == 0.0
    assert support_score("The return label costs $9.95.", [SOURCE]) == 0.0
    # one of two numbers right: half the numbers, times the penalty for any missing number
    assert support_score("Items can be returned within 30 days; the label costs $9.95.", [SOURCE]) < 0.5


def test_unrelated_words_lower_the_score_in_proportion() -> None:
    # content words: return, within, days, delivery, store, credit -> 4 of 6 in the source
    value = support_score("Returns within 30 days of delivery get store credit.", [SOURCE])
    assert 0.3 < value < 0.9
    assert support_score("Our stores open at nine on Sundays.", [SOURCE]) < value


def test_the_best_source_counts() -> None:
    sources = ["Shipping to Canada takes 5 business days.", SOURCE]
    assert support_score("The return label costs $6.95.", sources) == 1.0


def test_filler_that_the_source_does_not_say_is_unsupported() -> None:
    assert support_score("Happy to help!", [SOURCE]) == 0.0


def test_numbers_are_compared_in_a_canonical_form() -> None:
    assert numbers_in("It costs $1,000.00 or thirty euros, 2.50 per day") == {"1000", "30", "2.5"}
    assert support_score("A refund over 1000 needs approval.", ["Refunds over $1,000 need approval."]) == 1.0


def test_semantic_similarity_raises_a_paraphrase_but_never_rescues_a_wrong_number() -> None:
    checker = SupportChecker(HashingEmbedder())
    copied, wrong = checker.scores(
        ["Items can be returned within 30 days of delivery.", "Items can be returned within 90 days of delivery."],
        [[SOURCE], [SOURCE]],
    )
    assert copied == pytest.approx(1.0)
    assert wrong < checker.settings.threshold
    assert 0.0 <= wrong <= 1.0


def test_check_uses_each_sentences_cited_source() -> None:
    sentences = [
        DraftSentence(text="The return label costs $6.95.", citation=1, support=1.0),
        DraftSentence(text="The return label costs $6.95.", citation=2, support=1.0),
    ]
    scores = check(sentences, {1: SOURCE, 2: "Shipping to Canada takes 5 business days."})
    assert scores[0] == 1.0
    assert scores[1] == 0.0
    # plain strings against one list of sources
    assert check(["The return label costs $6.95."], [SOURCE]) == [1.0]


def test_drop_unsupported_removes_weak_sentences_and_renumbers_citations() -> None:
    draft = Draft(
        text="",
        sentences=[
            DraftSentence(text="Shipping to Canada takes 9 business days.", citation=1, support=1.0),
            DraftSentence(text="The return label costs $6.95.", citation=2, support=1.0),
        ],
        citations=[
            Citation(n=1, doc_id="shipping", version=3, title="Shipping", chunk_id="shipping@3#0"),
            Citation(n=2, doc_id="returns", version=1, title="Returns", chunk_id="returns@1#2"),
        ],
    )
    kept = SupportChecker().drop_unsupported(
        draft, {1: "Shipping to Canada takes 5 business days.", 2: SOURCE}, threshold=0.5
    )
    assert kept.removed == ["Shipping to Canada takes 9 business days."]
    assert [s.text for s in kept.sentences] == ["The return label costs $6.95."]
    assert kept.sentences[0].citation == 1
    assert kept.sentences[0].support == 1.0
    assert [(c.n, c.ref) for c in kept.citations] == [(1, "returns@1")]
    assert kept.text == "The return label costs $6.95 [1]."
