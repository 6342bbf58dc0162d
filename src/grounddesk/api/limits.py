"""Abuse limits of the service: token buckets per client address and per conversation, and the turn cap.

Buckets live in the process (each replica counts on its own, which bounds a client to ``replicas x rate``); the
turn cap counts the customer messages stored in the database, so it holds across restarts and replicas.

Example:
    >>> limiter = RateLimiter(per_minute=60, burst=10)
    >>> limiter.take("203.0.113.7")           # None: allowed
    >>> ...                                   # ten more at once
    >>> limiter.take("203.0.113.7")           # seconds until a token is back
    1.0
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from starlette.types import Scope

from grounddesk.api.settings import LimitsSettings
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.escalation.tables import conversation_events
from grounddesk.escalation.types import ConversationEventKind

__all__ = [
    "AbuseLimits",
    "ConversationLimitReached",
    "MessageTooLong",
    "RateLimiter",
    "TooManyRequests",
    "client_address",
    "counted",
    "customer_messages",
    "ip_limiter",
    "retry_after_header",
]

Clock = Callable[[], float]


class TooManyRequests(GrounddeskError):
    """``429 rate_limited``: a bucket is empty. Field ``retry_after_s``: when a token is back."""

    code = ErrorCode.RATE_LIMITED


class ConversationLimitReached(GrounddeskError):
    """``429 conversation_limit``: the conversation holds as many customer messages as it may (no retry helps)."""

    code = ErrorCode.CONVERSATION_LIMIT


class MessageTooLong(GrounddeskError):
    """``413 message_too_long``: a customer message over ``service.max_message_chars``. Field ``limit``."""

    code = ErrorCode.MESSAGE_TOO_LONG


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets by key (a client address, a conversation id), safe to use from threads.

    Args:
        per_minute: Refill rate.
        burst: Bucket size: requests allowed at once.
        max_keys: Buckets kept; past it the least recently used bucket is dropped (it would be full again
            soon anyway, so dropping it only ever errs on the side of letting a request through).
        clock: Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, per_minute: float, burst: int, *, max_keys: int = 100_000, clock: Clock = time.monotonic):
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float | None:
        """Spend one token of ``key``'s bucket.

        Returns:
            None when the request may go ahead; otherwise the seconds until a token is back (nothing is spent).
        """
        now = self._clock()
        with self._lock:
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                bucket = _Bucket(self.burst, now)
            else:
                bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
                bucket.at = now
            self._buckets[key] = bucket  # most recently used last
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self.rate

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, rounded up and at least 1."""
    return str(max(1, math.ceil(seconds)))


def client_address(scope: Scope, trusted_proxy_hops: int = 0) -> str:
    """The client's address: the socket peer, or with ``n`` trusted proxies an ``X-Forwarded-For`` entry.

    Each proxy appends the address it saw, so the ``n``-th entry from the right is the one the outermost trusted
    proxy wrote; entries further left are the client's to forge.
    """
    peer = scope.get("client")
    address = str(peer[0]) if peer else "unknown"
    if trusted_proxy_hops <= 0:
        return address
    forwarded: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded.extend(p.strip() for p in value.decode("latin-1").split(",") if p.strip())
    return forwarded[-trusted_proxy_hops] if len(forwarded) >= trusted_proxy_hops else address


def customer_messages(engine: Engine, conversation_id: str, client_message_id: str) -> tuple[int, bool]:
    """How many customer messages a conversation holds, and whether ``client_message_id`` is one of them."""
    events = conversation_events.c
    mine = (events.conversation_id == conversation_id) & (events.kind == ConversationEventKind.CUSTOMER_MESSAGE.value)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(conversation_events).where(mine)).scalar_one()
        seen = conn.execute(
            select(events.seq).where(mine, events.client_message_id == client_message_id).limit(1)
        ).first()
    return int(count), seen is not None


class AbuseLimits:
    """The per-conversation checks a customer message passes before it is stored.

    Args:
        settings: The limits.
        max_message_chars: The longest message.
        clock: Monotonic seconds (tests).
    """

    def __init__(self, settings: LimitsSettings, max_message_chars: int, *, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self.max_message_chars = max_message_chars
        self.messages = RateLimiter(
            settings.conversation_messages_per_minute,
            settings.conversation_burst,
            max_keys=settings.max_tracked_keys,
            clock=clock,
        )

    def check_length(self, text: str) -> None:
        """Raises :class:`MessageTooLong` for a message over the limit."""
        if len(text) > self.max_message_chars:
            raise MessageTooLong(
                f"A message may have at most {self.max_message_chars} characters; please shorten it.",
                limit=self.max_message_chars,
            )

    def check_message(self, engine: Engine, conversation_id: str, client_message_id: str) -> None:
        """Check the conversation's message rate and turn cap (blocking: it reads the database).

        A re-sent message (a ``client_message_id`` already stored) passes the cap, so a retry still gets its reply.

        Raises:
            TooManyRequests: The conversation sends messages faster than allowed.
            ConversationLimitReached: The conversation holds its maximum of customer messages.
        """
        if not self.settings.enabled:
            return
        wait = self.messages.take(conversation_id)
        if wait is not None:
            raise TooManyRequests(
                "You're sending messages faster than we can read them. Please wait a moment and try again.",
                retry_after_s=float(retry_after_header(wait)),
            )
        cap = self.settings.max_turns_per_conversation
        count, seen = customer_messages(engine, conversation_id, client_message_id)
        if count >= cap and not seen:
            raise ConversationLimitReached(
                "This conversation has reached its length limit, so I can't take more messages here. "
                "Thank you for chatting with us! Please start a new conversation if you need anything else.",
                limit=cap,
            )


def ip_limiter(settings: LimitsSettings, *, clock: Clock = time.monotonic) -> RateLimiter:
    """The per-address bucket set of ``settings``."""
    return RateLimiter(settings.ip_per_minute, settings.ip_burst, max_keys=settings.max_tracked_keys, clock=clock)


def counted(path: str, prefixes: Sequence[str]) -> bool:
    """Whether ``path`` falls under one of the counted prefixes."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)
