"""The conformance tests every :class:`~grounddesk.connectors.types.CRMConnector` must pass."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from grounddesk.connectors.types import (
    CaseStatus,
    ConnectorHealth,
    ConnectorValidationError,
    CRMConnector,
    NewCase,
    RecordNotFound,
)
from grounddesk.testing._connector_data import (
    WRITE_CUSTOMER,
    busiest_customer,
    case_view,
    customer_view,
    expected_case_numbers,
    new_key,
    seed,
)

__all__ = ["CRMConformance"]


def _new_case(subject: str = "Headlamp strap broke", **fields: object) -> NewCase:
    return NewCase.model_validate(
        {
            "customer_id": WRITE_CUSTOMER,
            "subject": subject,
            "description": "The elastic strap snapped on the second night.",
            "priority": "high",
            **fields,
        }
    )


class CRMConformance:
    """Tests of the CRM contract; a subclass provides a function-scoped ``crm`` fixture holding seed data.

    The fixture returns a :class:`CRMConnector` that holds ``generate_seed()`` data; it may be shared between
    tests as long as earlier writes stay (all writes act for customer ``C-1003`` and on cases they create).
    """

    # -- protocol and health -------------------------------------------------------------------------------

    def test_satisfies_the_protocol(self, crm: CRMConnector) -> None:
        """The connector is a runtime-checkable ``CRMConnector`` with a name."""
        assert isinstance(crm, CRMConnector)
        assert isinstance(crm.name, str) and crm.name

    def test_health_is_ok(self, crm: CRMConnector) -> None:
        """A reachable back-end reports ok, as a CRM, under its own name."""
        health = crm.health()
        assert isinstance(health, ConnectorHealth)
        assert health.ok, health.detail
        assert health.kind == "crm"
        assert health.name == crm.name
        assert health.latency_ms is None or health.latency_ms >= 0

    # -- customers and accounts ----------------------------------------------------------------------------

    def test_find_customer_by_email(self, crm: CRMConnector) -> None:
        """Email finds the customer, whatever its case."""
        expected = customer_view(seed().customers[0])
        found = crm.find_customer(email="alex.morgan@example.com")
        assert found is not None and customer_view(found) == expected
        found = crm.find_customer(email="Alex.Morgan@Example.COM")
        assert found is not None and found.id == "C-1001"

    def test_find_customer_by_phone(self, crm: CRMConnector) -> None:
        """The phone number as stored finds the customer."""
        found = crm.find_customer(phone="+1 415 555 0101")
        assert found is not None and customer_view(found) == customer_view(seed().customers[0])

    def test_find_customer_by_id(self, crm: CRMConnector) -> None:
        """Every seed customer is found by its number, with the same fields."""
        for expected in (seed().customers[1], seed().customers[-1]):
            found = crm.find_customer(customer_id=expected.id)
            assert found is not None and customer_view(found) == customer_view(expected)

    def test_find_unknown_customer_is_none(self, crm: CRMConnector) -> None:
        """No match is ``None``, not an error."""
        assert crm.find_customer(email="nobody@example.com") is None
        assert crm.find_customer(phone="+1 999 555 0199") is None
        assert crm.find_customer(customer_id="C-9999") is None

    def test_get_account(self, crm: CRMConnector) -> None:
        """Accounts come back with their tier."""
        for expected in (seed().accounts[0], seed().accounts[-1]):
            account = crm.get_account(expected.id)
            assert account.model_dump(exclude={"record_id"}) == expected.model_dump(exclude={"record_id"})

    def test_get_unknown_account_raises(self, crm: CRMConnector) -> None:
        """An unknown account is ``RecordNotFound`` naming what was looked for."""
        with pytest.raises(RecordNotFound) as caught:
            crm.get_account("ACC-0000")
        assert (caught.value.kind, caught.value.key) == ("account", "ACC-0000")
        assert caught.value.connector == crm.name

    # -- reading cases -------------------------------------------------------------------------------------

    def test_list_cases_of_the_guaranteed_customers(self, crm: CRMConnector) -> None:
        """Alex Morgan has exactly case 00001001 (without comments); Priya Shah has none."""
        cases = crm.list_cases("C-1001")
        assert [case_view(case, comments=False) for case in cases] == [case_view(seed().cases[0], comments=False)]
        assert cases[0].comments == ()
        assert crm.list_cases("C-1002") == []

    def test_list_cases_newest_first(self, crm: CRMConnector) -> None:
        """A customer's cases come newest first, as many as ``limit`` allows."""
        customer_id = busiest_customer()
        expected = expected_case_numbers(customer_id)
        assert len(expected) >= 2
        assert [case.number for case in crm.list_cases(customer_id)] == expected
        assert [case.number for case in crm.list_cases(customer_id, limit=1)] == expected[:1]

    def test_list_cases_filters_by_status(self, crm: CRMConnector) -> None:
        """``statuses`` keeps only the cases in those statuses."""
        customer_id = busiest_customer()
        statuses = {case.status for case in seed().cases if case.customer_id == customer_id}
        some = {sorted(statuses)[0]}
        found = crm.list_cases(customer_id, statuses=sorted(some))
        assert [case.number for case in found] == expected_case_numbers(customer_id, some)
        assert {case.status for case in found} == some
        assert len(found) < len(expected_case_numbers(customer_id))

    def test_get_case_with_comments(self, crm: CRMConnector) -> None:
        """A case comes with its comments, oldest first."""
        assert case_view(crm.get_case("00001001")) == case_view(seed().cases[0])
        richest = max(seed().cases, key=lambda case: (len(case.comments), case.number))
        assert case_view(crm.get_case(richest.number)) == case_view(richest)

    def test_get_unknown_case_raises(self, crm: CRMConnector) -> None:
        """An unknown case number is ``RecordNotFound``."""
        with pytest.raises(RecordNotFound) as caught:
            crm.get_case("09999999")
        assert (caught.value.kind, caught.value.key) == ("case", "09999999")

    # -- writing cases -------------------------------------------------------------------------------------

    def test_create_case(self, crm: CRMConnector) -> None:
        """A new case gets a new number, status new, and is the customer's newest case."""
        known = {case.number for case in seed().cases}
        case = crm.create_case(_new_case(), idempotency_key=new_key())
        assert case.number not in known
        assert (case.customer_id, case.subject, case.priority, case.status) == (
            WRITE_CUSTOMER,
            "Headlamp strap broke",
            "high",
            CaseStatus.NEW,
        )
        assert case.description == "The elastic strap snapped on the second night."
        assert isinstance(case.created_at, datetime) and case.created_at.tzinfo is not None
        assert crm.list_cases(WRITE_CUSTOMER)[0].number == case.number
        assert case_view(crm.get_case(case.number)) == case_view(case)

    def test_create_case_is_idempotent(self, crm: CRMConnector) -> None:
        """The same key twice gives the same case and opens only one."""
        before = len(crm.list_cases(WRITE_CUSTOMER, limit=1000))
        key = new_key()
        first = crm.create_case(_new_case("Tent pole cracked"), idempotency_key=key)
        again = crm.create_case(_new_case("Tent pole cracked"), idempotency_key=key)
        assert again.number == first.number
        assert len(crm.list_cases(WRITE_CUSTOMER, limit=1000)) == before + 1

    def test_different_keys_open_different_cases(self, crm: CRMConnector) -> None:
        """Two keys are two cases, even with the same content."""
        first = crm.create_case(_new_case("Zipper stuck"), idempotency_key=new_key())
        second = crm.create_case(_new_case("Zipper stuck"), idempotency_key=new_key())
        assert first.number != second.number

    def test_create_case_for_unknown_customer_fails(self, crm: CRMConnector) -> None:
        """A case for nobody is refused, and nothing is created."""
        with pytest.raises((RecordNotFound, ConnectorValidationError)):
            crm.create_case(_new_case(customer_id="C-9999"), idempotency_key=new_key())
        assert crm.list_cases("C-9999") == []

    def test_empty_subject_is_refused(self, crm: CRMConnector) -> None:
        """An empty subject never reaches the back-end as a case."""
        before = len(crm.list_cases(WRITE_CUSTOMER, limit=1000))
        with pytest.raises((ValidationError, ConnectorValidationError)):
            crm.create_case(_new_case(""), idempotency_key=new_key())
        assert len(crm.list_cases(WRITE_CUSTOMER, limit=1000)) == before

    def test_add_case_comment_is_idempotent(self, crm: CRMConnector) -> None:
        """A comment is added once per key and shows last on the case, with its visibility."""
        case = crm.create_case(_new_case(), idempotency_key=new_key())
        key = new_key()
        comment = crm.add_case_comment(case.number, "Photos received, thanks.", idempotency_key=key)
        again = crm.add_case_comment(case.number, "Photos received, thanks.", idempotency_key=key)
        assert again.id == comment.id
        assert (comment.body, comment.public) == ("Photos received, thanks.", True)
        crm.add_case_comment(case.number, "Checked stock for a replacement.", idempotency_key=new_key(), public=False)
        comments = crm.get_case(case.number).comments
        assert [(c.body, c.public) for c in comments] == [
            ("Photos received, thanks.", True),
            ("Checked stock for a replacement.", False),
        ]

    def test_add_comment_to_unknown_case_raises(self, crm: CRMConnector) -> None:
        """Commenting on a missing case is ``RecordNotFound``."""
        with pytest.raises(RecordNotFound) as caught:
            crm.add_case_comment("09999999", "Hello?", idempotency_key=new_key())
        assert (caught.value.kind, caught.value.key) == ("case", "09999999")

    def test_update_case_status(self, crm: CRMConnector) -> None:
        """The new status is returned and kept; the same key again changes nothing more."""
        case = crm.create_case(_new_case(), idempotency_key=new_key())
        key = new_key()
        updated = crm.update_case_status(case.number, CaseStatus.ESCALATED, idempotency_key=key)
        assert (updated.number, updated.status) == (case.number, CaseStatus.ESCALATED)
        assert updated.updated_at >= case.updated_at
        again = crm.update_case_status(case.number, CaseStatus.ESCALATED, idempotency_key=key)
        assert again.status == CaseStatus.ESCALATED
        assert crm.get_case(case.number).status == CaseStatus.ESCALATED
        closed = crm.update_case_status(case.number, CaseStatus.CLOSED, idempotency_key=new_key())
        assert closed.status == CaseStatus.CLOSED
        assert [c.number for c in crm.list_cases(WRITE_CUSTOMER, statuses=[CaseStatus.CLOSED])].count(case.number) == 1

    def test_update_unknown_case_raises(self, crm: CRMConnector) -> None:
        """Moving a missing case is ``RecordNotFound``."""
        with pytest.raises(RecordNotFound) as caught:
            crm.update_case_status("09999999", CaseStatus.CLOSED, idempotency_key=new_key())
        assert (caught.value.kind, caught.value.key) == ("case", "09999999")
