"""Node timing and the compute queue: computing nodes run one at a time, nodes that wait on networks do not."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from grounddesk.agent.nodes import _timing
from grounddesk.agent.nodes._timing import compute_slot, network_wait, timed


def test_a_computing_node_holds_the_compute_queue_and_records_its_time() -> None:
    seen: list[bool] = []

    @timed("score")
    def score(_state: Any) -> dict[str, Any]:
        seen.append(_timing._COMPUTE.locked())
        return {"confidence": 0.5}

    update = score({})
    assert seen == [True] and not _timing._COMPUTE.locked()
    assert update["confidence"] == 0.5 and update["timings"]["score"] >= 0.0


def test_a_node_that_waits_on_a_network_leaves_the_queue_free() -> None:
    seen: list[bool] = []

    @timed("act", compute=False)
    def act(_state: Any) -> dict[str, Any]:
        seen.append(_timing._COMPUTE.locked())
        return {}

    act({})
    assert seen == [False]


def test_a_failing_node_gives_the_queue_back() -> None:
    @timed("guard")
    def guard(_state: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        guard({})
    assert not _timing._COMPUTE.locked()


def test_a_turn_slot_queues_whole_turns_and_its_nodes_do_not_take_it_twice() -> None:
    seen: list[tuple[bool, bool]] = []

    @timed("score")
    def score(_state: Any) -> dict[str, Any]:
        seen.append((_timing._COMPUTE.held(), _timing._COMPUTE.locked()))
        return {}

    with compute_slot():  # a non-reentrant hold would deadlock here
        score({})
        assert _timing._COMPUTE.held()
    assert seen == [(True, True)] and not _timing._COMPUTE.locked()


def test_a_network_wait_inside_a_turn_lets_another_turn_compute_meanwhile() -> None:
    inside = threading.Event()
    other_ran = threading.Event()

    @timed("act", compute=False)
    def act(_state: Any) -> dict[str, Any]:
        inside.set()
        assert other_ran.wait(10)  # another thread got the queue while this one waits on its network
        return {}

    def other() -> None:
        assert inside.wait(10)
        with compute_slot():
            other_ran.set()

    thread = threading.Thread(target=other)
    thread.start()
    with compute_slot():
        act({})
        assert _timing._COMPUTE.held()  # back in the queue once the wait is over
    thread.join(10)
    assert other_ran.is_set() and not _timing._COMPUTE.locked()


def test_network_wait_outside_a_slot_changes_nothing() -> None:
    with network_wait():
        assert not _timing._COMPUTE.locked()


def test_work_a_turn_hands_to_another_thread_with_its_context_does_not_queue_behind_it() -> None:
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    @timed("retrieve")
    def retrieve(_state: Any) -> dict[str, Any]:
        return {"hits": []}

    with ThreadPoolExecutor(1) as pool, compute_slot():
        # As LangGraph runs parallel branches: the turn waits for a branch that computes in another thread.
        branch = pool.submit(contextvars.copy_context().run, retrieve, {})
        assert branch.result(timeout=10)["hits"] == []  # a per-thread hold would deadlock here
    assert not _timing._COMPUTE.locked()
