"""A clock for tests: it moves only when told to.

Stores that take a ``clock`` argument (``SqlTicketQueue``, ``ConversationStore``) read the time through it, so SLA
and inactivity tests run without sleeping.

Example:
    >>> clock = FakeClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    >>> clock.advance(minutes=16)
    datetime.datetime(2026, 11, 20, 12, 16, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["DEFAULT_START", "FakeClock"]

#: Friday 20 November 2026, 12:00 UTC: the demo seed data's "now".
DEFAULT_START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class FakeClock:
    """A thread-safe, timezone-aware clock that only moves on :meth:`advance` or :meth:`set`.

    Args:
        start: The first moment it reads (must be timezone-aware).
    """

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        """The current fake moment."""
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)``; return the new moment."""
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (timezone-aware)."""
        if moment.tzinfo is None:
            raise ValueError("FakeClock needs timezone-aware moments")
        with self._lock:
            self._now = moment
