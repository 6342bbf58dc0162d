"""Sensitive topics from the policy file, policy-file validation, and explicit requests for a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from grounddesk.agent.guard import TopicPolicy, wants_human
from grounddesk.errors import ConfigurationError
from grounddesk.evals.guard import run_topic_eval

SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"


@pytest.fixture(scope="module")
def policy() -> TopicPolicy:
    return TopicPolicy.load(None)


def reasons(policy: TopicPolicy, text: str) -> list[str]:
    return [m.reason for m in policy.match(text)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("If this isn't fixed I'm calling my lawyer", "legal_threat"),
        ("I will take you to court over this", "legal_threat"),
        ("I'm going to sue", "legal_threat"),
        ("I want to make a formal complaint", "complaint"),
        ("I'll be writing to the ombudsman", "complaint"),
        ("This is unacceptable service", "complaint"),
        ("I think my card was stolen", "fraud_or_security"),
        ("There's a payment on my statement I didn't make", "fraud_or_security"),
        ("My account has been hacked", "fraud_or_security"),
        ("I got a phishing text pretending to be you", "fraud_or_security"),
        ("There is an unauthorised transaction on my card", "fraud_or_security"),
        ("I want to kill myself", "self_harm"),
        ("Please close my account", "account_closure"),
        ("My husband passed away last month", "bereavement"),
        ("My mother has dementia and I hold power of attorney", "vulnerable_customer"),
        ("Should I stop taking my medication?", "medical_advice"),
        ("Should I invest my savings in crypto?", "financial_advice"),
    ],
)
def test_each_topic_gives_its_reason(policy: TopicPolicy, text: str, reason: str) -> None:
    assert reason in reasons(policy, text)


def test_actions_and_caution_texts(policy: TopicPolicy) -> None:
    (self_harm,) = policy.match("sometimes I think about suicide")
    assert self_harm.action == "escalate" and self_harm.reason == "self_harm"
    assert self_harm.caution is not None and "116 123" in self_harm.caution and "988" in self_harm.caution
    (medical,) = policy.match("what dosage of ibuprofen is ok?")
    assert medical.action == "caution" and medical.caution and "doctor" in medical.caution
    (money,) = policy.match("is it a good time to buy shares?")
    assert money.action == "caution" and money.reason == "financial_advice"


@pytest.mark.parametrize(
    "text",
    [
        "What is the exchange rate for euros?",
        "This is not fraud, I made the payment myself",
        "I won't sue, I just want my money back",
        "No lawyer needed, just fix it",
        "My card was disabled after three wrong PINs",  # "disabled" alone is not a vulnerable customer
        "My phone died, can I still pay with my card?",
        "Sue from accounts said to call",
        "How do I open a second account?",
        "I'd like to add a food court voucher",
    ],
)
def test_neutral_and_negated_messages_match_nothing(policy: TopicPolicy, text: str) -> None:
    assert policy.match(text) == []


def test_self_harm_is_not_negatable(policy: TopicPolicy) -> None:
    assert reasons(policy, "I don't want to live any more") == ["self_harm"]


def test_topics_come_in_policy_order(policy: TopicPolicy) -> None:
    found = reasons(policy, "My card was stolen and I want to make a formal complaint, my lawyer agrees")
    assert found == ["legal_threat", "complaint", "fraud_or_security"]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_custom_policy_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\ntopics:\n"
        "  - name: pets\n    action: caution\n    caution: We are not vets.\n    phrases: [my dog]\n"
        "  - name: chargeback\n    action: escalate\n    patterns: ['\\bcharge\\s*back\\b']\n",
    )
    policy = TopicPolicy.load(path)
    assert [(m.topic, m.action, m.reason) for m in policy.match("my dog ate my card, can I do a chargeback?")] == [
        ("pets", "caution", "pets"),
        ("chargeback", "escalate", "chargeback"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("version: 1\ntopics:\n  - name: x\n    action: caution\n    phrases: [a]\n", "topics.0"),
        ("version: 1\ntopics:\n  - name: x\n    action: shout\n    phrases: [a]\n", "topics.0.action"),
        ("version: 1\ntopics:\n  - name: x\n    action: escalate\n    patterns: ['(']\n", "topics.0.patterns"),
        (
            "version: 1\ntopics:\n  - name: x\n    action: escalate\n    phrases: [a]\n    colour: red\n",
            "topics.0.colour",
        ),
        ("version: 1\ntopics:\n  - name: Bad Name\n    action: escalate\n    phrases: [a]\n", "topics.0.name"),
        ("version: 2\ntopics: []\n", "version"),
        ("topics: [1, 2]\n", "topics.0"),
    ],
)
def test_bad_policy_file_names_file_and_field(tmp_path: Path, body: str, field: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigurationError) as err:
        TopicPolicy.load(path)
    assert err.value.code == "configuration_error"
    assert err.value.fields["path"] == str(path)
    assert err.value.fields["field"] == field
    assert str(path) in err.value.detail and field in err.value.detail


def test_unreadable_or_non_yaml_policy(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as missing:
        TopicPolicy.load(tmp_path / "nope.yaml")
    assert missing.value.fields["path"] == str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        TopicPolicy.load(write(tmp_path, "topics: [unclosed\n"))


@pytest.mark.parametrize(
    "text",
    [
        "let me talk to a person",
        "human please",
        "Human!",
        "I want a real agent",
        "can I speak to someone?",
        "representative",
        "operator please",
        "I don't want to talk to a bot",
        "CAN I SPEAK TO A REAL PERSON?!?!",
        "Please transfer me to a human",
        "connect me with a live agent",
        "I need to speak with a manager",
        "I'd like to talk to customer service",
        "is there a real person I can talk to?",
    ],
)
def test_wants_human(text: str) -> None:
    assert wants_human(text)


@pytest.mark.parametrize(
    "text",
    [
        "is a human going to review my claim?",
        "I don't need to speak to an agent",
        "How do I add a person to my account?",
        "The representative was rude yesterday",
        "Can a person open two accounts?",
        "Are you a bot?",
        "I made a transfer to someone yesterday",
        "how do I send money to someone",
        "the operator of the ATM charged me",
        "My travel agent booked it",
    ],
)
def test_does_not_want_human(text: str) -> None:
    assert not wants_human(text)


@pytest.mark.skipif(not (SHARED_DATA / "banking77").exists(), reason="needs ../shared/data")
def test_banking77_sensitive_intents() -> None:
    result = run_topic_eval(SHARED_DATA)
    assert result["sensitive_escalated_right_reason"] >= 0.8
    assert result["others_escalated"] <= 0.015
    assert all(row["escalated_right_reason"] >= 0.7 for row in result["by_intent"].values())
