"""PII detection and masking: validators, hand cases per entity, negatives, and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grounddesk.agent.guard import PII_ENTITIES, PIIDetector, detect, iban_is_valid, luhn_is_valid, mask, ssn_is_valid
from grounddesk.agent.types import PIISpan


def found(text: str, entities: list[str] | None = None) -> list[tuple[str, str]]:
    return [(s.entity, text[s.start : s.end]) for s in detect(text, entities)]


# ------------------------------------------------------------------------------------------- validators


def test_luhn() -> None:
    assert luhn_is_valid("4111111111111111")
    assert luhn_is_valid("4454794511390933")
    assert not luhn_is_valid("4111111111111112")


def test_iban_checksum_and_length() -> None:
    assert iban_is_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_is_valid("DE89370400440532013000")
    assert not iban_is_valid("GB82 WEST 1234 5698 7654 33")  # checksum
    assert not iban_is_valid("GB82 WEST 1234 5698 7654")  # length for GB
    assert not iban_is_valid("XX82WEST12345698765432")  # no such country


def test_ssn_rules() -> None:
    assert ssn_is_valid("460-89-9847")
    assert not ssn_is_valid("000-12-3456")
    assert not ssn_is_valid("666-12-3456")
    assert not ssn_is_valid("912-12-3456")
    assert not ssn_is_valid("123-00-4567")
    assert not ssn_is_valid("123-45-0000")


# ------------------------------------------------------------------------------------------- each entity


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("Please send my portfolio to this email jo.doe+x@example.co.uk", "EMAIL_ADDRESS", "jo.doe+x@example.co.uk"),
        ("What is the limit for card 4454794511390933?", "CREDIT_CARD", "4454794511390933"),
        ("Charge 4111-1111-1111-1111 please", "CREDIT_CARD", "4111-1111-1111-1111"),
        ("card 4111 1111 1111 1111 expired", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("My IBAN is GB82 WEST 1234 5698 7654 32.", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
        ("iban gb42nawi04454264788619 please", "IBAN_CODE", "gb42nawi04454264788619"),
        ("Here's my SSN: 460-89-9847", "US_SSN", "460-89-9847"),
        ("my social security number is 460 89 9847", "US_SSN", "460 89 9847"),
        ("NI number JG 10 37 71 A", "UK_NINO", "JG 10 37 71 A"),
        ("keep getting address 106.31.73.20 blocked", "IP_ADDRESS", "106.31.73.20"),
        ("from 6e40:4041:c617:e898:c11:40d2:c669:2eb4 today", "IP_ADDRESS", "6e40:4041:c617:e898:c11:40d2:c669:2eb4"),
        ("I've shared files with you https://www.DigitalFairs.se/", "DOMAIN_NAME", "https://www.DigitalFairs.se/"),
        ("Call me on +1-984-182-0190 tomorrow", "PHONE_NUMBER", "+1-984-182-0190"),
        ("Desk: (898)666-3621x0135", "PHONE_NUMBER", "(898)666-3621x0135"),
        ("Mobile: +46 (0)8 928 571 38", "PHONE_NUMBER", "+46 (0)8 928 571 38"),
        ("They're not answering at 99 668472", "PHONE_NUMBER", "99 668472"),
        ("My driver's license number is A1234567", "US_DRIVER_LICENSE", "A1234567"),
        ("ZIP: 75534-030", "ZIP_CODE", "75534-030"),
        ("My zip code is 90210", "ZIP_CODE", "90210"),
    ],
)
def test_detects_each_entity(text: str, entity: str, value: str) -> None:
    assert (entity, value) in found(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Jacob lives on 90 Whitchurch Road street.", "90 Whitchurch Road street"),
        ("The bus drops you off at 74678 Midtvollen 130 St.", "74678 Midtvollen 130 St."),
        ("Please return to Unit 4719 Box 7394\nDPO AP 70942 in case of an issue.", "Unit 4719 Box 7394\nDPO AP 70942"),
        (
            "The address of Persint is 6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677",
            "6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677",
        ),
        (
            "I want to update my address to the same: the corner of Pachergasse 64 and Radolič Harbor",
            "the corner of Pachergasse 64 and Radolič Harbor",
        ),
        ("Send it to 221B Baker Street, London NW1 6XE please", "221B Baker Street, London NW1 6XE"),
        ("Meet me at 597 Reed Mission\nNguyenstad, CT 11567", "597 Reed Mission\nNguyenstad, CT 11567"),
    ],
)
def test_detects_street_addresses_with_their_postal_block(text: str, value: str) -> None:
    assert ("STREET_ADDRESS", value) in found(text)


# ------------------------------------------------------------------------------------------- negatives


@pytest.mark.parametrize(
    "text",
    [
        "What is the limit for card 4454794511390934?",  # Luhn-invalid: not a card
        "My IBAN is GB83 WEST 1234 5698 7654 32",  # wrong mod-97 checksum: not an IBAN
        "Here's my SSN: 666-12-3456",  # area 666 is never issued
        "Version 1.2.3.4000 crashed",  # not an IPv4 address
        "I need to see the last 10 transactions on my card",
        "what is 13 times 57",
        "On 29 March 2017 the government began the process by invoking Article 50 of the Treaty",
        "Blink-182 pay tribute here; I have 3 kids and 2 dogs",
        "Date: 1992-02-08 20:15:24",
        "My order number is 123456 and it arrived late",
        "I was charged 1,250.00 EUR twice",
        "is there any meeting room available between 8:00 and 10:00 am",
        "if i win 200000 how do i split it 7 ways",
    ],
)
def test_no_pii_in_look_alikes(text: str) -> None:
    assert found(text) == []


def test_invalid_iban_is_left_unmasked() -> None:
    text = "transfer from GB83 WEST 1234 5698 7654 32 to savings"
    assert mask(text, detect(text)) == text


def test_luhn_invalid_number_is_not_a_card_nor_masked_as_one() -> None:
    assert "CREDIT_CARD" not in {e for e, _ in found("card 4111 1111 1111 1112")}


# ------------------------------------------------------------------------------------------- masking


def test_mask_keeps_the_rest_of_the_text_intact() -> None:
    text = "Hi, I'm locked out. Email ann@example.org or call +44 7700 900123; card 4111111111111111."
    assert (
        mask(text, detect(text))
        == "Hi, I'm locked out. Email <EMAIL_ADDRESS> or call <PHONE_NUMBER>; card <CREDIT_CARD>."
    )


def test_mask_merges_overlapping_spans_and_ignores_out_of_range() -> None:
    text = "abcdef"
    spans = [
        PIISpan(entity="A", start=1, end=4),
        PIISpan(entity="B", start=3, end=5),
        PIISpan(entity="C", start=9, end=12),
    ]
    assert mask(text, spans) == "a<A>f"


def test_spans_are_sorted_and_non_overlapping() -> None:
    text = "jo@example.com 4111111111111111 +1-984-182-0190 GB82WEST12345698765432 106.31.73.20"
    spans = detect(text)
    assert [s.entity for s in spans] == ["EMAIL_ADDRESS", "CREDIT_CARD", "PHONE_NUMBER", "IBAN_CODE", "IP_ADDRESS"]
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))


def test_entity_selection_filters_after_resolution() -> None:
    text = "card 4111 1111 1111 1111 and mail jo@example.com"
    only_email = PIIDetector(["EMAIL_ADDRESS"]).detect(text)
    assert [s.entity for s in only_email] == ["EMAIL_ADDRESS"]
    # With cards switched off, the card digits do not come back as a phone number.
    no_cards = PIIDetector([e for e in PII_ENTITIES if e != "CREDIT_CARD"]).detect(text)
    assert [s.entity for s in no_cards] == ["EMAIL_ADDRESS"]


# ------------------------------------------------------------------------------------------- properties


def _card(digits: list[int]) -> str:
    body = [4, *digits]
    for check in range(10):
        candidate = "".join(map(str, [*body, check]))
        if luhn_is_valid(candidate):
            return candidate
    raise AssertionError("unreachable")


_FILLER = st.text(alphabet=st.sampled_from("abcdefghij klmnop,.!?'\"()-:;\n"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_detect_and_mask_never_crash_and_never_leak(text: str) -> None:
    spans = detect(text)
    masked = mask(text, spans)
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
        value = text[span.start : span.end]
        if len(value) >= 6 and text.count(value) == 1:
            assert value not in masked


@settings(max_examples=100, deadline=None)
@given(_FILLER, st.lists(st.integers(0, 9), min_size=14, max_size=14), _FILLER, st.sampled_from([" ", "-", ""]))
def test_a_valid_card_anywhere_is_masked(prefix: str, digits: list[int], suffix: str, sep: str) -> None:
    card = _card(digits)
    shown = sep.join(card[i : i + 4] for i in range(0, len(card), 4))
    text = f"{prefix} {shown} {suffix}"
    masked = mask(text, detect(text))
    assert shown not in masked
    assert "<CREDIT_CARD>" in masked
    assert not re.search(r"\d{4}", masked.replace("<CREDIT_CARD>", ""))
