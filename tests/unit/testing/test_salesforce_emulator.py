"""The Salesforce emulator's SOQL subset and record store, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from simple_salesforce.format import format_soql

from grounddesk.testing._salesforce_schema import SalesforceApiError, make_id, to_18
from grounddesk.testing._salesforce_store import SalesforceStore
from grounddesk.testing._soql import (
    And,
    Comparison,
    In,
    Like,
    Or,
    OrderItem,
    SoqlError,
    matches,
    parse_soql,
    sort_records,
)


def where(soql_condition: str) -> Any:
    return parse_soql(f"SELECT Id FROM Contact WHERE {soql_condition}").where


def check(condition: str, record: dict[str, Any]) -> bool:
    return matches(where(condition), record.get)


# --- parsing ----------------------------------------------------------------------------------------------------


def test_parses_every_clause_with_keywords_in_any_case() -> None:
    query = parse_soql(
        "select Id, Name, Account.Tier__c from Contact where Email = 'a@b.c' "
        "order by CreatedDate desc nulls first, Name limit 10 offset 5"
    )
    assert query.fields == ("Id", "Name", "Account.Tier__c")
    assert query.sobject == "Contact"
    assert query.where == Comparison("Email", "=", "a@b.c")
    assert query.order_by == (OrderItem("CreatedDate", True, False), OrderItem("Name", False, False))
    assert (query.limit, query.offset) == (10, 5)


def test_parses_in_like_and_grouping() -> None:
    condition = where("Status IN ('New', 'Working') AND (Name LIKE 'Al%' OR NOT Phone = null)")
    assert isinstance(condition, And)
    first, second = condition.operands
    assert first == In("Status", ("New", "Working"))
    assert isinstance(second, Or) and isinstance(second.operands[0], Like)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'O\'Brien'", "O'Brien"),
        (r"'back\\slash'", "back\\slash"),
        (r"'say \"hi\"'", 'say "hi"'),
        (r"'line\nbreak\ttab'", "line\nbreak\ttab"),
        (r"'100\%'", "100%"),
    ],
)
def test_string_escapes_are_decoded(literal: str, value: str) -> None:
    assert where(f"Name = {literal}") == Comparison("Name", "=", value)


@pytest.mark.parametrize(
    "bad",
    [
        "SELECT Id FROM Contact WHERE Name = 'unterminated",
        r"SELECT Id FROM Contact WHERE Name = 'bad \q escape'",
        "SELECT Id FROM Contact WHERE Name = 'a' AND Email = 'b' OR Phone = 'c'",
        "SELECT Id FROM Contact WHERE Name = 'a' extra",
        "SELECT Id Contact",
        "SELECT Id FROM Contact WHERE Name < null",
        "SELECT Id FROM Contact LIMIT -1",
        "SELECT Id FROM Contact WHERE Name ~ 'a'",
    ],
)
def test_malformed_queries_are_refused(bad: str) -> None:
    with pytest.raises(SoqlError) as caught:
        parse_soql(bad)
    assert caught.value.error_code == "MALFORMED_QUERY"


@given(st.text())
def test_any_text_bound_by_format_soql_comes_back_as_one_literal(text: str) -> None:
    condition = where(format_soql("Email = {}", text))
    assert condition == Comparison("Email", "=", text)


def test_an_injection_attempt_stays_inside_the_literal() -> None:
    hostile = "x' OR Email != '"
    bound = format_soql("Email = {}", hostile)
    assert not check(bound, {"Email": "alex@example.com"})
    pasted = f"Email = '{hostile}'"  # what an f-string would have sent
    assert check(pasted, {"Email": "alex@example.com"})


# --- evaluation -------------------------------------------------------------------------------------------------


def test_text_comparison_is_case_insensitive() -> None:
    assert check("Email = 'ALEX.Morgan@example.com'", {"Email": "alex.morgan@example.com"})
    assert check("Status IN ('working')", {"Status": "Working"})


def test_not_equal_matches_null_and_null_comparisons() -> None:
    assert check("Email != 'a@b.c'", {"Email": None})
    assert check("Email = null", {"Email": None})
    assert not check("Email != null", {"Email": None})
    assert not check("Email = 'a@b.c'", {"Email": None})


def test_like_wildcards_and_escaped_wildcards() -> None:
    assert check("Phone LIKE '%0101'", {"Phone": "+1 415 555 0101"})
    assert check("Name LIKE 'a_ex%'", {"Name": "Alex Morgan"})
    assert not check(r"Name LIKE '100\%'", {"Name": "1000"})
    assert check(r"Name LIKE '100\%'", {"Name": "100%"})
    assert check("Name NOT LIKE 'Bob%'", {"Name": "Alex"})


def test_not_in_and_not() -> None:
    assert check("Status NOT IN ('Closed')", {"Status": "New"})
    assert not check("NOT Status = 'New'", {"Status": "New"})


def test_datetime_literals_compare_with_stored_timestamps() -> None:
    record = {"CreatedDate": "2026-11-20T12:00:00.000+0000"}
    assert check("CreatedDate > 2026-11-20T11:59:59Z", record)
    assert not check("CreatedDate > 2026-11-20T12:00:00Z", record)
    assert check("CreatedDate = 2026-11-20T13:00:00+01:00", record)


def test_sort_with_nulls_and_several_keys() -> None:
    rows = [{"n": "b", "d": 1}, {"n": None, "d": 2}, {"n": "A", "d": 3}, {"n": "b", "d": 0}]
    ordered = sort_records(rows, (OrderItem("n", True, True), OrderItem("d")), lambda row: row.get)
    assert [row["d"] for row in ordered] == [0, 1, 3, 2]
    ascending = sort_records(rows, (OrderItem("n"),), lambda row: row.get)
    assert [row["d"] for row in ascending] == [2, 3, 1, 0]


# --- the store ---------------------------------------------------------------------------------------------------


@pytest.fixture
def store() -> SalesforceStore:
    store = SalesforceStore(clock=lambda: datetime(2026, 11, 20, 12, tzinfo=UTC))
    account = store.create("Account", {"Name": "Acme", "AccountNumber": "ACC-1", "Tier__c": "Premium"})
    contact = store.create(
        "Contact", {"LastName": "Morgan", "FirstName": "Alex", "AccountId": account, "Customer_Number__c": "C-1"}
    )
    store.create("Case", {"Subject": "Broken", "ContactId": contact, "Grounddesk_Key__c": "k-1"})
    return store


def test_ids_are_18_characters_with_prefix_and_checksum(store: SalesforceStore) -> None:
    assert to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"  # Salesforce's documented example
    case_id = store.query("SELECT Id FROM Case", include_deleted=False, version="59.0")[0]["Id"]
    assert len(case_id) == 18 and case_id.startswith("500") and case_id == to_18(case_id[:15])
    assert make_id("00a", 1).startswith("00a")


def test_relationship_fields_are_nested_and_derived_fields_set(store: SalesforceStore) -> None:
    rows = store.query(
        "SELECT CaseNumber, Status, AccountId, Contact.Name, Contact.Account.Tier__c FROM Case "
        "WHERE Contact.Customer_Number__c = 'C-1'",
        include_deleted=False,
        version="59.0",
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row["CaseNumber"], row["Status"]) == ("00001001", "New")
    assert row["AccountId"].startswith("001")  # copied from the contact, as Salesforce does
    assert row["Contact"]["Name"] == "Alex Morgan"
    assert row["Contact"]["Account"]["Tier__c"] == "Premium"


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Nope__c FROM Case", "INVALID_FIELD"),
        ("SELECT Id FROM Case WHERE Owner.Name = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead", "INVALID_TYPE"),
        ("SELECT Id FROM Case WHERE IsClosed = 'yes'", "INVALID_FIELD"),
        ("SELECT Id FROM Case WHERE", "MALFORMED_QUERY"),
    ],
)
def test_query_errors_carry_salesforce_codes(store: SalesforceStore, soql: str, code: str) -> None:
    with pytest.raises(SalesforceApiError) as caught:
        store.query(soql, include_deleted=False, version="59.0")
    assert (caught.value.status, caught.value.error_code) == (400, code)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"Subject": "x", "Grounddesk_Key__c": "k-1"}, "DUPLICATE_VALUE"),
        ({"Subject": "x", "Status": "Pending"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"Subject": "x", "CaseNumber": "1"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"Subject": "x", "Colour__c": "red"}, "INVALID_FIELD"),
        ({"Subject": "x", "ContactId": "003000000000000AAA"}, "INVALID_CROSS_REFERENCE_KEY"),
        ({"Subject": "x" * 256}, "STRING_TOO_LONG"),
    ],
)
def test_invalid_creates_are_refused(store: SalesforceStore, data: dict[str, Any], code: str) -> None:
    with pytest.raises(SalesforceApiError) as caught:
        store.create("Case", data)
    assert caught.value.error_code == code
    assert len(store.query("SELECT Id FROM Case", include_deleted=True, version="59.0")) == 1


def test_required_fields(store: SalesforceStore) -> None:
    with pytest.raises(SalesforceApiError) as caught:
        store.create("CaseComment", {"CommentBody": "orphan"})
    assert (caught.value.error_code, caught.value.fields) == ("REQUIRED_FIELD_MISSING", ("ParentId",))


def test_deleted_records_only_in_query_all(store: SalesforceStore) -> None:
    case_id = store.query("SELECT Id FROM Case", include_deleted=False, version="59.0")[0]["Id"]
    store.delete("Case", case_id)
    assert store.query("SELECT Id FROM Case", include_deleted=False, version="59.0") == []
    assert len(store.query("SELECT Id, IsDeleted FROM Case", include_deleted=True, version="59.0")) == 1
    with pytest.raises(SalesforceApiError) as caught:
        store.get("Case", case_id, "59.0")
    assert (caught.value.status, caught.value.error_code) == (404, "NOT_FOUND")


def test_update_recomputes_derived_fields(store: SalesforceStore) -> None:
    case_id = store.query("SELECT Id FROM Case", include_deleted=False, version="59.0")[0]["Id"]
    store.update("Case", case_id, {"Status": "Closed"})
    assert store.get("Case", case_id, "59.0", ["Status", "IsClosed"]) == {
        "attributes": {"type": "Case", "url": f"/services/data/v59.0/sobjects/Case/{case_id}"},
        "Status": "Closed",
        "IsClosed": True,
    }
