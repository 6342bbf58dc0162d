"""The background WAL checkpointer: copies a write-ahead log into its database without a writer paying for it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from grounddesk.db import create_engine_for
from grounddesk.db.wal import WalCheckpointer, sqlite_file


def _writer(path: Path) -> sqlite3.Connection:
    """A connection that never checkpoints by itself, as a busy service's connections rarely get to."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
    return conn


def _fill(conn: sqlite3.Connection, rows: int) -> None:
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t (body) VALUES (?)", [("x" * 2000,) for _ in range(rows)])
    conn.execute("COMMIT")


def test_a_round_copies_the_whole_log_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    writer = _writer(path)
    _fill(writer, 200)
    before = path.stat().st_size
    checkpointer = WalCheckpointer([path])
    try:
        [run] = checkpointer.run_once()
        assert run.path == path and not run.busy
        assert run.log_frames > 100 and run.checkpointed_frames == run.log_frames
        assert path.stat().st_size > before + 200 * 2000  # the rows now live in the database file itself
        _fill(writer, 1)
        [again] = checkpointer.run_once()
        assert again.log_frames < run.log_frames  # the writer started the log over once it was copied
    finally:
        checkpointer.close()
        writer.close()


def test_files_that_do_not_exist_yet_are_picked_up_once_they_do(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    checkpointer = WalCheckpointer([path])
    try:
        assert checkpointer.run_once() == []
        writer = _writer(path)
        _fill(writer, 5)
        assert [run.path for run in checkpointer.run_once()] == [path]
        writer.close()
    finally:
        checkpointer.close()


def test_a_file_that_fails_is_skipped_and_the_others_still_checkpointed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    good = tmp_path / "good.db"
    writer = _writer(good)
    _fill(writer, 20)
    checkpointer = WalCheckpointer([broken, good])
    try:
        runs = checkpointer.run_once()
        assert [run.path for run in runs] == [good] and runs[0].checkpointed_frames > 0
        assert "WAL checkpoint failed" in caplog.text
    finally:
        checkpointer.close()
        writer.close()


def test_close_takes_a_last_checkpoint_and_start_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    writer = _writer(path)
    checkpointer = WalCheckpointer([path], interval_s=3600)
    checkpointer.start()
    checkpointer.start()
    _fill(writer, 50)
    before = path.stat().st_size
    checkpointer.close()  # the hour-long interval never came round: this is close's own checkpoint
    assert path.stat().st_size > before + 50 * 2000
    writer.close()
    with pytest.raises(ValueError):
        WalCheckpointer([path], interval_s=0)


def test_only_sqlite_files_are_named(tmp_path: Path) -> None:
    file_engine = create_engine_for(f"sqlite:///{tmp_path / 'db' / 'grounddesk.db'}")
    assert sqlite_file(file_engine) == tmp_path / "db" / "grounddesk.db"
    file_engine.dispose()
    assert sqlite_file(create_engine("sqlite://")) is None
    assert sqlite_file(create_engine("postgresql+psycopg://u@127.0.0.1:1/db")) is None
