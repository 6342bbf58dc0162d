"""SalesforceCRM against the Salesforce emulator when things go wrong, and with every login flow.

Sessions that expire (one shared re-login, even for concurrent callers), the API request limit (bounded backoff
for reads, never a re-login), outages, slowness, paging, ``Sforce-Limit-Info`` and SOQL injection attempts.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from grounddesk.connectors.salesforce import SalesforceCRM, SalesforceSettings
from grounddesk.connectors.types import (
    ApiUsage,
    ConnectorAuthError,
    ConnectorTimeout,
    ConnectorUnavailable,
    ConnectorValidationError,
    Customer,
    NewCase,
    RateLimited,
)
from grounddesk.demo.seed import DEFAULT_NOW, generate_seed
from grounddesk.errors import ErrorCode
from grounddesk.testing.salesforce_emulator import (
    EmulatorAdapter,
    SalesforceEmulator,
    SteppingClock,
    salesforce_session,
)

ALEX = "alex.morgan@example.com"


@pytest.fixture(scope="module")
def server() -> Iterator[SalesforceEmulator]:
    clock = SteppingClock(DEFAULT_NOW + timedelta(hours=1))
    with SalesforceEmulator(seed=generate_seed(), batch_size=5, api_limit=50_000, clock=clock) as running:
        yield running


@pytest.fixture
def emulator(server: SalesforceEmulator) -> SalesforceEmulator:
    server.reset_faults()
    server.reset_counters()
    return server


class Sleeps(list[float]):
    """Records the backoff sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def settings_for(emulator: SalesforceEmulator, **overrides: Any) -> SalesforceSettings:
    creds = emulator.credentials
    values: dict[str, Any] = {
        "auth": "password",
        "username": creds.username,
        "password": SecretStr(creds.password),
        "security_token": SecretStr(creds.security_token),
        "timeout_s": 5.0,
        "backoff_base_s": 0.25,
        "max_rate_limit_retries": 3,
    }
    values.update(overrides)
    return SalesforceSettings.model_validate(values)


@pytest.fixture
def make_crm(emulator: SalesforceEmulator, sleeps: Sleeps) -> Iterator[Any]:
    made: list[tuple[SalesforceCRM, Any]] = []

    def make(**overrides: Any) -> SalesforceCRM:
        session = salesforce_session(emulator)
        crm = SalesforceCRM(settings_for(emulator, **overrides), session=session, sleep=sleeps)
        made.append((crm, session))
        return crm

    yield make
    for crm, session in made:
        crm.close()
        session.close()


@pytest.fixture
def crm(make_crm: Any) -> SalesforceCRM:
    connector: SalesforceCRM = make_crm()
    assert connector.find_customer(email=ALEX) is not None  # logged in before any fault is injected
    return connector


# --- expired sessions -------------------------------------------------------------------------------------------


def test_expired_session_is_renewed_once_for_eight_concurrent_callers(
    crm: SalesforceCRM, emulator: SalesforceEmulator
) -> None:
    assert emulator.login_count == 1
    emulator.expire_sessions()
    # Held requests make the eight calls overlap: all of them go out with the expired session.
    emulator.set_delay(0.3)
    barrier = threading.Barrier(8)
    results: list[Customer | None] = []
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(crm.find_customer(email=ALEX))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert [customer.id if customer else None for customer in results] == ["C-1001"] * 8
    assert emulator.login_count == 2  # the first login and exactly one re-login
    assert crm.logins == 2
    rejected = emulator.call_count("query") - 1 - 8  # retries = calls that met the expired session
    assert 2 <= rejected <= 8


def test_a_second_invalid_session_after_relogin_is_an_auth_error(
    crm: SalesforceCRM, emulator: SalesforceEmulator
) -> None:
    emulator.fail_with_invalid_session(2)
    with pytest.raises(ConnectorAuthError) as caught:
        crm.get_case("00001001")
    assert caught.value.code == ErrorCode.CONNECTOR_AUTH
    assert emulator.login_count == 2  # one re-login, no loop
    assert crm.get_case("00001001").number == "00001001"  # the renewed session works once the org does


def test_a_session_given_as_is_cannot_be_renewed(make_crm: Any, emulator: SalesforceEmulator) -> None:
    crm = make_crm(
        auth="session",
        session_id=SecretStr(emulator.open_session()),
        instance_url=emulator.instance_url,
        username=None,
        password=None,
    )
    assert crm.get_account("ACC-1001").name == "Alex Morgan"
    emulator.expire_sessions()
    with pytest.raises(ConnectorAuthError):
        crm.get_account("ACC-1001")
    assert emulator.login_count == 0


