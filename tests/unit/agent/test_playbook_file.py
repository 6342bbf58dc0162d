"""The playbook: the bundled file, validation errors that name the file and the field, slot validators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from grounddesk.agent.playbook import DEFAULT_PLAYBOOK, Playbook, SlotSpec, load_playbook
from grounddesk.errors import ConfigurationError, ErrorCode

BUNDLED = load_playbook()


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slots": {"order_id": {"type": "regex", "pattern": r"\bNW-?(?P<digits>\d{7})\b", "format": "NW-{digits}"}},
        "intents": [
            {
                "name": "order_status",
                "description": "Where an order is",
                "mode": "tool",
                "tool": "order_status",
                "slots": ["order_id"],
                "examples": ["where is my order"],
            }
        ],
    }
    data.update(changes)
    return data


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


# ------------------------------------------------------------------------------------------- bundled playbook


def test_the_bundled_playbook_covers_the_retailers_intents_with_8_to_20_examples_each() -> None:
    expected = {
        "shipping_info",
        "returns_info",
        "refund_status",
        "order_status",
        "track_shipment",
        "warranty_claim",
        "account_help",
        "billing_question",
        "product_question",
        "talk_to_human",
        "greeting",
        "thanks",
        "knowledge_question",
    }
    assert expected <= set(BUNDLED.intent_names)
    assert all(8 <= len(i.examples) <= 20 for i in BUNDLED.intents), [
        (i.name, len(i.examples)) for i in BUNDLED.intents
    ]
    assert BUNDLED.fallback_intent == "knowledge_question"
    assert BUNDLED.intent("talk_to_human").mode == "handoff"
    order = BUNDLED.intent("order_status")
    assert (order.mode, order.tool, order.required_slots) == ("tool", "order_status", ["order_id"])
    tools = {i.tool for i in BUNDLED.intents if i.mode == "tool"}
    assert tools == {
        "order_status",
        "track_shipment",
        "case_status",
        "create_case",
        "request_return",
        "add_case_comment",
        "get_invoice",
    }
    assert BUNDLED.out_of_scope_examples


def test_load_playbook_reads_the_bundled_file_by_default() -> None:
    assert load_playbook(DEFAULT_PLAYBOOK) == BUNDLED


# ------------------------------------------------------------------------------------------- validation errors


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (minimal(intents=[]), "intents", "at least 1"),
        (
            minimal(intents=[{**minimal()["intents"][0], "tool": None}]),
            "intents.0",
            "must name its 'tool'",
        ),
        (
            minimal(intents=[{**minimal()["intents"][0], "slots": ["case_number"]}]),
            "(top level)",
            "'case_number', which is not defined",
        ),
        (minimal(slots={"order_id": {"type": "regex", "pattern": "NW-("}}), "slots.order_id.pattern", "regular"),
        (minimal(slots={"order_id": {"type": "enum"}}), "slots.order_id", "needs 'values'"),
        (minimal(slots={"order_id": {"type": "uuid"}}), "slots.order_id.type", "'regex'"),
        (minimal(intents=[{**minimal()["intents"][0], "mode": "magic"}]), "intents.0.mode", "'answer'"),
        (minimal(intents=[{**minimal()["intents"][0], "examples": []}]), "intents.0.examples", "at least 1"),
        (minimal(intents=[{**minimal()["intents"][0], "name": "Order Status"}]), "intents.0.name", "pattern"),
        (minimal(intents=[minimal()["intents"][0]] * 2), "(top level)", "repeated: ['order_status']"),
        (minimal(fallback_intent="nope"), "(top level)", "'nope' is not an intent"),
        (minimal(colour="blue"), "colour", "Extra inputs"),
        (
            minimal(slots={"order_id": {"type": "regex", "pattern": r"\d+", "format": "NW-{digits}"}}),
            "slots.order_id",
            "['digits']",
        ),
    ],
)
def test_a_bad_playbook_raises_a_configuration_error_naming_the_file_and_the_field(
    tmp_path: Path, data: dict[str, Any], field: str, words: str
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigurationError) as caught:
        load_playbook(path)
    error = caught.value
    assert error.code is ErrorCode.CONFIGURATION
    assert error.fields["path"] == str(path)
    assert error.fields["field"] == field
    assert str(path) in error.detail and field in error.detail
    assert words in error.detail


@pytest.mark.parametrize(
    ("content", "words"),
    [("intents: [unclosed", "not valid YAML"), ("- just\n- a list\n", "must be a mapping")],
)
def test_a_file_that_is_not_a_playbook_mapping_is_refused(tmp_path: Path, content: str, words: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigurationError, match=words) as caught:
        load_playbook(path)
    assert caught.value.fields["path"] == str(path)


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read playbook"):
        load_playbook(tmp_path / "nope.yaml")


def test_a_valid_minimal_file_loads_and_slot_shorthand_means_required(tmp_path: Path) -> None:
    playbook = load_playbook(write(tmp_path, minimal()))
    assert playbook.intent("order_status").required_slots == ["order_id"]
    with pytest.raises(KeyError):
        playbook.intent("nope")


# ------------------------------------------------------------------------------------------- slots


def test_slots_are_extracted_and_canonicalised_by_their_validators() -> None:
    text = "order nw 1048273, case cs-2048117, mail me at Jo.Doe@Example.COM, I'm in the UK"
    found = BUNDLED.extract_slots(text, ["order_id", "case_number", "email", "region", "tracking_number"])
    assert found == {
        "order_id": "NW-1048273",
        "case_number": "CS-2048117",
        "email": "jo.doe@example.com",
        "region": "United Kingdom",
    }


def test_invalid_values_are_not_taken_as_slots() -> None:
    text = "order NW-12345 or NW-123456789, write to jo@ or call us"
    assert BUNDLED.extract_slots(text, ["order_id", "email", "region"]) == {}


def test_enum_acronyms_match_only_in_capitals_and_synonyms_map_to_their_value() -> None:
    region = BUNDLED.slots["region"]
    assert [v for _, _, v in region.find("do you ship to the US or Germany?")] == ["United States", "European Union"]
    assert region.find("please contact us") == []


def test_validate_value_accepts_only_a_whole_valid_value() -> None:
    order = BUNDLED.slots["order_id"]
    assert order.validate_value(" nw1048273 ") == "NW-1048273"
    assert order.validate_value("NW-1048273 please") is None
    assert order.validate_value("NW-10482") is None
    integer = SlotSpec(type="integer")
    assert integer.validate_value("42") == "42"
    assert integer.validate_value("4.2") is None


def test_the_clarification_question_prefers_the_intents_then_the_slots_then_a_default() -> None:
    data = minimal()
    data["intents"][0]["slots"] = [{"name": "order_id", "question": "Which order?"}]
    data["slots"]["email"] = {"type": "email"}
    data["intents"][0]["slots"].append({"name": "email", "required": False})
    playbook = Playbook.from_mapping(data)
    assert playbook.question_for("order_status", "order_id") == "Which order?"
    assert playbook.question_for("order_status", "email") == "Could you tell me your email?"
    assert BUNDLED.question_for("order_status", "order_id").startswith("What is your order number?")


def test_the_fingerprint_changes_with_the_examples_only() -> None:
    data = minimal()
    same = Playbook.from_mapping({**data, "name": "renamed"})
    changed = minimal()
    changed["intents"][0]["examples"] = ["where is my parcel"]
    assert Playbook.from_mapping(data).fingerprint() == same.fingerprint()
    assert Playbook.from_mapping(changed).fingerprint() != same.fingerprint()
