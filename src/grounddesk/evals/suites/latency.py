"""The latency suite: p50, p95 and p99 of whole turns and of each graph node, on the real agent.

The cases of the dataset (the packaged golden set on the demo help centre by default, or MTRAG-UN's last turns
on its passages) are run ``passes`` times in fresh conversations; the first few turns warm caches up and are not
counted. Node times are what each node records in the turn's ``timings_ms``; a turn's time is the wall time of
``Agent.turn`` (checkpoint reads and writes included). Figures depend on the machine and its load: they are
reported, and gated only loosely.
"""

from __future__ import annotations

from typing import Any

from grounddesk.evals.adapters import mtrag_cases
from grounddesk.evals.case import Case
from grounddesk.evals.harness import TurnRecord
from grounddesk.evals.metrics import mean, percentile
from grounddesk.evals.runner import EvalContext, SuiteResult
from grounddesk.evals.suites._common import golden_dataset, rounded

__all__ = ["LatencySuite", "latency_figures"]

_WARMUP = 3


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": rounded(percentile(values, 50), 2),
        "p95": rounded(percentile(values, 95), 2),
        "p99": rounded(percentile(values, 99), 2),
        "mean": rounded(mean(values), 2),
        "max": rounded(max(values), 2),
    }


def latency_figures(records: list[TurnRecord]) -> dict[str, Any]:
    """Percentiles of turn time and of each node's time over ``records`` (a node counts where it ran)."""
    if not records:
        return {"turns": 0, "turn_ms": {}, "nodes": {}}
    nodes: dict[str, list[float]] = {}
    for record in records:
        for node, ms in record.timings_ms.items():
            nodes.setdefault(node, []).append(ms)
    return {
        "turns": len(records),
        "turn_ms": _summary([r.total_ms for r in records]),
        "nodes": {n: {"turns": len(v), **_summary(v)} for n, v in sorted(nodes.items())},
    }


class LatencySuite:
    """Turn and per-node latency percentiles."""

    name = "latency"
    datasets: tuple[str, ...] = ("golden", "mtrag")
    description = "p50/p95/p99 per node and per turn."

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Run the cases ``passes`` times and summarise the timings."""
        cases: list[Case]
        if ctx.dataset == "mtrag":
            knowledge = "mtrag"
            cases = ctx.sample(mtrag_cases(ctx.data_dir, ctx.quick_ids("mtrag")), 20, 100, what="mtrag turns")
            passes = 1
        else:
            knowledge, dataset = golden_dataset(ctx)
            cases = dataset.cases
            passes = 2 if ctx.quick else 4
        records: list[TurnRecord] = []
        total = len(cases) * passes
        with ctx.harness(knowledge) as harness:
            for p in range(passes):
                for i, case in enumerate(cases, start=1):
                    records.append(harness.run(case))
                    ctx.tick(p * len(cases) + i, total, f"latency turns ({ctx.dataset})")
        measured = records[_WARMUP:] if len(records) > _WARMUP else records
        metrics = {"dataset": ctx.dataset, "passes": passes, "warmup_turns": len(records) - len(measured)}
        metrics.update(latency_figures(measured))
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics=metrics,
            headline=["turn_ms.p50", "turn_ms.p95", "turn_ms.p99"],
            artifacts={"turn_ms": [r.total_ms for r in measured]},
        )
