"""Alembic migration scripts of the grounddesk SQL store (see :mod:`grounddesk.db.migrate`)."""
