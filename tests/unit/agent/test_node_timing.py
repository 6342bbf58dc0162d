"""Node timing and the compute queue: computing nodes run one at a time, nodes that wait on networks do not."""

from __future__ import annotations

from typing import Any

import pytest

from grounddesk.agent.nodes import _timing
from grounddesk.agent.nodes._timing import timed


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
