"""The one SQLAlchemy ``MetaData`` (and declarative base) that every grounddesk table belongs to.

Tables of every component (documents now; tickets, audit and users later) are declared against
:data:`metadata` so that one Alembic migration chain covers them all. The naming convention gives every
index and constraint a deterministic name, which hand-written migrations rely on to alter or drop them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, MetaData
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeEngine

__all__ = ["NAMING_CONVENTION", "Base", "JSONType", "metadata"]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Every grounddesk table is declared against this metadata.
metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: JSON documents: ``JSONB`` on PostgreSQL, JSON text elsewhere.
JSONType: TypeEngine[Any] = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base for ORM-mapped tables; shares :data:`metadata` with the Core tables."""

    metadata = metadata
