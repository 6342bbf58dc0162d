"""Per-node timing, recorded into the state's ``timings`` (the latency eval reads it)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["timed"]

F = TypeVar("F", bound=Callable[..., dict[str, Any]])


def timed(name: str) -> Callable[[F], F]:
    """Add ``{name: milliseconds}`` to the node's update."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def node(*args: Any, **kwargs: Any) -> dict[str, Any]:
            started = time.perf_counter()
            update = fn(*args, **kwargs)
            update.setdefault("timings", {})
            update["timings"] = {**update["timings"], name: (time.perf_counter() - started) * 1000.0}
            return update

        return node  # type: ignore[return-value]

    return wrap
