"""The PII eval: the metric on hand-made cases, the runner on a tiny folder, and the real Presidio figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grounddesk.agent.guard import GuardSettings
from grounddesk.agent.types import PIISpan
from grounddesk.errors import GrounddeskError
from grounddesk.evals.pii import OUT_OF_SCOPE_ENTITIES, GoldSpan, PIICase, run_pii_eval, score_pii

SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"


def case(text: str, *spans: tuple[str, str]) -> PIICase:
    gold = [GoldSpan(entity=e, start=text.index(v), end=text.index(v) + len(v)) for e, v in spans]
    return PIICase(id="x", text=text, spans=gold)


def pred(text: str, entity: str, value: str) -> PIISpan:
    return PIISpan(entity=entity, start=text.index(value), end=text.index(value) + len(value))


def test_metric_on_a_hand_made_case() -> None:
    t1 = "card 4111 1111 1111 1111 mail a@b.io"
    t2 = "call 555-0100 now, Paris"
    c1 = case(t1, ("CREDIT_CARD", "4111 1111 1111 1111"), ("EMAIL_ADDRESS", "a@b.io"))
    c2 = case(t2, ("PHONE_NUMBER", "555-0100"), ("GPE", "Paris"))
    predicted = [
        # The card is covered in two pieces: its digits are all masked, so it counts as recalled.
        [
            pred(t1, "CREDIT_CARD", "4111 1111"),
            PIISpan(entity="PHONE_NUMBER", start=t1.index(" mail") - 9, end=t1.index(" mail")),
            pred(t1, "DOMAIN_NAME", "card"),
        ],
        # The phone is only half masked: missed. "Paris" is an out-of-scope gold span: masking it is no false alarm.
        [pred(t2, "PHONE_NUMBER", "555-"), pred(t2, "STREET_ADDRESS", "Paris")],
    ]
    scores = score_pii(zip([c1, c2], predicted, strict=True), ["CREDIT_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER"])
    by = scores["by_entity"]
    assert by["CREDIT_CARD"] == {"recall": 1.0, "precision": 1.0, "support": 1, "predicted": 1, "type_recall": 0.0}
    assert by["EMAIL_ADDRESS"]["recall"] == 0.0
    assert by["PHONE_NUMBER"]["recall"] == 0.0 and by["PHONE_NUMBER"]["precision"] == 1.0
    assert by["DOMAIN_NAME"]["precision"] == 0.0  # "card" overlaps no gold span
    assert scores["recall"] == round(1 / 3, 4)
    assert scores["precision"] == round(4 / 5, 4)
    assert scores["precision_in_scope"] == round(3 / 5, 4)
    assert scores["support"] == 3 and scores["predicted"] == 5 and scores["cases"] == 2


def test_metric_ignores_out_of_scope_gold_spans() -> None:
    text = "I'm Ann from Paris"
    scores = score_pii([(case(text, ("PERSON", "Ann"), ("GPE", "Paris")), [])], ["EMAIL_ADDRESS"])
    assert scores["support"] == 0 and scores["recall"] == 1.0


def test_runner_reads_a_folder_laid_out_like_shared_data(tmp_path: Path) -> None:
    folder = tmp_path / "presidio_synth_pii"
    folder.mkdir()
    text = "Here's my SSN: 460-89-9847, mail jo@example.com"
    record = {
        "id": 1,
        "full_text": text,
        "spans": [
            {"entity_type": "US_SSN", "entity_value": "460-89-9847", "start_position": 15, "end_position": 26},
            {
                "entity_type": "EMAIL_ADDRESS",
                "entity_value": "jo@example.com",
                "start_position": 33,
                "end_position": 47,
            },
        ],
        "template_id": 1,
    }
    (folder / "synth_dataset_v2.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = run_pii_eval(tmp_path, settings=GuardSettings(pii_entities=["US_SSN"]))
    assert result["dataset"] == "presidio" and result["cases"] == 1
    assert result["by_entity"]["US_SSN"] == {
        "recall": 1.0,
        "precision": 1.0,
        "support": 1,
        "predicted": 1,
        "type_recall": 1.0,
    }
    assert "EMAIL_ADDRESS" not in result["by_entity"]  # not selected, so not scored
    assert result["out_of_scope_entities"] == list(OUT_OF_SCOPE_ENTITIES)


def test_runner_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GrounddeskError) as err:
        run_pii_eval(tmp_path)
    assert err.value.code == "dataset_error"
    assert "synth_dataset_v2.jsonl" in err.value.detail


@pytest.mark.skipif(not (SHARED_DATA / "presidio_synth_pii").exists(), reason="needs ../shared/data")
def test_presidio_targets() -> None:
    result = run_pii_eval(SHARED_DATA)
    assert result["recall"] >= 0.99
    assert result["precision"] >= 0.95
    assert result["by_entity"]["EMAIL_ADDRESS"]["recall"] == 1.0
    assert result["by_entity"]["CREDIT_CARD"]["recall"] == 1.0
    for entity in ("PHONE_NUMBER", "STREET_ADDRESS", "IBAN_CODE", "US_SSN", "IP_ADDRESS"):
        assert result["by_entity"][entity]["support"] > 0
