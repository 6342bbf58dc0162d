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


def test_the_write_queue_is_given_back_however_a_transaction_ends(tmp_path: Path) -> None:
    # A short busy timeout: a queue left held by a finished transaction makes the next writer fail at once.
    engine = create_engine_for(f"sqlite:///{tmp_path / 'g.db'}", busy_timeout_s=0.5)
    gate = engine.dialect.grounddesk_write_gate  # type: ignore[attr-defined]
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER UNIQUE)"))
        assert not gate._lock.locked()
        with pytest.raises(Exception, match="UNIQUE"), engine.begin() as conn:  # rolled back by an error
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not gate._lock.locked()
        conn = engine.connect()  # a transaction abandoned: the pool rolls it back when the connection goes
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert gate._lock.locked()
        conn.close()
        assert not gate._lock.locked()
        with read_only(engine).connect() as reader:  # readers never take it
            reader.execute(text("SELECT COUNT(*) FROM t")).scalar_one()
            assert not gate._lock.locked()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (3)"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [3]
    finally:
        engine.dispose()


def test_a_writer_past_the_busy_timeout_fails_cleanly(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'b.db'}", busy_timeout_s=0.05)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
        failures: list[BaseException] = []
        with engine.begin() as holder:
            holder.execute(text("INSERT INTO t VALUES (1)"))

            def second_writer() -> None:
                try:
                    with engine.begin() as conn:
                        conn.execute(text("INSERT INTO t VALUES (2)"))
                except BaseException as exc:  # reported in the main thread
                    failures.append(exc)

            thread = threading.Thread(target=second_writer)
            thread.start()
            thread.join(30)
        assert len(failures) == 1 and "database is locked" in str(failures[0])
        with engine.connect() as conn:  # the holder's row is in; the queue works again
            assert conn.execute(text("SELECT n FROM t")).scalars().all() == [1]
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (3)"))
    finally:
        engine.dispose()
