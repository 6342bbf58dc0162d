"""The ERP mapping file: validation messages, dotted paths, value maps, and HttpERP's HTTP handling.

A server is not the point here, so HttpERP runs over ``httpx.MockTransport`` with a tiny ERP of another shape.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr

from grounddesk.connectors._erp_records import MISSING, read_path
from grounddesk.connectors._erp_transport import parse_retry_after
from grounddesk.connectors.erp_http import HttpERP, HttpERPSettings
from grounddesk.connectors.erp_mapping import ErpMapping, default_mapping_path, load_mapping, parse_mapping
from grounddesk.connectors.types import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorValidationError,
    ERPConnector,
    NewReturn,
    OrderStatus,
    RecordNotFound,
)
from grounddesk.errors import ConfigurationError, ErrorCode

Handler = Callable[[httpx.Request], httpx.Response]

# A small ERP of its own shape: one order, statuses as numbers, naive local timestamps.
ORDER = {
    "no": "X-1",
    "cust": "C-9",
    "st": 20,
    "created": "2026-11-01T08:30:00",
    "sum": "15.50",
    "items": [{"code": "SKU-1", "text": "Widget", "n": 1, "price": "15.50"}],
}
MAPPING: dict[str, Any] = {
    "base_url": "https://erp.test/api",
    "auth": {"type": "none"},
    "idempotency_header": "X-Request-Key",
    "assume_timezone": "Europe/Berlin",
    "operations": {
        "get_order": {"path": "/orders/{order_id}", "result": "payload"},
        "list_orders": {"path": "/orders", "query": {"customer": "{customer_id}", "max": "{limit}"}, "result": "rows"},
        "get_invoice": {"path": "/billing", "query": {"order": "{order_id}"}, "result": "rows"},
        "create_return": {
            "method": "POST",
            "path": "/rmas",
            "result": "rma",
            "body": {
                "head.order": "order_id",
                "head.customer": "customer_id",
                "head.kind": {"field": "kind", "values": {"return": "R", "refund": "C"}},
                "head.why": "reason",
                "lines": {"field": "skus", "each": "sku"},
                "source": {"const": "bot"},
            },
        },
    },
    "records": {
        "order": {
            "id": "no",
            "customer_id": "cust",
            "status": {"path": "st", "values": {10: "processing", 20: "shipped"}},
            "placed_at": "created",
            "total": "sum",
            "lines": "items",
        },
        "order_line": {"sku": "code", "description": "text", "quantity": "n", "unit_price": "price"},
        "shipment": {"id": "id", "order_id": {"context": "order_id"}, "carrier": "c", "tracking_number": "t"},
        "tracking_event": {"at": "at", "location": "where", "description": "what"},
        "invoice": {
            "id": "nr",
            "order_id": "order",
            "customer_id": "cust",
            "issued_at": "date",
            "due_at": "due",
            "amount": "total",
            "status": {"path": "paid", "values": {True: "paid", False: "open"}},
        },
        "return_request": {
            "id": "id",
            "order_id": {"context": "order_id"},
            "customer_id": {"context": "customer_id"},
            "kind": {"path": "kind", "values": {"R": "return", "C": "refund"}},
            "reason": "why",
            "skus": {"path": "lines", "each": "sku"},
            "status": {"path": "state", "values": {"open": "requested"}, "other": "approved"},
            "created_at": "at",
        },
    },
}


def mapping_text(**changes: Any) -> str:
    """The test mapping as YAML with dotted-key changes; a value of None deletes the key."""
    document = copy.deepcopy(MAPPING)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = document
        for part in parents:
            node = node[part]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    return yaml.safe_dump(document)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        parse_mapping(text, source="test.yaml")
    assert caught.value.code == ErrorCode.CONFIGURATION
    assert "test.yaml" in caught.value.detail
    problems: list[str] = caught.value.fields["errors"]
    return problems


def make_erp(handler: Handler, mapping: ErpMapping | None = None, **settings: Any) -> HttpERP:
    return HttpERP(
        HttpERPSettings(**settings),
        mapping=mapping or parse_mapping(mapping_text()),
        transport=httpx.MockTransport(handler),
    )


def answering(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return handler


# --- the file --------------------------------------------------------------------------------------------------


def test_bundled_mapping_loads_and_maps_the_emulator() -> None:
    mapping = load_mapping()
    assert default_mapping_path().name == "erp_mapping.yaml"
    assert mapping.auth.type == "oauth2_client_credentials"
    assert mapping.records.order["status"].values == {
        "PND": "pending",
        "PRC": "processing",
        "SHP": "shipped",
        "DLV": "delivered",
        "CNC": "cancelled",
        "RTN": "returned",
    }
    assert mapping.operations.track_shipment is not None


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_mapping(tmp_path / "nope.yaml")
    assert caught.value.code == ErrorCode.FILE_NOT_FOUND


def test_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "erp.yaml"
    path.write_text("operations: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="is not valid YAML"):
        load_mapping(path)
    path.write_text("- a list", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="must be a YAML mapping"):
        load_mapping(path)


def test_every_problem_is_listed_with_its_location() -> None:
    text = mapping_text(
        records__order__status=None,
        records__order__colour="paint",
        operations__get_order__path="/orders/{order}",
        operations__get_invoice__path="billing",
        auth={"type": "oauth2_client_credentials"},
    )
    problems = problems_of(text)
    # schema errors come first and alone: the cross-checks need a well-formed file
    assert "operations.get_invoice.path: Value error, must start with / (it is appended to base_url)" in problems
    assert "auth.oauth2_client_credentials.token_url: Field required" in problems
    fixed = mapping_text(
        records__order__status=None, records__order__colour="paint", operations__get_order__path="/orders/{order}"
    )
    problems = problems_of(fixed)
    assert "records.order: required field 'status' is not mapped" in problems
    assert any(p.startswith("records.order.colour: order has no field 'colour'") for p in problems)
    assert "operations.get_order.path: unknown placeholder {order} (this one has: order_id)" in problems


def test_value_map_pointing_at_an_unknown_status() -> None:
    text = mapping_text(records__order__status={"path": "st", "values": {"20": "shiped"}})
    (problem,) = problems_of(text)
    assert problem.startswith("records.order.status.values.20: 'shiped' is not a valid status")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"auth": {"type": "kerberos"}}, "auth: Input tag 'kerberos' found using 'type' does not match"),
        ({"records__order__id": {"path": "no", "const": "x"}}, "records.order.id: set exactly one of path, context"),
        ({"records__order__lines": {"context": "order_id"}}, "records.order.lines: a list of order_line records"),
        ({"records__order__total": {"path": "sum", "each": "x"}}, "records.order.total.each: only applies to list"),
        ({"operations__get_order__body": {"a": "reason"}}, "operations.get_order.body: only create_return sends"),
        ({"operations__create_return__body__head": "reason"}, "operations.create_return.body.head.order: head "),
        ({"operations__list_orders__query__max": "{max}"}, "operations.list_orders.query.max: unknown placeholder"),
        ({"base_url": "erp.test"}, "base_url: Value error, must start with http:// or https://"),
        ({"assume_timezone": "Mars/Olympus"}, "assume_timezone: Value error, unknown time zone"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_rule_violations_have_clear_messages(change: dict[str, Any], expected: str) -> None:
    problems = problems_of(mapping_text(**change))
    assert any(problem.startswith(expected) for problem in problems), problems


# --- dotted paths ----------------------------------------------------------------------------------------------


def test_read_path() -> None:
    document = {"data": {"order": {"lines": [{"qty": 2}, {"qty": 3}], "note": None}}}
    assert read_path(document, "data.order.lines.1.qty") == 3
    assert read_path(document, "data.order.lines.-1.qty") == 3
    assert read_path(document, "data.order.note") is None
    assert read_path(document, "") is document
    assert read_path(document, "data.order.lines.2.qty") is MISSING
    assert read_path(document, "data.order.missing") is MISSING
    assert read_path(document, "data.order.note.deeper") is MISSING
    assert read_path(document, "data.order.lines.first") is MISSING


# --- records from JSON -----------------------------------------------------------------------------------------


def test_order_is_mapped_from_another_shape() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"payload": ORDER})

    with make_erp(handler) as erp:
        assert isinstance(erp, ERPConnector)
        order = erp.get_order("X/1")
    assert seen[0].url.raw_path == b"/api/orders/X%2F1"
    assert order.status == OrderStatus.SHIPPED  # the number 20 matched the YAML key 20
    assert order.total == Decimal("15.50")
    assert order.lines[0].sku == "SKU-1"
    berlin = timezone(timedelta(hours=1))
    assert order.placed_at == datetime(2026, 11, 1, 8, 30, tzinfo=berlin)  # naive time read in assume_timezone
    assert order.placed_at.tzinfo is not None


def test_unknown_status_is_a_connector_error_naming_the_path() -> None:
    with make_erp(answering({"payload": {**ORDER, "st": 99}})) as erp, pytest.raises(ConnectorError) as caught:
        erp.get_order("X-1")
    error = caught.value
    assert type(error) is ConnectorError
    assert error.code == ErrorCode.CONNECTOR
    assert (error.fields["path"], error.fields["record"], error.fields["field"]) == ("payload.st", "order", "status")
    assert "unknown value 99 at payload.st" in error.detail


def test_missing_and_null_required_fields_name_their_path() -> None:
    without_id = {key: value for key, value in ORDER.items() if key != "no"}
    with make_erp(answering({"payload": without_id})) as erp, pytest.raises(ConnectorError) as caught:
        erp.get_order("X-1")
    assert caught.value.fields["path"] == "payload.no"
    assert "has no value at payload.no (needed for order.id)" in caught.value.detail
    null_price = {**ORDER, "items": [{"code": "SKU-1", "text": "Widget", "n": 1, "price": None}]}
    with make_erp(answering({"payload": null_price})) as erp, pytest.raises(ConnectorError) as caught:
        erp.get_order("X-1")
    assert caught.value.fields["path"] == "payload.items.0.price"
    assert "holds null" in caught.value.detail


def test_wrong_type_is_a_connector_error_not_a_validation_crash() -> None:
    bad_quantity = {**ORDER, "items": [{"code": "SKU-1", "text": "Widget", "n": "lots", "price": "1"}]}
    with make_erp(answering({"payload": bad_quantity})) as erp, pytest.raises(ConnectorError) as caught:
        erp.get_order("X-1")
    assert caught.value.fields["path"] == "payload.items.0.n"
    assert caught.value.fields["field"] == "quantity"
    with make_erp(answering({"payload": ["not", "an", "object"]})) as erp, pytest.raises(ConnectorError) as caught:
        erp.get_order("X-1")
    assert "expected a JSON object for order" in caught.value.detail
    with make_erp(answering({"elsewhere": ORDER})) as erp, pytest.raises(ConnectorError) as caught:
        erp.get_order("X-1")
    assert caught.value.fields["path"] == "payload"


def test_list_orders_sends_query_and_sorts_newest_first() -> None:
    older = {**ORDER, "no": "X-0", "created": "2026-10-01T08:00:00"}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"rows": [older, ORDER]})

    with make_erp(handler) as erp:
        assert [order.id for order in erp.list_orders("C-9", limit=5)] == ["X-1", "X-0"]
        assert [order.id for order in erp.list_orders("C-9", limit=1)] == ["X-1"]
    assert dict(seen[0].url.params) == {"customer": "C-9", "max": "5"}


def test_invoice_from_a_search_list_and_boolean_codes() -> None:
    invoice = {"nr": "B-1", "order": "X-1", "cust": "C-9", "date": "2026-11-01", "due": "2026-12-01", "total": 15.5}
    with make_erp(answering({"rows": [{**invoice, "paid": True}]})) as erp:
        assert erp.get_invoice("X-1").status == "paid"
        assert erp.get_invoice("X-1").amount == Decimal("15.5")
    with make_erp(answering({"rows": []})) as erp, pytest.raises(RecordNotFound) as caught:
        erp.get_invoice("X-2")
    assert (caught.value.kind, caught.value.key) == ("invoice", "X-2")


def test_track_shipment_falls_back_to_the_order() -> None:
    shipped = {
        **ORDER,
        "ships": [
            {
                "id": "S1",
                "c": "DHL",
                "t": "123",
                "ev": [
                    {"at": "2026-11-02T10:00:00Z", "where": "B", "what": "later"},
                    {"at": "2026-11-01T10:00:00Z", "where": "A", "what": "first"},
                ],
            }
        ],
    }
    mapping = parse_mapping(mapping_text(records__order__shipments="ships", records__shipment__events="ev"))
    with make_erp(answering({"payload": shipped}), mapping=mapping) as erp:
        (shipment,) = erp.track_shipment("X-1")
    assert shipment.order_id == "X-1"  # from the context of the enclosing order
    assert [event.description for event in shipment.events] == ["first", "later"]


def test_create_return_body_header_and_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = {
            "id": "RMA-7",
            "kind": "C",
            "why": "Broken",
            "lines": [{"sku": "SKU-1"}],
            "state": "done",
            "at": "2026-11-03T09:00:00Z",
        }
        return httpx.Response(201, json={"rma": answer})

    request = NewReturn(order_id="X-1", customer_id="C-9", kind="refund", reason="Broken", skus=("SKU-1",))
    with make_erp(handler) as erp:
        created = erp.create_return(request, idempotency_key="key-1")
    assert seen[0].headers["X-Request-Key"] == "key-1"
    assert json.loads(seen[0].content) == {
        "head": {"order": "X-1", "customer": "C-9", "kind": "C", "why": "Broken"},
        "lines": [{"sku": "SKU-1"}],
        "source": "bot",
    }
    assert (created.id, created.kind, created.skus, created.customer_id) == ("RMA-7", "refund", ("SKU-1",), "C-9")
    assert created.status == "approved"  # "done" is not in the map: `other` applies


# --- HTTP statuses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 409, 422])
def test_validation_statuses_keep_the_erp_message(status: int) -> None:
    body = {"error": {"code": "E42", "message": "Order X-1 is locked"}}
    with make_erp(answering(body, status)) as erp, pytest.raises(ConnectorValidationError) as caught:
        erp.create_return(NewReturn(order_id="X-1", customer_id="C-9", reason="r"), idempotency_key="k")
    assert caught.value.detail == "ERP rejected create_return: Order X-1 is locked"
    assert caught.value.fields["erp_message"] == "Order X-1 is locked"
    assert caught.value.fields["erp_code"] == "E42"


def test_403_is_auth_and_other_4xx_a_plain_connector_error() -> None:
    with make_erp(answering({"message": "no scope"}, 403)) as erp, pytest.raises(ConnectorAuthError):
        erp.get_order("X-1")
    with make_erp(lambda request: httpx.Response(418, text="teapot")) as erp, pytest.raises(ConnectorError) as caught:
        erp.get_order("X-1")
    assert type(caught.value) is ConnectorError
    assert "HTTP 418: teapot" in caught.value.detail


def test_body_that_is_not_json() -> None:
    with make_erp(lambda request: httpx.Response(200, text="<html>")) as erp, pytest.raises(ConnectorError) as caught:
        erp.get_order("X-1")
    assert "not JSON" in caught.value.detail


def test_retry_after_as_seconds_or_http_date() -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30", now=now) == 30
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_health_without_endpoint_counts_any_answer_but_outages() -> None:
    with make_erp(answering({"error": "not here"}, 404)) as erp:
        assert erp.health().ok
    with make_erp(answering({"error": "down"}, 503)) as erp:
        health = erp.health()
    assert not health.ok and "HTTP 503" in health.detail


# --- credentials -----------------------------------------------------------------------------------------------


def test_static_credentials_are_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"payload": ORDER})

    api_key = parse_mapping(mapping_text(auth={"type": "api_key", "header": "X-Key", "prefix": "ApiKey "}))
    with make_erp(handler, mapping=api_key, api_key=SecretStr("k1")) as erp:
        erp.get_order("X-1")
    basic = parse_mapping(mapping_text(auth={"type": "basic"}))
    with make_erp(handler, mapping=basic, username="u", password=SecretStr("p")) as erp:
        erp.get_order("X-1")
    assert seen[0].headers["X-Key"] == "ApiKey k1"
    assert seen[1].headers["Authorization"] == "Basic dTpw"


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"type": "bearer"}, "needs the secret token"),
        ({"type": "api_key"}, "needs the secret api_key"),
        ({"type": "basic", "username": "u"}, "needs the secret password"),
        ({"type": "basic"}, "needs a username"),
        ({"type": "oauth2_client_credentials", "token_url": "/t"}, "needs a client_id"),
    ],
)
def test_missing_secret_is_a_configuration_error(auth: dict[str, Any], message: str) -> None:
    mapping = parse_mapping(mapping_text(auth=auth))
    with pytest.raises(ConfigurationError, match=message):
        make_erp(answering({}), mapping=mapping)


def test_no_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no base URL"):
        make_erp(answering({}), mapping=parse_mapping(mapping_text(base_url=None)))


def test_oauth_token_is_renewed_before_it_expires() -> None:
    now = [0.0]
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            form = dict(httpx.QueryParams(request.content.decode()))
            assert (form["grant_type"], form["client_id"], form["client_secret"]) == ("client_credentials", "me", "s")
            assert form["audience"] == "erp"
            tokens.append(f"t{len(tokens) + 1}")
            return httpx.Response(200, json={"access_token": tokens[-1], "expires_in": 100})
        assert request.headers["Authorization"] == f"Bearer {tokens[-1]}"
        return httpx.Response(200, json={"payload": ORDER})

    auth = {
        "type": "oauth2_client_credentials",
        "token_url": "/oauth/token",
        "client_id": "me",
        "extra_params": {"audience": "erp"},
        "refresh_leeway_s": 10,
    }
    erp = HttpERP(
        HttpERPSettings(client_secret=SecretStr("s")),
        mapping=parse_mapping(mapping_text(auth=auth)),
        transport=httpx.MockTransport(handler),
        clock=lambda: now[0],
    )
    with erp:
        erp.get_order("X-1")
        now[0] = 89.0
        erp.get_order("X-1")
        assert tokens == ["t1"]
        now[0] = 91.0  # within the leeway of the expiry: renewed before the call, no 401 needed
        erp.get_order("X-1")
    assert tokens == ["t1", "t2"]


def test_token_answer_without_access_token() -> None:
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": "https://idp.test/token",
        "client_id": "me",
        "client_auth": "basic",
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"token_type": "Bearer"})

    mapping = parse_mapping(mapping_text(auth=auth))
    with make_erp(handler, mapping=mapping, client_secret=SecretStr("s")) as erp, pytest.raises(ConnectorError) as e:
        erp.get_order("X-1")
    assert e.value.fields["path"] == "access_token"
    assert str(seen[0].url) == "https://idp.test/token"
    assert seen[0].headers["Authorization"] == "Basic bWU6cw=="
