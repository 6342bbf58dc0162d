"""HttpERP against the ERP emulator when things go wrong: outages, throttling, slowness and credentials."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from grounddesk.connectors.erp_http import HttpERP, HttpERPSettings
from grounddesk.connectors.erp_mapping import ApiKeyAuth, BasicAuth, BearerAuth, ErpMapping, load_mapping
from grounddesk.connectors.types import (
    ConnectorAuthError,
    ConnectorTimeout,
    ConnectorUnavailable,
    ConnectorValidationError,
    NewReturn,
    OrderStatus,
    RateLimited,
    RecordNotFound,
)
from grounddesk.errors import ErrorCode
from grounddesk.testing.erp_emulator import ErpEmulator, ErpEmulatorServer


@pytest.fixture(scope="module")
def server() -> Iterator[ErpEmulatorServer]:
    emulator = ErpEmulator(tokens={"static-token"}, api_keys={"key-123"}, basic={"svc-grounddesk": "pw-456"})
    with emulator.serve() as running:
        yield running


@pytest.fixture
def emulator(server: ErpEmulatorServer) -> ErpEmulator:
    server.emulator.reset()
    return server.emulator


@pytest.fixture
def erp(server: ErpEmulatorServer, emulator: ErpEmulator) -> Iterator[HttpERP]:
    connector = HttpERP(server.erp_settings())
    yield connector
    connector.close()


def _with_auth(auth: BearerAuth | ApiKeyAuth | BasicAuth) -> ErpMapping:
    return load_mapping().model_copy(update={"auth": auth})


# --- outages and throttling -----------------------------------------------------------------------------------


def test_5xx_is_unavailable_with_retry_after_and_the_next_call_works(erp: HttpERP, emulator: ErpEmulator) -> None:
    erp.get_order("A1001")  # the token is fetched before the fault is queued
    emulator.fail_next(1, status=503, retry_after_s=12)
    with pytest.raises(ConnectorUnavailable) as caught:
        erp.get_order("A1001")
    assert type(caught.value) is ConnectorUnavailable
    assert caught.value.code == ErrorCode.CONNECTOR_UNAVAILABLE
    assert caught.value.retry_after_s == 12
    assert caught.value.fields["status"] == 503
    assert "try again later" in caught.value.detail
    assert erp.get_order("A1001").status == OrderStatus.SHIPPED


def test_500_without_retry_after_has_none(erp: HttpERP, emulator: ErpEmulator) -> None:
    emulator.fail_next(1, status=500)
    with pytest.raises(ConnectorUnavailable) as caught:
        erp.get_invoice("A1001")
    assert caught.value.retry_after_s is None


def test_429_is_rate_limited_with_retry_after_parsed(erp: HttpERP, emulator: ErpEmulator) -> None:
    emulator.throttle_next(1, retry_after_s=7)
    with pytest.raises(RateLimited) as caught:
        erp.list_orders("C-1001")
    assert caught.value.code == ErrorCode.RATE_LIMITED
    assert caught.value.retry_after_s == 7
    assert not isinstance(caught.value, ConnectorAuthError)
    assert [order.id for order in erp.list_orders("C-1001")][0] == "A1001"


def test_slow_answer_is_a_timeout(server: ErpEmulatorServer, emulator: ErpEmulator) -> None:
    with HttpERP(server.erp_settings(timeout_s=1.0)) as erp:
        erp.get_order("A1001")
        emulator.delay_s = 2.0
        with pytest.raises(ConnectorTimeout) as caught:
            erp.get_order("A1001")
        emulator.delay_s = 0
        assert caught.value.code == ErrorCode.CONNECTOR_TIMEOUT
        assert caught.value.fields["timeout_s"] == 1.0
        assert erp.get_order("A1002").status == OrderStatus.DELIVERED


def test_unreachable_erp_is_unavailable_and_unhealthy() -> None:
    with socket.socket() as probe:  # a port nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = HttpERPSettings(base_url=f"http://127.0.0.1:{port}/api/v2", client_secret=SecretStr("x"))
    with HttpERP(settings) as erp:
        with pytest.raises(ConnectorUnavailable) as caught:
            erp.get_order("A1001")
        assert not isinstance(caught.value, ConnectorTimeout)
        health = erp.health()
    assert not health.ok
    assert "cannot reach" in health.detail


def test_token_endpoint_outage_is_unavailable(erp: HttpERP, emulator: ErpEmulator) -> None:
    emulator.fail_next(1, status=503, retry_after_s=3, target="token")
    with pytest.raises(ConnectorUnavailable) as caught:
        erp.get_order("A1001")
    assert caught.value.retry_after_s == 3
    assert erp.get_order("A1001").id == "A1001"
    assert emulator.token_requests == 2


# --- credentials ------------------------------------------------------------------------------------------------


def test_token_is_cached_across_calls(erp: HttpERP, emulator: ErpEmulator) -> None:
    erp.get_order("A1001")
    erp.list_orders("C-1002")
    erp.get_invoice("A1002")
    assert emulator.token_requests == 1


def test_expired_token_is_refreshed_once_then_the_call_succeeds(erp: HttpERP, emulator: ErpEmulator) -> None:
    erp.get_order("A1001")
    emulator.expire_tokens()
    assert erp.get_order("A1002").id == "A1002"
    assert emulator.token_requests == 2
    assert emulator.calls["get_order"] == 3  # ok, refused with the expired token, retried with the new one
    # >= 1: a slow call left over from an earlier test of the module-scoped server may still be counted.
    assert emulator.auth_failures >= 1


def test_write_is_retried_after_refresh_with_the_same_idempotency_key(erp: HttpERP, emulator: ErpEmulator) -> None:
    erp.health()
    emulator.expire_tokens()
    request = NewReturn(order_id="A1002", customer_id="C-1002", reason="Wrong size.", skus=("NW-SCK-MERINO",))
    created = erp.create_return(request, idempotency_key="refresh-key")
    assert erp.create_return(request, idempotency_key="refresh-key") == created
    assert emulator.calls["create_return"] == 3
    assert [r.id for r in emulator.returns.values()].count(created.id) == 1


def test_burst_of_expired_calls_costs_one_token_request(erp: HttpERP, emulator: ErpEmulator) -> None:
    erp.get_order("A1001")
    emulator.expire_tokens()
    barrier = threading.Barrier(6)
    failures: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            erp.get_order("A1001")
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert emulator.token_requests == 2


def test_token_refused_again_after_refresh_is_an_auth_error(server: ErpEmulatorServer) -> None:
    emulator = ErpEmulator(token_ttl_s=0)  # every token is already expired when it arrives
    with emulator.serve() as short_lived, HttpERP(short_lived.erp_settings()) as erp:
        with pytest.raises(ConnectorAuthError) as caught:
            erp.get_order("A1001")
        assert emulator.token_requests == 2  # the first token and exactly one refresh
        assert caught.value.code == ErrorCode.CONNECTOR_AUTH
        assert "expired" in caught.value.detail


def test_wrong_client_secret_is_an_auth_error(server: ErpEmulatorServer, emulator: ErpEmulator) -> None:
    with HttpERP(server.erp_settings(client_secret=SecretStr("wrong"))) as erp:
        with pytest.raises(ConnectorAuthError) as caught:
            erp.get_order("A1001")
        health = erp.health()
    assert "wrong secret" in caught.value.detail
    assert caught.value.fields["erp_code"] == "invalid_client"
    assert emulator.calls["get_order"] == 0
    assert not health.ok and "credentials" in health.detail


def test_static_bearer_token(server: ErpEmulatorServer, emulator: ErpEmulator) -> None:
    mapping = _with_auth(BearerAuth(type="bearer"))
    with HttpERP(server.erp_settings(token=SecretStr("static-token")), mapping=mapping) as erp:
        assert erp.get_order("A1003").status == OrderStatus.PROCESSING
    with (
        HttpERP(server.erp_settings(token=SecretStr("stolen")), mapping=mapping) as erp,
        pytest.raises(ConnectorAuthError),
    ):
        erp.get_order("A1003")
    assert emulator.calls["get_order"] == 2  # a static token is not retried
    assert emulator.token_requests == 0


def test_api_key_and_basic_auth(server: ErpEmulatorServer, emulator: ErpEmulator) -> None:
    with HttpERP(
        server.erp_settings(api_key=SecretStr("key-123")), mapping=_with_auth(ApiKeyAuth(type="api_key"))
    ) as erp:
        assert erp.health().ok
    basic = _with_auth(BasicAuth(type="basic", username="svc-grounddesk"))
    with HttpERP(server.erp_settings(password=SecretStr("pw-456")), mapping=basic) as erp:
        assert erp.get_invoice("A1002").id == "INV-A1002"
    with (
        HttpERP(server.erp_settings(password=SecretStr("nope")), mapping=basic) as erp,
        pytest.raises(ConnectorAuthError),
    ):
        erp.get_invoice("A1002")


# --- business errors --------------------------------------------------------------------------------------------


def test_unknown_customer_is_record_not_found(erp: HttpERP) -> None:
    with pytest.raises(RecordNotFound) as caught:
        erp.list_orders("C-0000")
    assert (caught.value.kind, caught.value.key) == ("customer", "C-0000")


def test_erp_message_is_kept_when_a_return_is_refused(erp: HttpERP, emulator: ErpEmulator) -> None:
    cancelled = next(order for order in emulator.orders.values() if order.status == OrderStatus.CANCELLED)
    request = NewReturn(order_id=cancelled.id, customer_id=cancelled.customer_id, reason="Changed my mind.")
    with pytest.raises(ConnectorValidationError) as caught:
        erp.create_return(request, idempotency_key="cancelled")
    assert f"Order {cancelled.id} is cancelled" in caught.value.detail
    assert caught.value.fields["erp_code"] == "ORDER_NOT_RETURNABLE"
    assert caught.value.fields["status"] == 422
    foreign = NewReturn(order_id="A1001", customer_id="C-1002", reason="Not mine.")
    with pytest.raises(ConnectorValidationError, match="does not belong to customer C-1002"):
        erp.create_return(foreign, idempotency_key="foreign")
    unknown_item = NewReturn(order_id="A1002", customer_id="C-1002", reason="x", skus=("NW-NOPE",))
    with pytest.raises(ConnectorValidationError, match="Item NW-NOPE is not on order A1002"):
        erp.create_return(unknown_item, idempotency_key="unknown-item")


def test_reused_key_with_another_request_is_refused(erp: HttpERP) -> None:
    erp.create_return(NewReturn(order_id="A1002", customer_id="C-1002", reason="a"), idempotency_key="k")
    with pytest.raises(ConnectorValidationError, match="already used with a different request"):
        erp.create_return(NewReturn(order_id="A1002", customer_id="C-1002", reason="b"), idempotency_key="k")
