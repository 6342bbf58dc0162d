"""A thread-safe circuit breaker for one connector.

Only failures that say the back-end is unwell count: :class:`~grounddesk.connectors.types.ConnectorUnavailable`
and its subclasses (timeouts, 5xx, throttling). A missing record, a rejected value or refused credentials mean
the back-end answered, so they count as successes.

Example:
    >>> breaker = CircuitBreaker("erp", failure_threshold=5, reset_s=30.0)
    >>> order = breaker.call(lambda: erp.get_order("A1001"))
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal, TypeVar

from grounddesk.connectors.types import CircuitOpen, ConnectorUnavailable

__all__ = ["CircuitBreaker", "CircuitState"]

logger = logging.getLogger(__name__)

CircuitState = Literal["closed", "open", "half_open"]
T = TypeVar("T")


class CircuitBreaker:
    """Closed -> open after ``failure_threshold`` consecutive failures -> one probe after ``reset_s``.

    While open, calls fail at once with :class:`CircuitOpen` (``retry_after_s`` = time left until the probe).
    After ``reset_s`` the next caller is let through alone as the probe (``half_open``); callers arriving while
    it runs fail fast. The probe's success closes the circuit, its failure opens it for another ``reset_s``.

    Args:
        name: The connector's name, used in errors and logs.
        failure_threshold: Consecutive failures that open the circuit.
        reset_s: How long the circuit stays open before a probe.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self._threshold = failure_threshold
        self._reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: CircuitState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started_at: float | None = None

    @property
    def state(self) -> CircuitState:
        """``closed``, ``open``, or ``half_open`` (the reset time has passed: the next call is the probe)."""
        with self._lock:
            if self._state == "open" and self._clock() - self._opened_at >= self._reset_s:
                return "half_open"
            return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures counted since the last success."""
        with self._lock:
            return self._failures

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` if the circuit lets it through, and count its outcome.

        Args:
            fn: The call to the back-end.

        Returns:
            What ``fn`` returned.

        Raises:
            CircuitOpen: The circuit is open, or another caller is probing it.
        """
        self.before_call()
        try:
            result = fn()
        except ConnectorUnavailable:
            self.record_failure()
            raise
        except BaseException:
            # The back-end answered (not found, invalid, unauthorised) or our own code failed: not its health.
            self.record_success()
            raise
        self.record_success()
        return result

    def before_call(self) -> None:
        """Ask to make a call; pair it with :meth:`record_success` or :meth:`record_failure`.

        Raises:
            CircuitOpen: The circuit is open, or another caller is probing it.
        """
        with self._lock:
            if self._state == "closed":
                return
            now = self._clock()
            if self._state == "open":
                remaining = self._opened_at + self._reset_s - now
                if remaining > 0:
                    raise CircuitOpen(
                        f"{self.name} is failing; not calling it for {remaining:.1f}s",
                        connector=self.name,
                        retry_after_s=remaining,
                    )
                self._state = "half_open"
            elif self._probe_started_at is not None and now - self._probe_started_at < self._reset_s:
                raise CircuitOpen(
                    f"{self.name} is being probed after failures; try again shortly",
                    connector=self.name,
                    retry_after_s=None,
                )
            # Half-open with no probe in flight (or one lost for longer than reset_s): this caller probes.
            self._probe_started_at = now
            logger.info("circuit half-open, probing", extra={"connector": self.name})

    def record_success(self) -> None:
        """Count a call the back-end answered; closes a half-open circuit."""
        with self._lock:
            self._failures = 0
            if self._state != "closed":
                logger.info("circuit closed", extra={"connector": self.name})
            self._state = "closed"
            self._probe_started_at = None

    def record_failure(self) -> None:
        """Count a failure of the back-end; opens the circuit past the threshold or when a probe fails."""
        with self._lock:
            self._failures += 1
            if self._state == "half_open" or (self._state == "closed" and self._failures >= self._threshold):
                self._state = "open"
                self._opened_at = self._clock()
                self._probe_started_at = None
                logger.warning("circuit opened", extra={"connector": self.name, "consecutive_failures": self._failures})
