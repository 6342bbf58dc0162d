"""PostgreSQL for fault drills: a throw-away database, and a restart of the local server.

:func:`restart_unavailable` says why this machine cannot restart the server (so a test can skip with the reason);
:func:`restart_cluster` restarts it with Debian's ``pg_ctlcluster`` (every connection drops, new ones are refused
until it is back). :class:`ThrowawayDatabase` creates a database and drops it, even after a restart.

Example:
    >>> reason = restart_unavailable(admin_url)
    >>> database = ThrowawayDatabase.create(admin_url)
    >>> restart_cluster(admin_url)
    >>> database.drop()
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from grounddesk.db import normalise_url

__all__ = ["ThrowawayDatabase", "local_cluster", "postmaster_started", "restart_cluster", "restart_unavailable"]

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def restart_unavailable(admin_url: str | None) -> str | None:
    """Why the PostgreSQL server at ``admin_url`` cannot be restarted from here, or None when it can."""
    if not admin_url:
        return "no PostgreSQL admin URL is given (GROUNDDESK_TEST_POSTGRES_URL)"
    host = normalise_url(admin_url).host or ""
    if host not in _LOCAL_HOSTS:
        return f"the PostgreSQL server at {host!r} is not on this machine"
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        return "pg_ctlcluster is not installed (Debian's postgresql-common)"
    if os.geteuid() != 0:
        return "restarting PostgreSQL needs root (pg_ctlcluster)"
    if local_cluster(admin_url) is None:
        return "no local PostgreSQL cluster is online on the URL's port"
    return None


def local_cluster(admin_url: str) -> tuple[str, str] | None:
    """The ``(version, name)`` of the online local cluster on the URL's port (from ``pg_lsclusters``)."""
    port = str(normalise_url(admin_url).port or 5432)
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False)
    for line in listed.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == port and fields[3] == "online":
            return fields[0], fields[1]
    return None


def restart_cluster(admin_url: str, *, down_s: float = 0.0, timeout_s: float = 120.0) -> None:
    """Restart the local server; returns when it accepts connections again.

    Args:
        admin_url: A URL of the server.
        down_s: 0: ``pg_ctlcluster <version> <name> restart``; more: ``stop``, this many seconds down, ``start``.
        timeout_s: Longest wait for each ``pg_ctlcluster`` call.

    Raises:
        RuntimeError: No local cluster is online on the URL's port.
        subprocess.CalledProcessError: ``pg_ctlcluster`` failed.
    """
    cluster = local_cluster(admin_url)
    if cluster is None:
        raise RuntimeError("no local PostgreSQL cluster is online on the URL's port")
    if down_s <= 0:
        subprocess.run(["pg_ctlcluster", *cluster, "restart"], check=True, timeout=timeout_s)
        return
    subprocess.run(["pg_ctlcluster", *cluster, "stop"], check=True, timeout=timeout_s)
    try:
        time.sleep(down_s)  # the outage itself
    finally:
        subprocess.run(["pg_ctlcluster", *cluster, "start"], check=True, timeout=timeout_s)


def postmaster_started(url: URL | str) -> str:
    """When the PostgreSQL server process started (it changes with every restart)."""
    engine = create_engine(normalise_url(url) if isinstance(url, str) else url, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT pg_postmaster_start_time()")).scalar_one())
    finally:
        engine.dispose()


@dataclass
class ThrowawayDatabase:
    """A database made for one drill (``gd_faults_<pid>_<random>``); :meth:`drop` removes it."""

    admin: URL
    url: URL

    @classmethod
    def create(cls, admin_url: str) -> ThrowawayDatabase:
        """Create an empty database on the server of ``admin_url``."""
        admin = normalise_url(admin_url)
        name = f"gd_faults_{os.getpid()}_{secrets.token_hex(4)}"
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        return cls(admin=admin, url=admin.set(database=name))

    @property
    def url_text(self) -> str:
        """The database's URL as a string, password included."""
        return self.url.render_as_string(hide_password=False)

    def drop(self) -> None:
        """Drop the database, closing whatever is still connected to it."""
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.url.database}" WITH (FORCE)')
        finally:
            engine.dispose()
