from __future__ import annotations

import base64
import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from grounddesk.api.auth import (
    AuthSettings,
    Forbidden,
    InvalidToken,
    Role,
    StaffUser,
    load_or_create_secret,
    require_role,
    resolve_token_secret,
)
from grounddesk.api.auth_tokens import CustomerTokens, sign_identity, verify_identity
from grounddesk.errors import ConfigurationError, ErrorCode

SECRET = b"k" * 16 + b"0123456789abcdef0123456789abcdef"
OTHER_SECRET = b"z" * 48
IDENTITY_SECRET = "host-site-shared-secret-0123456789"
START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens(clock: FakeClock) -> CustomerTokens:
    return CustomerTokens(SECRET, timedelta(hours=24), clock)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, object]:
    body = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


# -- conversation tokens -----------------------------------------------------------------------------------


def test_issued_token_verifies_for_its_conversation(tokens: CustomerTokens) -> None:
    token = tokens.issue("conv-1", customer_id="C-1001")

    claims = tokens.verify(token, "conv-1")

    assert claims.conversation_id == "conv-1"
    assert claims.customer_id == "C-1001"
    assert claims.verified
    assert claims.audiences == ("public", "customers")
    assert claims.issued_at == START
    assert claims.expires_at == START + timedelta(hours=24)


def test_anonymous_token_gets_public_audience_only(tokens: CustomerTokens) -> None:
    claims = tokens.verify(tokens.issue("conv-2"), "conv-2")

    assert claims.customer_id is None
    assert not claims.verified
    assert claims.audiences == ("public",)


def test_explicit_audiences_and_settings_defaults(clock: FakeClock) -> None:
    settings = AuthSettings(customer_token_ttl_hours=1, verified_audiences=["public", "vip"])
    tokens = CustomerTokens.from_settings(settings, SECRET, clock)

    assert tokens.verify(tokens.issue("c", customer_id="C-1"), "c").audiences == ("public", "vip")
    assert tokens.verify(tokens.issue("c", audiences=["internal"]), "c").audiences == ("internal",)
    assert tokens.decode(tokens.issue("c")).expires_at == START + timedelta(hours=1)
    assert settings.audiences_for(None) == ["public"]
    assert settings.audiences_for("C-1") == ["public", "vip"]


def test_token_for_another_conversation_is_forbidden(tokens: CustomerTokens) -> None:
    token = tokens.issue("conv-A", customer_id="C-1001")

    with pytest.raises(Forbidden) as info:
        tokens.verify(token, "conv-B")

    assert info.value.code is ErrorCode.FORBIDDEN
    assert info.value.fields["reason"] == "wrong_conversation"


def test_token_expires(tokens: CustomerTokens, clock: FakeClock) -> None:
    token = tokens.issue("conv-1")
    clock.advance(hours=23, minutes=59)
    assert tokens.verify(token, "conv-1").conversation_id == "conv-1"

    clock.advance(minutes=1)
    with pytest.raises(InvalidToken) as info:
        tokens.verify(token, "conv-1")

    assert info.value.code is ErrorCode.INVALID_TOKEN
    assert info.value.fields["reason"] == "expired"


def test_tampered_payload_is_rejected(tokens: CustomerTokens) -> None:
    token = tokens.issue("conv-1")
    version, _body, signature = token.split(".")
    payload = _payload(token)
    # Rewrite the claims to another conversation, a customer id and a far expiry, keeping the signature.
    payload.update(cid="conv-2", sub="C-1001", aud=["public", "customers"], exp=4_000_000_000)
    forged = f"{version}.{_b64(json.dumps(payload).encode())}.{signature}"

    with pytest.raises(InvalidToken) as info:
        tokens.verify(forged, "conv-2")

    assert info.value.fields["reason"] == "bad_signature"


def test_tampered_signature_is_rejected(tokens: CustomerTokens) -> None:
    token = tokens.issue("conv-1")
    last = token[-2]
    flipped = token[:-2] + ("A" if last != "A" else "B") + token[-1]

    with pytest.raises(InvalidToken) as info:
        tokens.verify(flipped, "conv-1")
    assert info.value.fields["reason"] == "bad_signature"


