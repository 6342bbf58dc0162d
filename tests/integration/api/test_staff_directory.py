from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Engine, select, text

from grounddesk.api.auth import (
    AuthError,
    AuthRecordNotFound,
    AuthSettings,
    InvalidCredentials,
    InvalidToken,
    Role,
    UserExists,
    WeakPassword,
)
from grounddesk.api.auth_passwords import PasswordHasher
from grounddesk.api.auth_staff import StaffDirectory, create_user_command
from grounddesk.api.auth_tables import api_keys, staff_sessions, staff_users
from grounddesk.db import create_engine_for, upgrade
from grounddesk.errors import ErrorCode

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PASSWORD = "trail-mix-Harbour-42"
# Cheap Argon2id parameters keep the suite fast; production defaults are tested once, in create_user_command.
FAST = AuthSettings(password_time_cost=1, password_memory_kib=1024, password_parallelism=1)


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_kib=1024, parallelism=1)
        self.verifications = 0

    def verify(self, stored: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(stored, password)


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sql_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def directory(engine: Engine, clock: FakeClock) -> StaffDirectory:
    return StaffDirectory(engine, FAST, clock)


def _column(engine: Engine, column: ColumnElement[Any]) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(column)).scalars())


# -- users and sign-in ---------------------------------------------------------------------------------------


def test_create_login_resolve_logout(directory: StaffDirectory, clock: FakeClock) -> None:
    created = directory.create_user("  Kim.Lee ", PASSWORD, Role.AGENT, display_name="Kim Lee")
    assert (created.username, created.role, created.display_name) == ("kim.lee", Role.AGENT, "Kim Lee")
    assert created.created_at == START and not created.disabled

    token, session = directory.login("KIM.LEE", PASSWORD)

    assert token.startswith("gds_") and len(token) >= 40
    assert session.user == created
    assert session.expires_at == START + timedelta(hours=12)
    assert directory.resolve_session(token) == created

    directory.logout(token)
    with pytest.raises(InvalidToken) as info:
        directory.resolve_session(token)
    assert info.value.code is ErrorCode.INVALID_TOKEN
    assert info.value.fields["reason"] == "revoked"
    directory.logout(token)  # signing out twice is harmless


def test_each_login_is_its_own_session(directory: StaffDirectory) -> None:
    directory.create_user("priya", PASSWORD, "knowledge_manager")
    first, _ = directory.login("priya", PASSWORD)
    second, _ = directory.login("priya", PASSWORD)
    assert first != second

    directory.logout(first)

    assert directory.resolve_session(second).username == "priya"


def test_secrets_are_stored_only_as_hashes(directory: StaffDirectory, engine: Engine) -> None:
    user = directory.create_user("jordan", PASSWORD, Role.ADMIN)
    token, _ = directory.login("jordan", PASSWORD)
    key, _ = directory.create_api_key(user.id, "ci")

    [password_hash] = _column(engine, staff_users.c.password_hash)
    assert isinstance(password_hash, str)
    assert password_hash.startswith("$argon2id$")
    assert password_hash != PASSWORD and PASSWORD not in password_hash
    [token_hash] = _column(engine, staff_sessions.c.token_hash)
    assert token_hash != token and token[4:] not in str(token_hash)
    [key_hash] = _column(engine, api_keys.c.key_hash)
    assert key_hash != key and key[4:] not in str(key_hash)
    # Two users with the same password get different (salted) hashes.
    directory.create_user("jordan2", PASSWORD, Role.AGENT)
    assert len(set(_column(engine, staff_users.c.password_hash))) == 2


def test_wrong_password_and_unknown_user_fail_alike(engine: Engine, clock: FakeClock) -> None:
    hasher = CountingHasher()
    directory = StaffDirectory(engine, FAST, clock, hasher=hasher)
    directory.create_user("kim", PASSWORD, Role.AGENT)

    errors = []
    for username, password in [("kim", "wrong-password-123"), ("nobody", PASSWORD), ("", PASSWORD)]:
        before = hasher.verifications
        with pytest.raises(InvalidCredentials) as info:
            directory.login(username, password)
        errors.append(info.value.to_dict())
        # An unknown user costs a password verification too, so response time does not reveal which it was.
        assert hasher.verifications == before + 1

    assert (
        errors[0] == errors[1] == errors[2] == {"code": "invalid_credentials", "detail": "Wrong username or password"}
    )


