"""Alembic environment: runs inside the connection and transaction given by :mod:`grounddesk.db.migrate`."""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import Connection

from grounddesk.db.base import metadata

# Every module that declares tables, so that autogenerate comparisons see the whole schema.
# Later components (tickets, audit, users) add theirs here.
_TABLE_MODULES = (
    "grounddesk.knowledge.tables",
    "grounddesk.connectors.ledger",
    "grounddesk.escalation.tables",
    "grounddesk.api.auth_tables",
    "grounddesk.audit.tables",
)


def _run() -> None:
    for module in _TABLE_MODULES:
        importlib.import_module(module)
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("Run grounddesk migrations with grounddesk.db.upgrade(engine), not the alembic command")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