def test_token_signed_with_another_secret_is_rejected(clock: FakeClock) -> None:
    theirs = CustomerTokens(OTHER_SECRET, timedelta(hours=24), clock)
    ours = CustomerTokens(SECRET, timedelta(hours=24), clock)

    with pytest.raises(InvalidToken) as info:
        ours.verify(theirs.issue("conv-1", customer_id="C-1001"), "conv-1")
    assert info.value.fields["reason"] == "bad_signature"


def test_token_is_not_a_plain_hmac_of_the_secret(tokens: CustomerTokens) -> None:
    # The signing key is derived for this purpose: an HMAC under the raw secret does not verify.
    import hashlib
    import hmac

    body = _b64(json.dumps({"aud": ["public"], "cid": "c", "exp": 4_000_000_000, "iat": 0, "sub": None}).encode())
    signature = _b64(hmac.new(SECRET, f"v1.{body}".encode(), hashlib.sha256).digest())

    with pytest.raises(InvalidToken):
        tokens.verify(f"v1.{body}.{signature}", "c")


@pytest.mark.parametrize(
    "token",
    ["", "v1", "v1.abc", "v2.abc.def", "v1.a.b.c", "v1.!!!.###", "v1.é.x", "x" * 5000, "Bearer v1.a.b"],
)
def test_malformed_tokens_are_rejected(tokens: CustomerTokens, token: str) -> None:
    with pytest.raises(InvalidToken) as info:
        tokens.verify(token, "conv-1")
    assert info.value.fields["reason"] in {"malformed", "bad_signature"}


def test_short_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        CustomerTokens(b"too-short", timedelta(hours=1))


# -- verified customer identity ------------------------------------------------------------------------------


def _signed(customer_id: str = "C-1001", at: datetime = START) -> tuple[str, int, str]:
    ts = int(at.timestamp())
    return customer_id, ts, sign_identity(customer_id, ts, IDENTITY_SECRET)


def test_identity_signed_by_the_host_site_verifies() -> None:
    customer_id, ts, sig = _signed()

    identity = verify_identity(customer_id, ts, sig, IDENTITY_SECRET, START + timedelta(seconds=5), 600)

    assert identity.customer_id == "C-1001"
    assert identity.signed_at == START


def test_identity_signature_is_hex_hmac_of_id_and_timestamp() -> None:
    import hashlib
    import hmac

    expected = hmac.new(IDENTITY_SECRET.encode(), b"C-1001:1790000000", hashlib.sha256).hexdigest()
    assert sign_identity("C-1001", 1790000000, IDENTITY_SECRET) == expected
    # Data attributes arrive as strings; uppercase hex is accepted.
    identity = verify_identity(
        "C-1001", "1790000000", expected.upper(), IDENTITY_SECRET, datetime.fromtimestamp(1790000000, UTC), 600
    )
    assert identity.customer_id == "C-1001"


@pytest.mark.parametrize(
    ("customer_id", "signed_for"),
    [("C-1002", "C-1001"), ("C-1001 ", "C-1001"), ("c-1001", "C-1001")],
)
def test_identity_for_another_customer_is_rejected(customer_id: str, signed_for: str) -> None:
    _, ts, sig = _signed(signed_for)

    with pytest.raises(InvalidToken) as info:
        verify_identity(customer_id, ts, sig, IDENTITY_SECRET, START, 600)
    assert info.value.fields["reason"] == "bad_signature"


def test_identity_with_changed_timestamp_is_rejected() -> None:
    customer_id, ts, sig = _signed()

    with pytest.raises(InvalidToken) as info:
        verify_identity(customer_id, ts + 1, sig, IDENTITY_SECRET, START, 600)
    assert info.value.fields["reason"] == "bad_signature"


def test_identity_signed_with_another_secret_is_rejected() -> None:
    ts = int(START.timestamp())
    sig = sign_identity("C-1001", ts, "an-attacker-guess-of-the-secret")

    with pytest.raises(InvalidToken) as info:
        verify_identity("C-1001", ts, sig, IDENTITY_SECRET, START, 600)
    assert info.value.fields["reason"] == "bad_signature"


