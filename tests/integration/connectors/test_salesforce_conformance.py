"""SalesforceCRM passes the CRM conformance suite against the Salesforce emulator, through simple-salesforce.

One emulator (seeded with ``generate_seed()``) serves the module, as the suite allows: its writes act only on
customer C-1003 and on cases they create. Each test gets a fresh connector, which logs in again (SOAP login with
password and security token), and both comment-idempotency strategies run the whole suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from grounddesk.connectors.salesforce import SalesforceCRM, SalesforceSettings
from grounddesk.connectors.types import CRMConnector
from grounddesk.demo.seed import DEFAULT_NOW, generate_seed
from grounddesk.testing import CRMConformance
from grounddesk.testing.salesforce_emulator import SalesforceEmulator, SteppingClock, salesforce_session


@pytest.fixture(scope="module")
def emulator() -> Iterator[SalesforceEmulator]:
    # Records created by the tests are stamped after the seed's "now", one second apart, so "newest first"
    # is well defined; pages of 7 rows make every list above 7 rows go through nextRecordsUrl.
    clock = SteppingClock(DEFAULT_NOW + timedelta(hours=1))
    with SalesforceEmulator(seed=generate_seed(), batch_size=7, clock=clock) as running:
        yield running


def _crm(emulator: SalesforceEmulator, **overrides: object) -> Iterator[SalesforceCRM]:
    creds = emulator.credentials
    settings = SalesforceSettings.model_validate(
        {
            "auth": "password",
            "username": creds.username,
            "password": SecretStr(creds.password),
            "security_token": SecretStr(creds.security_token),
            "timeout_s": 10.0,
            **overrides,
        }
    )
    session = salesforce_session(emulator)
    connector = SalesforceCRM(settings, session=session)
    yield connector
    connector.close()
    session.close()


class TestSalesforceCRM(CRMConformance):
    @pytest.fixture
    def crm(self, emulator: SalesforceEmulator) -> Iterator[CRMConnector]:
        yield from _crm(emulator)


class TestSalesforceCRMWithCommentKeyField(CRMConformance):
    """The same suite when comment idempotency keys live in a CaseComment field instead of a body marker."""

    @pytest.fixture
    def crm(self, emulator: SalesforceEmulator) -> Iterator[CRMConnector]:
        yield from _crm(emulator, comment_idempotency_field="Grounddesk_Key__c")
