"""SalesforceSettings validation, the missing-extra error, and the record mapping of the Salesforce connector."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from grounddesk.connectors import _salesforce_mapping as m
from grounddesk.connectors.salesforce import SalesforceCRM, SalesforceSettings
from grounddesk.connectors.types import CaseStatus, CustomerTier
from grounddesk.errors import ConfigurationError, ErrorCode

PASSWORD: dict[str, Any] = {"username": "bot@acme.example", "password": SecretStr("pw"), "security_token": None}


def test_password_settings_and_domain_normalisation() -> None:
    settings = SalesforceSettings(domain="https://acme.my.salesforce.com/", **PASSWORD)
    assert settings.domain == "acme.my"
    assert settings.customer_number_field == "Customer_Number__c"
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth": "password", "username": "u"}, "needs password"),
        ({"auth": "jwt", "username": "u", "consumer_key": "k"}, "needs privatekey_file"),
        ({"auth": "session", "session_id": SecretStr("s")}, "needs instance_url"),
        ({"auth": "client_credentials", "consumer_key": "k", "consumer_secret": SecretStr("s")}, "My Domain"),
        ({**PASSWORD, "consumer_key": "k"}, "both consumer_key and consumer_secret"),
        ({**PASSWORD, "customer_number_field": "Email' OR Id != '"}, "not a Salesforce field API name"),
        ({**PASSWORD, "api_version": "v59.0"}, "no leading v"),
        ({**PASSWORD, "domain": "acme my"}, "My Domain name"),
    ],
)
def test_invalid_settings_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SalesforceSettings.model_validate(values)


def test_missing_simple_salesforce_is_an_actionable_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "grounddesk.connectors._salesforce_client", None)
    with pytest.raises(ConfigurationError) as caught:
        SalesforceCRM(SalesforceSettings(**PASSWORD))
    assert caught.value.code == ErrorCode.MISSING_EXTRA
    assert 'pip install "grounddesk[salesforce]"' in caught.value.detail


def test_statuses_map_both_ways() -> None:
    for status, value in m.STATUS_TO_SF.items():
        assert m.status_from_sf(value) == status
        assert m.status_from_sf(value.upper()) == status
    assert set(m.STATUS_TO_SF) == set(CaseStatus)
    assert m.status_from_sf("On Hold", is_closed=False) == CaseStatus.WORKING
    assert m.status_from_sf("Resolved", is_closed=True) == CaseStatus.CLOSED


def test_case_and_customer_rows_map_to_records() -> None:
    names = m.FieldNames(
        customer_number="Customer_Number__c",
        idempotency="Grounddesk_Key__c",
        account_number="AccountNumber",
        tier="Tier__c",
        account_status=None,
        comment_idempotency=None,
    )
    case = m.case_from(
        {
            "Id": "500Gd0000000001IAA",
            "CaseNumber": "00001001",
            "Subject": "Charger",
            "Description": None,
            "Status": "Waiting on Customer",
            "Priority": "Urgent",
            "CreatedDate": "2026-11-20T12:00:00.000+0000",
            "LastModifiedDate": "2026-11-20T13:30:00.000+0000",
            "Contact": {"attributes": {}, "Customer_Number__c": "C-1001"},
        },
        names,
    )
    assert (case.customer_id, case.status, case.priority, case.description) == (
        "C-1001",
        CaseStatus.WAITING_ON_CUSTOMER,
        "urgent",
        "",
    )
    assert case.updated_at == datetime(2026, 11, 20, 13, 30, tzinfo=UTC)
    customer = m.customer_from(
        {"Id": "003x", "Name": "Alex Morgan", "Customer_Number__c": "C-1001", "Account": None}, names
    )
    assert (customer.account_id, customer.tier) == (None, CustomerTier.STANDARD)


def test_comment_marker_round_trip() -> None:
    marker = m.comment_marker("key-1")
    row = {"Id": "00aX", "CommentBody": "Thanks!" + marker, "IsPublished": True, "CreatedDate": None}
    assert m.has_marker(row, marker)
    assert not m.has_marker(row, m.comment_marker("key-2"))
    assert m.comment_from(row).body == "Thanks!"


def test_long_idempotency_keys_are_hashed_to_fit_the_field() -> None:
    assert m.external_key("short-key") == "short-key"
    long_key = "k" * 200
    assert len(m.external_key(long_key)) == 64 and m.external_key(long_key) == m.external_key(long_key)


@pytest.mark.parametrize(
    ("phone", "digits"),
    [("+1 415 555 0101", "4155550101"), ("(415) 555-0101", "4155550101"), ("+44 20 7946 0958", "442079460958")],
)
def test_phone_digits(phone: str, digits: str) -> None:
    assert m.phone_digits(phone) == digits