# --- request limit, outages, slowness -----------------------------------------------------------------------


def test_request_limit_backs_off_and_succeeds_without_relogin(
    crm: SalesforceCRM, emulator: SalesforceEmulator, sleeps: Sleeps
) -> None:
    emulator.fail_with_request_limit(2)
    customer = crm.find_customer(customer_id="C-1002")
    assert customer is not None and customer.name == "Priya Shah"
    assert sleeps == [0.25, 0.5]  # exponential backoff
    assert emulator.call_count("query") == 1 + 3
    assert emulator.login_count == 1


def test_request_limit_that_persists_is_rate_limited(
    crm: SalesforceCRM, emulator: SalesforceEmulator, sleeps: Sleeps
) -> None:
    emulator.fail_with_request_limit(100)
    with pytest.raises(RateLimited) as caught:
        crm.list_cases("C-1001")
    assert caught.value.code == ErrorCode.RATE_LIMITED
    assert len(sleeps) == 3  # max_rate_limit_retries
    assert emulator.call_count("query") == 1 + 4
    assert emulator.login_count == 1


def test_exhausted_daily_limit_is_rate_limited() -> None:
    with SalesforceEmulator(seed=generate_seed(customers=3), api_limit=2) as small:
        session = salesforce_session(small)
        crm = SalesforceCRM(settings_for(small, max_rate_limit_retries=0), session=session, sleep=Sleeps())
        assert crm.find_customer(customer_id="C-1001") is not None
        assert crm.find_customer(customer_id="C-1002") is not None
        with pytest.raises(RateLimited):
            crm.find_customer(customer_id="C-1003")
        assert crm.api_usage == ApiUsage(used=2, limit=2)
        session.close()


def test_server_error_is_unavailable_and_the_next_call_works(crm: SalesforceCRM, emulator: SalesforceEmulator) -> None:
    emulator.fail_with_server_error(1, status=503)
    with pytest.raises(ConnectorUnavailable) as caught:
        crm.get_case("00001001")
    assert type(caught.value) is ConnectorUnavailable
    emulator.fail_with_server_error(1, status=500)
    with pytest.raises(ConnectorUnavailable):
        crm.get_case("00001001")
    assert crm.get_case("00001001").subject == "Charger stopped working"
    assert emulator.login_count == 1


def test_login_server_error_is_unavailable(make_crm: Any, emulator: SalesforceEmulator) -> None:
    crm = make_crm()
    emulator.fail_with_server_error(1, status=503, include_logins=True)
    with pytest.raises(ConnectorUnavailable) as caught:
        crm.find_customer(email=ALEX)
    assert not isinstance(caught.value, ConnectorTimeout)
    assert crm.find_customer(email=ALEX) is not None


def test_slow_answers_time_out(make_crm: Any, emulator: SalesforceEmulator) -> None:
    crm = make_crm(timeout_s=0.3)
    assert crm.find_customer(email=ALEX) is not None
    emulator.set_delay(3.0)
    with pytest.raises(ConnectorTimeout) as caught:
        crm.find_customer(email=ALEX)
    assert caught.value.code == ErrorCode.CONNECTOR_TIMEOUT
    with pytest.raises(ConnectorTimeout):
        make_crm(timeout_s=0.3).find_customer(email=ALEX)  # the login itself is slow
    emulator.set_delay(0)
    assert crm.find_customer(email=ALEX) is not None


