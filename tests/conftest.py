"""Fixtures shared by the whole test suite.

SQL back-ends: ``sql_url`` gives every test a fresh, empty database on SQLite (a file under ``tmp_path``) and
on PostgreSQL. The PostgreSQL cases need ``GROUNDDESK_TEST_POSTGRES_URL``, an admin URL such as
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; the run creates its own database there, gives each
test a fresh schema in it, and drops the database at the end. Without the variable those cases are skipped.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from grounddesk.db import normalise_url

POSTGRES_URL_ENV = "GROUNDDESK_TEST_POSTGRES_URL"

# Nothing in a test may reach past this machine, and no model may be fetched.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise ConnectionRefusedError(f"tests may only connect to loopback addresses, not {host!r}")
    _real_connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[tuple[URL, Engine]]:
    """A PostgreSQL database created for this test run: its URL and an AUTOCOMMIT engine on it."""
    admin_url = os.environ.get(POSTGRES_URL_ENV)
    if not admin_url:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set (an admin URL of a PostgreSQL server)")
    admin = normalise_url(admin_url)
    name = f"gd_test_{os.getpid()}_{secrets.token_hex(4)}"
    # pre-ping: the fault tests restart the PostgreSQL server; pooled connections must not die with it.
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = admin.set(database=name)
        engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        try:
            yield url, engine
        finally:
            engine.dispose()
            with admin_engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin_engine.dispose()


def _fresh_postgres_url(request: pytest.FixtureRequest) -> str:
    url, engine = request.getfixturevalue("postgres_database")
    # A schema per test is far cheaper than a database per test; search_path makes it the default one.
    schema = f"t_{secrets.token_hex(6)}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    fresh: URL = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return fresh.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty SQL database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'grounddesk.db'}"
    return _fresh_postgres_url(request)
