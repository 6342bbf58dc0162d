from __future__ import annotations

from sqlalchemy import Engine, inspect

from grounddesk.db import current_revision, downgrade, upgrade

ESCALATION_TABLES = {"conversations", "conversation_events", "feedback", "tickets", "ticket_events"}


def test_the_escalation_migration_goes_down_and_up(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= ESCALATION_TABLES
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("tickets")}
    assert "uq_tickets_one_open_per_conversation" in indexes

    downgrade(engine, "0002_connector_ledger")

    remaining = set(inspect(engine).get_table_names())
    assert current_revision(engine) == "0002_connector_ledger"
    assert not ESCALATION_TABLES & remaining
    assert {"connector_ledger", "documents"} <= remaining

    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= ESCALATION_TABLES
