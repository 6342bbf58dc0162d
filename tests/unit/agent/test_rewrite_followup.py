"""Follow-up questions rewritten into standalone retrieval queries; standalone ones left alone."""

from __future__ import annotations

import pytest

from grounddesk.agent.rewrite import content_words, is_followup, rewrite_followup

SHIPPING = [("user", "Do you ship to Canada?"), ("agent", "Yes, we ship to Canada with Canada Post and UPS.")]


@pytest.mark.parametrize(
    "question",
    [
        "and how much is it?",
        "how long does that take?",
        "what about Canada?",
        "How long?",
        "Why?",
        "pricing?",
        "Regional differences",
        "Or installment easier?",
        "I mean the express option",
        "How can I apply?",
    ],
)
def test_follow_ups_are_detected(question: str) -> None:
    assert is_followup(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is your return policy for sale items?",
        "How do I reset the password of my Northwind account?",
        "Do you ship to Canada?",
        "thanks",
        "ok great",
        "",
    ],
)
def test_standalone_questions_and_acknowledgements_are_not_follow_ups(question: str) -> None:
    assert not is_followup(question)


def test_a_pronoun_follow_up_gets_the_topic_of_the_previous_user_turn() -> None:
    assert rewrite_followup("and how much is it?", SHIPPING) == "and how much is it? ship Canada"
    assert rewrite_followup("how long does that take?", SHIPPING) == "how long does that take? ship Canada"


def test_a_standalone_question_is_returned_unchanged() -> None:
    question = "What is your return policy for sale items?"
    assert rewrite_followup(question, SHIPPING) == question
    assert rewrite_followup("  Do you price match?  ", SHIPPING) == "Do you price match?"


def test_without_an_earlier_user_turn_nothing_is_added() -> None:
    assert rewrite_followup("and how much is it?", []) == "and how much is it?"
    assert rewrite_followup("and how much is it?", [("agent", "Hi! How can I help?")]) == "and how much is it?"


def test_only_customer_turns_are_mined_not_the_agents_answers() -> None:
    rewritten = rewrite_followup("how long does that take?", SHIPPING)
    assert "Post" not in rewritten and "UPS" not in rewritten


def test_a_substitution_drops_the_names_it_replaces() -> None:
    history = [("user", "How much is express shipping to the UK?")]
    assert rewrite_followup("what about Canada?", history) == "what about Canada? express shipping"


def test_newer_turns_come_first_and_older_ones_are_cut_off() -> None:
    history = [
        ("user", "Tell me about gift cards"),
        ("agent", "..."),
        ("user", "Do they expire?"),
        ("agent", "..."),
        ("user", "I have a Trailpoints membership"),
    ]
    rewritten = rewrite_followup("and what about those?", history)
    assert rewritten.startswith("and what about those? Trailpoints membership expire")
    assert "gift" not in rewritten  # three customer turns back is too far
    assert len(rewritten.split()) <= len("and what about those?".split()) + 6


def test_words_already_in_the_question_are_not_repeated() -> None:
    history = [("user", "How do I wash my waterproof jacket?")]
    assert rewrite_followup("and the waterproof pants?", history) == "and the waterproof pants? wash jacket"


def test_speakers_are_matched_case_insensitively() -> None:
    assert rewrite_followup("how much is it?", [("Customer", "express shipping")]) == "how much is it? express shipping"


def test_content_words_drop_function_words_and_repeats() -> None:
    assert content_words("Can you tell me how I return the boots, the boots I bought?") == ["return", "boots", "bought"]
