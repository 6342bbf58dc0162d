"""Retries of connector reads: exponential backoff with full jitter, honouring the back-end's Retry-After.

Only reads are retried (the wrappers in :mod:`grounddesk.connectors.resilience` never hand a write to a
:class:`RetryPolicy`), and only on :class:`~grounddesk.connectors.types.ConnectorUnavailable` and its
subclasses other than :class:`~grounddesk.connectors.types.CircuitOpen`: retrying a call the breaker refused
would defeat the breaker.

Example:
    >>> policy = RetryPolicy(retries=2, base_s=0.2, max_s=2.0)
    >>> order = policy.run(lambda: erp.get_order("A1001"), operation="get_order")
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Literal, TypeVar

from grounddesk.connectors.types import CircuitOpen, ConnectorUnavailable

__all__ = ["RetryPolicy"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RetryPolicy:
    """Up to ``retries`` more attempts after the first, sleeping between them.

    The n-th retry (n = 0, 1, ...) sleeps a uniform random time in ``[0, min(max_s, base_s * 2**n)]`` ("full
    jitter", which spreads out the retries of many clients hit by one outage). When the error carries
    ``retry_after_s`` (HTTP 429/503 ``Retry-After``), that wait is used instead, as told; if it is longer than
    ``max_retry_after_s`` the error is raised at once rather than holding the customer's turn that long.

    Args:
        retries: Extra attempts after the first (0 disables retrying).
        base_s: Backoff ceiling of the first retry.
        max_s: Largest backoff ceiling.
        max_retry_after_s: Longest ``Retry-After`` that is waited for.
        jitter: ``"full"`` (random wait up to the ceiling) or ``"none"`` (wait the ceiling; predictable, for tests
            and single clients).
        sleep: Sleeps for the given seconds (injectable for tests).
        rng: Returns a float in ``[0, 1)`` (injectable for tests).
    """

    def __init__(
        self,
        *,
        retries: int = 2,
        base_s: float = 0.2,
        max_s: float = 2.0,
        max_retry_after_s: float = 5.0,
        jitter: Literal["full", "none"] = "full",
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.retries = retries
        self.base_s = base_s
        self.max_s = max_s
        self.max_retry_after_s = max_retry_after_s
        self.jitter = jitter
        self._sleep = sleep
        self._rng = rng

    @staticmethod
    def retryable(error: BaseException) -> bool:
        """Whether ``error`` is worth another attempt: the back-end is unwell, and no breaker refused the call."""
        return isinstance(error, ConnectorUnavailable) and not isinstance(error, CircuitOpen)

    def delay(self, retry: int, error: ConnectorUnavailable) -> float | None:
        """Seconds to wait before retry number ``retry`` (from 0), or None to give up now.

        Args:
            retry: How many retries were made before this one.
            error: The error of the last attempt.

        Returns:
            The wait, or None when the back-end asked for a longer pause than ``max_retry_after_s``.
        """
        if error.retry_after_s is not None:
            wait = max(error.retry_after_s, 0.0)
            return wait if wait <= self.max_retry_after_s else None
        ceiling: float = min(self.max_s, self.base_s * 2.0**retry)
        return self._rng() * ceiling if self.jitter == "full" else ceiling

    def run(self, fn: Callable[[], T], *, operation: str = "call") -> T:
        """Call ``fn``, retrying it as the policy says.

        Args:
            fn: One attempt; idempotent (a read).
            operation: Name used in logs.

        Returns:
            The first successful result.

        Raises:
            ConnectorError: The last attempt's error, or the first one that is not retryable.
        """
        retry = 0
        while True:
            try:
                return fn()
            except ConnectorUnavailable as error:
                if retry >= self.retries or not self.retryable(error):
                    raise
                wait = self.delay(retry, error)
                if wait is None:
                    raise
                logger.info(
                    "retrying connector read",
                    extra={
                        "connector": error.connector,
                        "operation": operation,
                        "retry": retry + 1,
                        "wait_s": round(wait, 3),
                        "error_code": str(error.code),
                    },
                )
                self._sleep(wait)
                retry += 1