def test_identity_too_old_is_rejected() -> None:
    customer_id, ts, sig = _signed()
    assert verify_identity(customer_id, ts, sig, IDENTITY_SECRET, START + timedelta(seconds=600), 600)

    with pytest.raises(InvalidToken) as info:
        verify_identity(customer_id, ts, sig, IDENTITY_SECRET, START + timedelta(seconds=601), 600)
    assert info.value.fields["reason"] == "too_old"
    assert "older than 600 s" in info.value.detail


def test_identity_from_the_future_is_rejected() -> None:
    customer_id, ts, sig = _signed(at=START + timedelta(minutes=5))
    # Within the clock-skew allowance it passes.
    assert verify_identity(customer_id, ts, sig, IDENTITY_SECRET, START + timedelta(minutes=4, seconds=40), 600)

    with pytest.raises(InvalidToken) as info:
        verify_identity(customer_id, ts, sig, IDENTITY_SECRET, START, 600)
    assert info.value.fields["reason"] == "in_future"


@pytest.mark.parametrize(
    ("customer_id", "timestamp", "signature"),
    [
        ("", "1790000000", "a" * 64),
        ("C-1001", "-5", "a" * 64),
        ("C-1001", "17900.5", "a" * 64),
        ("C-1001", "1790000000", "not-hex"),
        ("C-1001", "1790000000", "é" * 64),
        ("C-1001\n", "1790000000", "a" * 64),
    ],
)
def test_malformed_identity_is_rejected(customer_id: str, timestamp: str, signature: str) -> None:
    with pytest.raises(InvalidToken) as info:
        verify_identity(customer_id, timestamp, signature, IDENTITY_SECRET, START, 600)
    assert info.value.fields["reason"] == "malformed"


# -- roles -----------------------------------------------------------------------------------------------


def _staff(role: Role, disabled: bool = False) -> StaffUser:
    return StaffUser(
        id=1, username="kim", role=role, display_name=None, created_at=START, disabled_at=START if disabled else None
    )


def test_require_role() -> None:
    agent, manager, admin = _staff(Role.AGENT), _staff(Role.KNOWLEDGE_MANAGER), _staff(Role.ADMIN)

    assert require_role(agent, Role.AGENT) is agent
    assert require_role(manager, Role.AGENT, Role.KNOWLEDGE_MANAGER) is manager
    assert require_role(agent) is agent
    for role in Role:
        assert require_role(admin, role) is admin
    with pytest.raises(Forbidden) as info:
        require_role(agent, Role.KNOWLEDGE_MANAGER)
    assert info.value.code is ErrorCode.FORBIDDEN
    assert info.value.fields == {"required": ["knowledge_manager"], "role": "agent"}
    with pytest.raises(Forbidden):
        require_role(manager, Role.ADMIN)
    with pytest.raises(Forbidden):
        require_role(_staff(Role.ADMIN, disabled=True), Role.AGENT)


def test_role_parse_rejects_unknown_names() -> None:
    assert Role.parse("knowledge_manager") is Role.KNOWLEDGE_MANAGER
    with pytest.raises(Exception) as info:
        Role.parse("superuser")
    assert getattr(info.value, "code", None) is ErrorCode.INVALID_INPUT


# -- the token secret file -----------------------------------------------------------------------------------


def test_secret_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "home" / "secret.key"

    first = load_or_create_secret(path)

    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(path) == first
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_concurrent_first_starts_share_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    barrier = threading.Barrier(4)
    results: list[bytes] = []
    lock = threading.Lock()

    def start() -> None:
        barrier.wait()
        secret = load_or_create_secret(path)
        with lock:
            results.append(secret)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    assert len(set(results)) == 1


def test_short_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("short\n")

    with pytest.raises(ConfigurationError):
        load_or_create_secret(path)


def test_configured_secret_wins_over_the_file(tmp_path: Path) -> None:
    configured = AuthSettings(token_secret=SecretStr("c" * 40))
    assert resolve_token_secret(configured, tmp_path) == b"c" * 40
    assert not (tmp_path / "secret.key").exists()

    generated = resolve_token_secret(AuthSettings(), tmp_path)
    assert generated == (tmp_path / "secret.key").read_text().strip().encode()

    with pytest.raises(ConfigurationError):
        resolve_token_secret(AuthSettings(token_secret=SecretStr("short")), tmp_path)
