from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from grounddesk.db import create_engine_for, normalise_url, read_only
from grounddesk.errors import ConfigurationError


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgres://u@h:5432/db", "postgresql+psycopg"),
        ("postgresql://u@h:5432/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h:5432/db", "postgresql+psycopg"),
        ("sqlite:////tmp/x.db", "sqlite"),
        ("sqlite+pysqlite:////tmp/x.db", "sqlite+pysqlite"),
    ],
)
def test_urls_are_pinned_to_supported_drivers(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "not a url"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        normalise_url(url)
    assert info.value.code == "configuration_error"


def test_password_is_not_echoed_in_errors() -> None:
    with pytest.raises(ConfigurationError) as info:
        normalise_url("mysql://user:s3cret@h/db")
    assert "s3cret" not in str(info.value.to_dict())


def test_sqlite_engine_creates_the_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "grounddesk.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        assert path.parent.is_dir()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_writers_wait_for_each_other_instead_of_failing(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            conn.execute(text("INSERT INTO counter VALUES (0)"))
        errors: list[BaseException] = []

        def bump() -> None:
            try:
                for _ in range(10):
                    # Read, then write: with a deferred BEGIN two of these fail with "database is locked".
                    with engine.begin() as conn:
                        n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                        time.sleep(0.001)
                        conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
            except BaseException as exc:  # reported in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=bump) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 40
    finally:
        engine.dispose()


def test_sqlite_readers_are_not_blocked_by_a_writer(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'r.db'}", busy_timeout_s=0.2)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.begin() as writer:
            writer.execute(text("UPDATE t SET n = 2"))
            with read_only(engine).connect() as reader:
                assert reader.execute(text("SELECT n FROM t")).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_plain_sqlite_engine_is_refused_by_stores(tmp_path: Path) -> None:
    from grounddesk.knowledge.registry import DocumentRegistry

    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        with pytest.raises(ConfigurationError, match="create_engine_for"):
            DocumentRegistry(engine)
    finally:
        engine.dispose()
