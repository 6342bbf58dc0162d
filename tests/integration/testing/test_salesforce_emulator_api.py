"""The Salesforce emulator over HTTP, driven by simple-salesforce itself and by plain requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import SalesforceLogin

from grounddesk.demo.seed import generate_seed
from grounddesk.testing.salesforce_emulator import SalesforceEmulator, salesforce_session


@pytest.fixture(scope="module")
def emulator() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(seed=generate_seed(), batch_size=4) as running:
        yield running


@pytest.fixture
def http(emulator: SalesforceEmulator) -> Iterator[requests.Session]:
    session = salesforce_session(emulator)
    yield session
    session.close()


@pytest.fixture
def sf(emulator: SalesforceEmulator, http: requests.Session) -> Salesforce:
    creds = emulator.credentials
    return Salesforce(
        username=creds.username, password=creds.password, security_token=creds.security_token, session=http
    )


def test_soap_login_returns_the_instance_and_a_session(emulator: SalesforceEmulator, http: requests.Session) -> None:
    creds = emulator.credentials
    session_id, instance = SalesforceLogin(
        username=creds.username, password=creds.password, security_token=creds.security_token, session=http
    )
    assert instance == "northwind-dev.my.salesforce.com"
    assert session_id.startswith("00DGd0000000001!")
    assert emulator.auth.valid(session_id)


def test_bad_credentials_are_a_soap_fault(emulator: SalesforceEmulator, http: requests.Session) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        SalesforceLogin(username=emulator.credentials.username, password="wrong", security_token="", session=http)
    assert caught.value.code == "INVALID_LOGIN"


def test_oauth_token_errors(emulator: SalesforceEmulator, http: requests.Session) -> None:
    url = "https://login.salesforce.com/services/oauth2/token"
    wrong_secret = http.post(
        url,
        data={"grant_type": "client_credentials", "client_id": emulator.credentials.consumer_key, "client_secret": "x"},
    )
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (400, "invalid_client")
    unknown = http.post(url, data={"grant_type": "authorization_code"})
    assert unknown.json()["error"] == "unsupported_grant_type"


def test_every_response_carries_limit_info(
    emulator: SalesforceEmulator, http: requests.Session, sf: Salesforce
) -> None:
    base = f"https://{sf.sf_instance}/services/data/v59.0"
    ok = http.get(f"{base}/limits/", headers={"Authorization": f"Bearer {sf.session_id}"})
    missing = http.get(f"{base}/sobjects/Case/500000000000000AAA", headers={"Authorization": f"Bearer {sf.session_id}"})
    anonymous = http.get(f"{base}/limits/")
    login = http.post("https://login.salesforce.com/services/oauth2/token", data={"grant_type": "password"})
    for response in (ok, missing, anonymous, login):
        assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
    used, limit = ok.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    assert ok.json()["DailyApiRequests"] == {"Max": int(limit), "Remaining": int(limit) - int(used)}
    assert missing.status_code == 404 and missing.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    assert anonymous.status_code == 401 and anonymous.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_crud_describe_and_query_all(sf: Salesforce) -> None:
    contact_id = sf.query("SELECT Id FROM Contact WHERE Customer_Number__c = 'C-1002'")["records"][0]["Id"]
    created = sf.Case.create(
        {"Subject": "Emulator CRUD", "ContactId": contact_id, "Priority": "High", "Grounddesk_Key__c": "crud/key-1"}
    )
    case_id = created["id"]
    assert created["success"] is True and case_id.startswith("500")
    assert sf.Case.update(case_id, {"Status": "Escalated"}) == 204
    fetched = sf.Case.get(case_id)
    assert (fetched["Subject"], fetched["Status"], fetched["Priority"]) == ("Emulator CRUD", "Escalated", "High")
    assert sf.Case.get_by_custom_id("Grounddesk_Key__c", "crud/key-1")["Id"] == case_id
    assert sf.Case.delete(case_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Case.get(case_id)
    soql = f"SELECT Id, IsDeleted FROM Case WHERE Id = '{case_id}'"
    assert sf.query(soql)["totalSize"] == 0
    assert sf.query_all(soql, include_deleted=True)["records"][0]["IsDeleted"] is True
    fields = {field["name"]: field for field in sf.Case.describe()["fields"]}
    assert [value["value"] for value in fields["Status"]["picklistValues"]] == [
        "New",
        "Working",
        "Waiting on Customer",
        "Escalated",
        "Closed",
    ]
    assert fields["Grounddesk_Key__c"]["externalId"] and fields["Grounddesk_Key__c"]["unique"]


def test_create_errors_are_salesforce_errors(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create({"FirstName": "No", "Email": "no.last@example.com"})
    assert caught.value.content == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]


def test_paging_follows_next_records_url(emulator: SalesforceEmulator, sf: Salesforce, http: requests.Session) -> None:
    first = sf.query("SELECT Id, Customer_Number__c FROM Contact ORDER BY Customer_Number__c")
    assert (first["totalSize"], first["done"], len(first["records"])) == (60, False, 4)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    everything = sf.query_all("SELECT Id, Customer_Number__c FROM Contact ORDER BY Customer_Number__c")["records"]
    assert [row["Customer_Number__c"] for row in everything] == [f"C-{1001 + i}" for i in range(60)]
    bigger = http.get(
        f"https://{sf.sf_instance}/services/data/v59.0/query/",
        params={"q": "SELECT Id FROM Contact"},
        headers={"Authorization": f"Bearer {sf.session_id}", "Sforce-Query-Options": "batchSize=25"},
    ).json()
    assert len(bigger["records"]) == 25
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more("01gNOPE-4")
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_the_adapter_refuses_other_hosts(http: requests.Session) -> None:
    with pytest.raises(requests.ConnectionError, match="does not route"):
        http.get("https://example.com/")