@pytest.mark.parametrize("variant", ["kim", "KIM", "Kim", " kim "])
def test_duplicate_usernames_in_any_case_are_refused(directory: StaffDirectory, engine: Engine, variant: str) -> None:
    directory.create_user("Kim", PASSWORD, Role.AGENT)

    with pytest.raises(UserExists) as info:
        directory.create_user(variant, "another-password-77", Role.ADMIN)

    assert info.value.code is ErrorCode.USER_EXISTS
    assert info.value.fields["username"] == "kim"
    assert _column(engine, staff_users.c.role) == ["agent"]


@pytest.mark.parametrize("password", ["short", "nine-char", " " * 12, "Sam.Ortiz", "x" * 1025])
def test_weak_passwords_are_refused(directory: StaffDirectory, engine: Engine, password: str) -> None:
    with pytest.raises(WeakPassword) as info:
        directory.create_user("sam.ortiz", password, Role.AGENT)

    assert info.value.code is ErrorCode.WEAK_PASSWORD
    assert _column(engine, staff_users.c.id) == []


def test_ten_characters_is_long_enough(directory: StaffDirectory) -> None:
    directory.create_user("sam", "0123456789", Role.AGENT)
    assert directory.authenticate("sam", "0123456789").username == "sam"


@pytest.mark.parametrize("username", ["", "   ", "kim lee", "kim;drop", "é-accent", "-dash", "x" * 151])
def test_malformed_usernames_are_refused(directory: StaffDirectory, username: str) -> None:
    with pytest.raises(AuthError) as info:
        directory.create_user(username, PASSWORD, Role.AGENT)
    assert info.value.code is ErrorCode.INVALID_INPUT


def test_unknown_role_is_refused(directory: StaffDirectory) -> None:
    with pytest.raises(AuthError) as info:
        directory.create_user("kim", PASSWORD, "superuser")
    assert info.value.code is ErrorCode.INVALID_INPUT


