"""The demo home from `grounddesk demo --no-serve`, `connectors check`, and `chat --once --customer-id`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grounddesk.cli import app

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-demo")
    result = CliRunner().invoke(app, ["--home", str(folder), "demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert (folder / "demo_backend.sqlite").exists()
    return folder


def _json(home: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_connectors_check_reports_the_demo_back_ends(home: Path) -> None:
    report = _json(home, "connectors", "check", "--json")
    assert report["ok"] is True
    kinds = {(c["kind"], c["name"], c["circuit"]) for c in report["connectors"]}  # type: ignore[attr-defined,index]
    assert kinds == {("crm", "demo-crm", "closed"), ("erp", "demo-erp", "closed")}


def test_chat_once_answers_a_verified_customer_from_the_order_system(home: Path) -> None:
    data = _json(home, "chat", "--once", "Where is my order A1001?", "--customer-id", "C-1001", "--json")
    assert data["decision"] == "answer"
    assert str(data["answer"]).startswith("From the order system: order A1001")
    assert "1Z999AA10123456784" in str(data["answer"])
    assert data["tool"] == {"name": "order_status", "system": "order system", "records": ["A1001"]}


def test_chat_once_asks_an_unverified_customer_to_verify_first(home: Path) -> None:
    data = _json(home, "chat", "--once", "Where is my order A1001?", "--json")
    assert (data["decision"], data["clarify_reason"]) == ("clarify", "verify_identity")
    assert "1Z999" not in str(data["answer"]) and "email" in str(data["answer"])


def test_demo_setup_is_idempotent(home: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(home), "demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "already there" in result.output