def test_unreachable_org_is_unavailable_and_unhealthy(emulator: SalesforceEmulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    session = salesforce_session(emulator)
    session.mount("https://", EmulatorAdapter(f"http://127.0.0.1:{closed_port}"))
    crm = SalesforceCRM(settings_for(emulator), session=session)
    with pytest.raises(ConnectorUnavailable):
        crm.find_customer(email=ALEX)
    health = crm.health()
    assert (health.ok, health.name, health.kind) == (False, "salesforce", "crm")
    assert "connector_unavailable" in health.detail
    session.close()


# --- logins ---------------------------------------------------------------------------------------------------


def test_password_and_token_log_in_with_soap(make_crm: Any, emulator: SalesforceEmulator) -> None:
    assert make_crm().get_account("ACC-1001").tier == "premium"
    assert emulator.logins == {"soap": 1}


def test_oauth_password_flow(make_crm: Any, emulator: SalesforceEmulator) -> None:
    creds = emulator.credentials
    crm = make_crm(consumer_key=creds.consumer_key, consumer_secret=SecretStr(creds.consumer_secret))
    assert crm.get_account("ACC-1001").name == "Alex Morgan"
    assert emulator.logins == {"password": 1}


def test_client_credentials_flow(make_crm: Any, emulator: SalesforceEmulator) -> None:
    creds = emulator.credentials
    crm = make_crm(
        auth="client_credentials",
        domain="northwind-dev.my",
        consumer_key=creds.consumer_key,
        consumer_secret=SecretStr(creds.consumer_secret),
        username=None,
        password=None,
    )
    assert crm.get_account("ACC-1001").name == "Alex Morgan"
    assert emulator.logins == {"client_credentials": 1}


def _rsa_pair(tmp_path: Path, name: str) -> tuple[Path, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / f"{name}.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, public


def test_jwt_bearer_flow(make_crm: Any, emulator: SalesforceEmulator, tmp_path: Path) -> None:
    private_file, public_pem = _rsa_pair(tmp_path, "connected-app")
    emulator.add_connected_app("3MVG9jwtApp", "unused-secret", public_key=public_pem)
    crm = make_crm(auth="jwt", consumer_key="3MVG9jwtApp", privatekey_file=private_file, password=None)
    assert crm.get_account("ACC-1001").name == "Alex Morgan"
    assert emulator.logins == {"jwt": 1}


def test_jwt_signed_with_another_key_is_refused(make_crm: Any, emulator: SalesforceEmulator, tmp_path: Path) -> None:
    _, public_pem = _rsa_pair(tmp_path, "registered")
    wrong_file, _ = _rsa_pair(tmp_path, "impostor")
    emulator.add_connected_app("3MVG9jwtOther", "unused-secret", public_key=public_pem)
    crm = make_crm(auth="jwt", consumer_key="3MVG9jwtOther", privatekey_file=wrong_file, password=None)
    with pytest.raises(ConnectorAuthError) as caught:
        crm.get_account("ACC-1001")
    assert "invalid_grant" in caught.value.detail
    assert emulator.login_count == 0


def test_wrong_password_is_an_auth_error_and_health_says_so(make_crm: Any, emulator: SalesforceEmulator) -> None:
    crm = make_crm(password=SecretStr("not-the-password"))
    with pytest.raises(ConnectorAuthError) as caught:
        crm.find_customer(email=ALEX)
    assert "INVALID_LOGIN" in caught.value.detail
    health = crm.health()
    assert not health.ok and "connector_auth_failed" in health.detail


# --- queries, limits and injection ----------------------------------------------------------------------------


def test_query_results_are_paged(crm: SalesforceCRM, emulator: SalesforceEmulator) -> None:
    numbers = {
        crm.create_case(NewCase(customer_id="C-1003", subject=f"Paging case {i}"), idempotency_key=f"paging-{i}").number
        for i in range(12)
    }
    before = emulator.call_count("query_more")
    listed = crm.list_cases("C-1003", limit=1000)
    assert numbers <= {case.number for case in listed}
    assert len(listed) > emulator.batch_size
    assert emulator.call_count("query_more") - before == (len(listed) - 1) // emulator.batch_size


def test_limit_info_is_parsed_and_reported(crm: SalesforceCRM, emulator: SalesforceEmulator) -> None:
    crm.get_account("ACC-1001")
    assert crm.api_usage == ApiUsage(used=emulator.api_used, limit=50_000)
    health = crm.health()
    assert health.ok and health.latency_ms is not None
    assert health.api_usage == ApiUsage(used=emulator.api_used, limit=50_000)


def test_hostile_email_is_an_escaped_literal(crm: SalesforceCRM, emulator: SalesforceEmulator) -> None:
    hostile = "x' OR Email != '"
    assert crm.find_customer(email=hostile) is None
    assert "Email = 'x\\' OR Email != \\''" in emulator.queries[-1]
    # Pasted into the query unescaped, the same text would have matched every contact.
    assert len(emulator.query("SELECT Id FROM Contact WHERE Email = 'x' OR Email != ''")) == 60


def test_too_long_comment_is_a_validation_error(crm: SalesforceCRM) -> None:
    with pytest.raises(ConnectorValidationError) as caught:
        crm.add_case_comment("00001001", "x" * 4000, idempotency_key="too-long")
    assert caught.value.fields["sf_error_code"] == "STRING_TOO_LONG"
    assert [c.body for c in crm.get_case("00001001").comments] == [c.body for c in generate_seed().cases[0].comments]
