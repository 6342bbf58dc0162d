from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

import grounddesk.api.auth_tables  # registers the staff users, sessions and API keys on the shared metadata
import grounddesk.audit.tables  # registers the audit trail on the shared metadata
import grounddesk.connectors.ledger  # registers the connector ledger on the shared metadata
import grounddesk.escalation.tables
import grounddesk.knowledge.tables  # noqa: F401  (registers the registry's tables on the shared metadata)
from grounddesk.db import create_engine_for, current_revision, downgrade, head_revision, metadata, upgrade

REGISTRY_TABLES = {"documents", "document_versions", "document_history", "knowledge_state"}
CONNECTOR_TABLES = {"connector_ledger"}
AUTH_TABLES = {"staff_users", "staff_sessions", "api_keys"}
AUDIT_TABLES = {"audit_events", "audit_head"}


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sql_url)
    yield engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_from_empty_to_head(engine: Engine) -> None:
    assert current_revision(engine) is None
    assert _tables(engine) == set()

    upgrade(engine)

    assert current_revision(engine) == head_revision()
    assert _tables(engine) >= REGISTRY_TABLES | CONNECTOR_TABLES | AUTH_TABLES | AUDIT_TABLES | {"alembic_version"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, generation FROM knowledge_state")).all() == [(1, 1)]
        assert conn.execute(text("SELECT id, seq, hash FROM audit_head")).all() == [(1, 0, "0" * 64)]


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE knowledge_state SET generation = 7"))

    upgrade(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT generation FROM knowledge_state")).scalar_one() == 7


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    upgrade(engine)

    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert _tables(engine) <= {"alembic_version"}

    upgrade(engine)
    assert _tables(engine) >= REGISTRY_TABLES


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_constraints_follow_the_naming_convention(engine: Engine) -> None:
    upgrade(engine)
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("document_versions")["name"] in ("pk_document_versions", None)
    indexes = {ix["name"] for ix in inspector.get_indexes("document_versions")}
    assert {"ix_document_versions_status", "uq_document_versions_one_approved"} <= indexes
    foreign_keys = {fk["name"] for fk in inspector.get_foreign_keys("document_history")}
    assert foreign_keys == {"fk_document_history_doc_id_documents"}
