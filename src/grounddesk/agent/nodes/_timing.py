"""Per-node timing, recorded into the state's ``timings`` (the latency eval reads it), and the compute queue.

Work that only computes (guard, the embedding router, retrieval from the embedded store, the extractive
composer, scoring, the decision, the SQL of an embedded database) runs one turn at a time across the process's
concurrent turns. Turns share one interpreter lock and one model, so interleaving them only stretched every turn:
under 50 simulated customers the p95 turn was 100 ms with two turns' computations interleaved and 70 ms with
them queued. Waits on a network (tool calls to a CRM or ERP, an LLM router or composer) step out of the queue,
so those waits overlap.

Two grains use the one queue:

- :func:`timed` nodes hold it while they compute (and step out of it while they wait, ``compute=False``);
- a service holds it for a whole turn with :func:`compute_slot`, so a turn's uncounted work between nodes (the
  graph's bookkeeping, the checkpoint, storing the reply) is queued too: a turn that starts finishes before the
  next one starts, instead of every turn under load sharing the interpreter and all finishing late.

The queue is held per turn and re-entrantly: a node inside a held slot does not take it again, nor does work the
turn hands to another thread with its context.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = ["compute_slot", "network_wait", "timed"]

F = TypeVar("F", bound=Callable[..., dict[str, Any]])


class _ComputeQueue:
    """One lock, held re-entrantly per turn, that a holder can step out of while it waits on a network.

    Who holds it is a context variable, not a thread-local: work a turn hands to another thread with a copy of
    its context (LangGraph runs parallel branches that way) counts as the turn's own and does not queue behind
    the turn that is waiting for it, which would deadlock. Only the thread that took the lock steps out of it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: ContextVar[bool] = ContextVar("grounddesk_compute_held", default=False)
        self._owner: int | None = None

    def held(self) -> bool:
        """Whether the calling turn holds the queue."""
        return self._held.get()

    def locked(self) -> bool:
        """Whether any turn holds the queue."""
        return self._lock.locked()

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self._held.get():
            yield
            return
        self._lock.acquire()
        self._owner = threading.get_ident()
        token = self._held.set(True)
        try:
            yield
        finally:
            self._held.reset(token)
            self._owner = None
            self._lock.release()

    @contextmanager
    def step_out(self) -> Iterator[None]:
        if not self._held.get() or self._owner != threading.get_ident():
            yield
            return
        self._owner = None
        self._lock.release()
        token = self._held.set(False)
        try:
            yield
        finally:
            self._held.reset(token)
            self._lock.acquire()
            self._owner = threading.get_ident()


_COMPUTE = _ComputeQueue()


def compute_slot() -> AbstractContextManager[None]:
    """Hold the compute queue for a block (a whole turn); re-entrant within the turn (its context)."""
    return _COMPUTE.hold()


def network_wait() -> AbstractContextManager[None]:
    """Step out of the compute queue for a block that waits on a network; a no-op when not holding it."""
    return _COMPUTE.step_out()


def timed(name: str, *, compute: bool = True) -> Callable[[F], F]:
    """Add ``{name: milliseconds}`` to the node's update; ``compute``: the node only computes (see above)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def node(*args: Any, **kwargs: Any) -> dict[str, Any]:
            started = time.perf_counter()
            with _COMPUTE.hold() if compute else _COMPUTE.step_out():
                update = fn(*args, **kwargs)
            update.setdefault("timings", {})
            update["timings"] = {**update["timings"], name: (time.perf_counter() - started) * 1000.0}
            return update

        return node  # type: ignore[return-value]

    return wrap
