"""Per-node timing, recorded into the state's ``timings`` (the latency eval reads it), and the compute queue.

Nodes that only compute (no network: guard, the embedding router, retrieval from the embedded store, the
extractive composer, scoring, the decision) run one at a time across the process's concurrent turns. They share
one interpreter lock and one model, so interleaving them only stretched every turn: under 50 simulated customers
the p95 turn was 100 ms with two turns' computations interleaved and 70 ms with them queued. Nodes that wait on
a network (tool calls to a CRM or ERP, an LLM router or composer) stay outside the queue, so those waits overlap.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["timed"]

F = TypeVar("F", bound=Callable[..., dict[str, Any]])


_COMPUTE = threading.Lock()


def timed(name: str, *, compute: bool = True) -> Callable[[F], F]:
    """Add ``{name: milliseconds}`` to the node's update; ``compute``: the node only computes (see above)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def node(*args: Any, **kwargs: Any) -> dict[str, Any]:
            started = time.perf_counter()
            if compute:
                with _COMPUTE:
                    update = fn(*args, **kwargs)
            else:
                update = fn(*args, **kwargs)
            update.setdefault("timings", {})
            update["timings"] = {**update["timings"], name: (time.perf_counter() - started) * 1000.0}
            return update

        return node  # type: ignore[return-value]

    return wrap