def test_concurrent_creates_of_one_username_make_one_user(engine: Engine, clock: FakeClock) -> None:
    directories = [StaffDirectory(engine, FAST, clock) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(directory: StaffDirectory, name: str) -> None:
        barrier.wait()
        try:
            directory.create_user(name, PASSWORD, Role.AGENT)
            outcome = "created"
        except UserExists:
            outcome = "exists"
        with lock:
            outcomes.append(outcome)

    threads = [
        threading.Thread(target=create, args=(directories[0], "Dana")),
        threading.Thread(target=create, args=(directories[1], "dana")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", "exists"]
    assert _column(engine, staff_users.c.username) == ["dana"]


def test_list_users(directory: StaffDirectory) -> None:
    directory.create_user("zoe", PASSWORD, Role.AGENT)
    directory.create_user("adam", PASSWORD, Role.ADMIN, display_name="Adam Park")

    users = directory.list_users()

    assert [(u.username, u.role, u.display_name) for u in users] == [
        ("adam", Role.ADMIN, "Adam Park"),
        ("zoe", Role.AGENT, None),
    ]
    assert directory.get_user(users[1].id) == users[1]
    with pytest.raises(AuthRecordNotFound) as info:
        directory.get_user(999)
    assert info.value.code is ErrorCode.RECORD_NOT_FOUND


# -- sessions ------------------------------------------------------------------------------------------------


def test_session_expires_after_its_ttl(directory: StaffDirectory, clock: FakeClock) -> None:
    directory.create_user("kim", PASSWORD, Role.AGENT)
    token, _ = directory.login("kim", PASSWORD)

    clock.advance(hours=11, minutes=59, seconds=59)
    assert directory.resolve_session(token).username == "kim"

    clock.advance(seconds=1)
    with pytest.raises(InvalidToken) as info:
        directory.resolve_session(token)
    assert info.value.fields["reason"] == "expired"


def test_session_ttl_comes_from_settings(engine: Engine, clock: FakeClock) -> None:
    directory = StaffDirectory(engine, FAST.model_copy(update={"session_ttl_hours": 1}), clock)
    directory.create_user("kim", PASSWORD, Role.AGENT)
    token, session = directory.login("kim", PASSWORD)
    assert session.expires_at == START + timedelta(hours=1)

    clock.advance(hours=1)
    with pytest.raises(InvalidToken):
        directory.resolve_session(token)


@pytest.mark.parametrize("token", ["", "gds_", "gds_unknown-token", "gdk_" + "a" * 43, "gds_" + "é" * 20, "gds_" * 80])
def test_unknown_or_malformed_session_tokens(directory: StaffDirectory, token: str) -> None:
    with pytest.raises(InvalidToken) as info:
        directory.resolve_session(token)
    assert info.value.fields["reason"] in {"unknown", "malformed"}
    directory.logout(token)  # ignored, not an error


def test_last_seen_is_written_at_most_once_a_minute(
    directory: StaffDirectory, engine: Engine, clock: FakeClock
) -> None:
    directory.create_user("kim", PASSWORD, Role.AGENT)
    token, _ = directory.login("kim", PASSWORD)

    clock.advance(seconds=30)
    directory.resolve_session(token)
    assert _column(engine, staff_sessions.c.last_seen_at) == [START]

    clock.advance(seconds=31)
    directory.resolve_session(token)
    assert _column(engine, staff_sessions.c.last_seen_at) == [START + timedelta(seconds=61)]


# -- API keys ------------------------------------------------------------------------------------------------


def test_api_key_lifecycle(directory: StaffDirectory, engine: Engine, clock: FakeClock) -> None:
    user = directory.create_user("ci-bot", PASSWORD, Role.KNOWLEDGE_MANAGER)

    key, info = directory.create_api_key(user.id, "  nightly import ")

    assert key.startswith("gdk_") and len(key) == 4 + 43
    assert (info.user_id, info.name, info.prefix, info.created_at) == (user.id, "nightly import", key[:8], START)
    assert info.revoked_at is None and info.last_used_at is None

    clock.advance(minutes=5)
    assert directory.resolve_api_key(key) == user
    [listed] = directory.list_api_keys(user.id)
    assert listed.id == info.id and listed.last_used_at == START + timedelta(minutes=5)

    other, _ = directory.create_api_key(user.id, "laptop")
    clock.advance(minutes=1)
    revoked = directory.revoke_api_key(info.id)
    assert revoked.revoked_at == START + timedelta(minutes=6)
    with pytest.raises(InvalidToken) as exc:
        directory.resolve_api_key(key)
    assert exc.value.fields["reason"] == "revoked"
    assert directory.resolve_api_key(other) == user  # revoking one key leaves the others working
    assert directory.revoke_api_key(info.id).revoked_at == revoked.revoked_at  # revoking again changes nothing
    assert [k.name for k in directory.list_api_keys()] == ["nightly import", "laptop"]


def test_api_keys_are_checked_against_their_owner(directory: StaffDirectory) -> None:
    alice = directory.create_user("alice", PASSWORD, Role.AGENT)
    bob = directory.create_user("bob", PASSWORD, Role.AGENT)
    _, info = directory.create_api_key(alice.id, "alice's key")

    with pytest.raises(AuthRecordNotFound):
        directory.revoke_api_key(info.id, user_id=bob.id)
    assert directory.list_api_keys(bob.id) == []
    with pytest.raises(AuthRecordNotFound):
        directory.revoke_api_key(12345)
    with pytest.raises(AuthRecordNotFound):
        directory.create_api_key(12345, "nobody's key")
    with pytest.raises(AuthError) as blank:
        directory.create_api_key(alice.id, "   ")
    assert blank.value.code is ErrorCode.INVALID_INPUT


@pytest.mark.parametrize("key", ["", "gdk_nope", "gds_" + "a" * 43, "Bearer gdk_x"])
def test_unknown_or_malformed_api_keys(directory: StaffDirectory, key: str) -> None:
    with pytest.raises(InvalidToken) as info:
        directory.resolve_api_key(key)
    assert info.value.fields["reason"] in {"unknown", "malformed"}


# -- disabling, passwords, rehashing ---------------------------------------------------------------------------


def test_disabled_user_cannot_sign_in_or_use_sessions_and_keys(directory: StaffDirectory, clock: FakeClock) -> None:
    user = directory.create_user("kim", PASSWORD, Role.ADMIN)
    token, _ = directory.login("kim", PASSWORD)
    key, _ = directory.create_api_key(user.id, "script")

    clock.advance(minutes=1)
    disabled = directory.set_disabled(user.id)

    assert disabled.disabled and disabled.disabled_at == START + timedelta(minutes=1)
    with pytest.raises(InvalidCredentials):
        directory.login("kim", PASSWORD)
    with pytest.raises(InvalidToken) as session_error:
        directory.resolve_session(token)
    assert session_error.value.fields["reason"] == "revoked"
    with pytest.raises(InvalidToken) as key_error:
        directory.resolve_api_key(key)
    assert key_error.value.fields["reason"] == "user_disabled"

    directory.set_disabled(user.id, disabled=False)

    assert directory.resolve_api_key(key) == directory.get_user(user.id)
    with pytest.raises(InvalidToken):
        directory.resolve_session(token)  # old sessions stay ended
    fresh, _ = directory.login("kim", PASSWORD)
    assert directory.resolve_session(fresh).username == "kim"
    with pytest.raises(AuthRecordNotFound):
        directory.set_disabled(999)


def test_set_password_replaces_it_and_ends_sessions(directory: StaffDirectory) -> None:
    user = directory.create_user("kim", PASSWORD, Role.AGENT)
    token, _ = directory.login("kim", PASSWORD)

    directory.set_password(user.id, "a-brand-new-passphrase")

    with pytest.raises(InvalidCredentials):
        directory.authenticate("kim", PASSWORD)
    assert directory.authenticate("kim", "a-brand-new-passphrase") == user
    with pytest.raises(InvalidToken):
        directory.resolve_session(token)
    with pytest.raises(WeakPassword):
        directory.set_password(user.id, "short")


def test_hash_is_upgraded_on_sign_in_when_the_cost_changes(engine: Engine, clock: FakeClock) -> None:
    StaffDirectory(engine, FAST, clock).create_user("kim", PASSWORD, Role.AGENT)
    [old_hash] = _column(engine, staff_users.c.password_hash)
    assert "m=1024,t=1,p=1" in str(old_hash)
    stronger = StaffDirectory(
        engine, AuthSettings(password_time_cost=2, password_memory_kib=2048, password_parallelism=1), clock
    )

    with pytest.raises(InvalidCredentials):
        stronger.authenticate("kim", "wrong-password-123")
    assert _column(engine, staff_users.c.password_hash) == [old_hash]  # never upgraded on a failed sign-in

    stronger.authenticate("kim", PASSWORD)

    [new_hash] = _column(engine, staff_users.c.password_hash)
    assert "m=2048,t=2,p=1" in str(new_hash)
    assert stronger.authenticate("kim", PASSWORD).username == "kim"
    assert _column(engine, staff_users.c.password_hash) == [new_hash]  # no rehash when already current


def test_create_user_command_migrates_and_uses_production_hashing(sql_url: str) -> None:
    engine = create_engine_for(sql_url)
    try:
        user = create_user_command(engine, "Admin", "first-admin-passphrase", "admin", display_name="Ops")

        assert (user.username, user.role, user.display_name) == ("admin", Role.ADMIN, "Ops")
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT password_hash FROM staff_users")).scalar_one()
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert StaffDirectory(engine).authenticate("admin", "first-admin-passphrase") == user
        with pytest.raises(UserExists):
            create_user_command(engine, "ADMIN", "first-admin-passphrase", "admin")
        with pytest.raises(AuthError) as info:
            create_user_command(engine, "someone", "first-admin-passphrase", "root")
        assert info.value.code is ErrorCode.INVALID_INPUT
    finally:
        engine.dispose()
