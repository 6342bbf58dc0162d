"""Finding a customer's identifiers as whole tokens, and which knowledge corrections an erasure may delete."""

from __future__ import annotations

import pytest

from grounddesk.errors import GrounddeskError
from grounddesk.privacy.checkpoints import mentions, token_pattern
from grounddesk.privacy.corrections import plan_corrections
from grounddesk.privacy.finder import resolve_subject


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("customer C-1001 asked", True),
        ('{"customer_id":"C-1001"}', True),
        ("C-1001.", True),
        ("C-10012 asked", False),
        ("XC-1001", False),
        ("c-1001 in lower case", True),
    ],
)
def test_a_customer_id_is_found_only_as_a_whole_token(text: str, found: bool) -> None:
    assert mentions(text, [token_pattern("C-1001")]) is found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("write to Alex.Morgan@Example.com please", True),
        (b"\xa6\xd9alex.morgan@example.com\x92", True),
        ("malex.morgan@example.com", False),
        ("alex.morgan@example.com.au", False),
        ("alex.morgan@example.community", False),
    ],
)
def test_an_email_is_found_case_insensitively_and_not_inside_another(text: str | bytes, found: bool) -> None:
    assert mentions(text, [token_pattern("alex.morgan@example.com")]) is found


def test_a_subject_needs_exactly_one_valid_identifier() -> None:
    for bad in ({}, {"customer_id": "C-1", "email": "a@b.co"}, {"email": "no-at-sign"}, {"customer_id": " "}):
        with pytest.raises(GrounddeskError) as caught:
            resolve_subject(customer_id=bad.get("customer_id"), email=bad.get("email"), crm=None)
        assert caught.value.code == "invalid_input"
    subject = resolve_subject(customer_id=None, email=" Alex.Morgan@Example.com ", crm=None)
    assert subject.emails == {"alex.morgan@example.com"} and subject.customer_ids == set()


def test_only_unreviewed_corrections_made_wholly_from_the_customers_tickets_are_deleted() -> None:
    docs = {
        "corrections/a": {1: "draft"},
        "corrections/b": {1: "approved", 2: "draft"},
        "corrections/c": {1: "draft", 2: "in_review"},
        "corrections/gone": {},
    }
    traced = {"corrections/a": {1}, "corrections/b": {2}, "corrections/c": {2}, "corrections/gone": {1}}

    delete, review = plan_corrections(traced, lambda doc_id: docs[doc_id])

    assert delete == ["corrections/a"]
    assert review == ["corrections/b@2", "corrections/c@2"]
