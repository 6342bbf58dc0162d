"""`grounddesk erase`, `grounddesk maintenance purge` and `grounddesk audit verify` on a home with a CLI chat.

The chats are run by the agent the CLI builds (``wiring.build_agent`` with an audit trail), over the demo CRM/ERP;
all but the last test use the model-free hashing embedder to do so. The last one runs ``grounddesk chat`` itself
(bundled model) and erases what it left.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from sqlalchemy import text
from typer.testing import CliRunner

from grounddesk.agent.types import ConversationContext
from grounddesk.audit import AuditTrail
from grounddesk.cli import app
from grounddesk.config import Settings
from grounddesk.connectors.demo import DemoBackend
from grounddesk.db import create_engine_for, upgrade
from grounddesk.privacy import CheckpointThreads
from grounddesk.testing.embedders import HashingEmbedder
from grounddesk.testing.residue import find_in_database, find_in_sqlite_file
from grounddesk.wiring import build_agent, build_connectors

ALEX = ConversationContext(customer_id="C-1001", verified=True, channel="cli")
PHRASE = "saffron-kayak-3310"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    DemoBackend.create(folder / "demo_backend.sqlite")
    return folder


def _chat(home: Path, conversation_id: str, context: ConversationContext, *messages: str) -> None:
    """What `grounddesk chat --conversation ID --customer-id ...` does, with the hashing embedder."""
    settings = Settings(home=home)
    engine = create_engine_for(settings.database_url())
    upgrade(engine)
    crm, erp, close_connectors = build_connectors(settings, engine=engine)
    agent, close = build_agent(settings, embedder=HashingEmbedder(256), crm=crm, erp=erp, audit=AuditTrail(engine))
    try:
        for message in messages:
            agent.turn(conversation_id, message, context=context)
    finally:
        close()
        close_connectors()
        engine.dispose()


def _run(home: Path, *args: str, env: dict[str, str] | None = None, code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["--home", str(home), *args], env=env)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


@pytest.fixture
def engine(home: Path) -> Iterator[Any]:
    engine = create_engine_for(Settings(home=home).database_url())
    yield engine
    engine.dispose()


def _threads(home: Path) -> set[str]:
    conn = sqlite3.connect(str(home / "checkpoints.db"), check_same_thread=False)
    try:
        return CheckpointThreads(SqliteSaver(conn)).thread_ids()
    finally:
        conn.close()


def test_erase_removes_a_cli_chat_that_exists_only_as_checkpoints_and_audit_events(home: Path, engine: Any) -> None:
    _chat(home, "cli-alex", ALEX, "Where is my order A1001?", f"My parcel A1001 arrived damaged, the {PHRASE} is bent")
    _chat(home, "cli-priya", ConversationContext(customer_id="C-1002", verified=True), "Where is my order A1002?")
    needles = ["C-1001", PHRASE]
    assert find_in_database(engine, needles) and find_in_sqlite_file(home / "checkpoints.db", needles)

    report = _run(home, "erase", "--customer", "C-1001", "--json")

    assert report["conversations_found"] == 1 and report["counts"]["checkpoint_threads"] == 1
    assert report["counts"]["audit_events_erased"] >= 3  # two answers and the tool call
    assert report["counts"]["conversations"] == 0  # a CLI chat has no conversation row
    assert find_in_database(engine, needles) == [] and find_in_sqlite_file(home / "checkpoints.db", needles) == []
    assert _threads(home) == {"cli-priya"}
    verified = _run(home, "audit", "verify", "--json")
    assert verified["ok"] is True and verified["erased"] == report["counts"]["audit_events_erased"]
    assert "erased customer C-1001" in _run(home, "erase", "--customer", "C-1001")


def test_audit_verify_reports_a_tampered_event_by_seq_and_exits_1(home: Path, engine: Any) -> None:
    _chat(home, "cli-alex", ALEX, "Where is my order A1001?")
    assert _run(home, "audit", "verify", "--json")["ok"] is True
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 1"))

    report = _run(home, "audit", "verify", "--json", code=1)
    human = _run(home, "audit", "verify", code=1)

    assert report["ok"] is False and [(p["seq"], p["problem"]) for p in report["problems"]] == [(1, "hash_mismatch")]
    assert "TAMPERED" in human and "#1 hash_mismatch" in human


def test_maintenance_purge_follows_the_retention_setting(home: Path) -> None:
    _chat(home, "cli-old", ALEX, "Where is my order A1001?")

    unset = _run(home, "maintenance", "purge", "--json")
    kept = _run(home, "maintenance", "purge", "--json", env={"GROUNDDESK_PRIVACY_RETENTION_DAYS": "30"})

    assert unset["retention_days"] is None and unset["audit_seqs"] == []
    assert kept["retention_days"] == 30 and kept["counts"]["checkpoint_threads"] == 0  # the chat is from today
    assert _threads(home) == {"cli-old"}


def test_erase_needs_exactly_one_of_customer_and_email(home: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(home), "erase"])
    assert result.exit_code == 2 and "exactly one" in result.output
    bad = _run(home, "erase", "--email", "nobody", "--json", code=2)
    assert bad["code"] == "invalid_input"


@pytest.mark.model
def test_grounddesk_chat_is_audited_and_erase_by_email_removes_it(home: Path, engine: Any) -> None:
    question = "Where is my order A1001?"
    answer = _run(home, "chat", "--once", question, "--customer-id", "C-1001", "--conversation", "cli-1", "--json")
    assert answer["decision"] == "answer"
    with engine.connect() as conn:
        kinds = [row[0] for row in conn.execute(text("SELECT kind FROM audit_events ORDER BY seq"))]
    assert kinds == ["tool_call", "answer"]

    report = _run(home, "erase", "--email", "alex.morgan@example.com", "--json")

    assert report["customer_ids"] == ["C-1001"] and report["counts"]["checkpoint_threads"] == 1
    assert find_in_database(engine, ["C-1001", "alex.morgan@example.com"]) == []
    assert _threads(home) == set()
