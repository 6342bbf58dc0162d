"""The consistency suite: the same case run k times; pass^k and the share of cases with identical outcomes.

A run of a case passes when the turn does what the case expects (:func:`~grounddesk.evals.suites._common.case_passes`:
decision, reason, a cited expected document, the tool). ``pass^k`` is tau-bench's: the chance that k runs of a
case all pass, averaged over cases; ``consistency`` is the share of cases whose k outcomes (decision, reason,
cited documents, tool) are identical. With the extractive composer and the embedding router the agent is
deterministic and ``consistency`` should be 1.0 (``pass^k`` then equals ``pass^1``); it means something with an
LLM configured.
"""

from __future__ import annotations

from typing import Any

from grounddesk.evals.adapters import mtrag_cases
from grounddesk.evals.case import Case
from grounddesk.evals.harness import TurnRecord
from grounddesk.evals.metrics import pass_hat_k
from grounddesk.evals.runner import EvalContext, SuiteResult
from grounddesk.evals.suites._common import case_passes, golden_dataset, rounded

__all__ = ["ConsistencySuite", "consistency_figures", "outcome_signature"]


def outcome_signature(record: TurnRecord) -> tuple[str, str | None, tuple[str, ...], str | None]:
    """What must not change between runs of the same case."""
    return (record.decision, record.reason, tuple(record.cited), record.tool)


def consistency_figures(cases: list[Case], runs: list[list[TurnRecord]]) -> dict[str, Any]:
    """pass^1, pass^k and consistency of ``runs[i]`` (the k records of ``cases[i]``)."""
    k = len(runs[0]) if runs else 0
    successes = [sum(case_passes(c, r) for r in rs) for c, rs in zip(cases, runs, strict=True)]
    stable = [len({outcome_signature(r) for r in rs}) == 1 for rs in runs]
    return {
        "k": k,
        "cases": len(cases),
        "pass^1": rounded(pass_hat_k(successes, k, 1)) if k else 0.0,
        "pass^k": rounded(pass_hat_k(successes, k, k)) if k else 0.0,
        "consistency": rounded(sum(stable) / len(stable)) if stable else 0.0,
        "unstable_cases": [c.id for c, ok in zip(cases, stable, strict=True) if not ok][:20],
        "failing_cases": [c.id for c, n in zip(cases, successes, strict=True) if n < k][:20],
    }


class ConsistencySuite:
    """pass^k over k runs of each case."""

    name = "consistency"
    datasets: tuple[str, ...] = ("golden", "mtrag")
    description = "The same case run k times: pass^k and identical outcomes."

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Run every case k times (3 in quick mode, 5 otherwise), each in a fresh conversation."""
        k = 3 if ctx.quick else 5
        if ctx.dataset == "mtrag":
            knowledge = "mtrag"
            cases = ctx.sample(mtrag_cases(ctx.data_dir, ctx.quick_ids("mtrag")), 10, 40, what="mtrag cases")
        else:
            knowledge, dataset = golden_dataset(ctx)
            cases = dataset.cases
        runs: list[list[TurnRecord]] = [[] for _ in cases]
        with ctx.harness(knowledge) as harness:
            for round_ in range(k):
                for i, case in enumerate(cases):
                    runs[i].append(harness.run(case))
                    ctx.tick(round_ * len(cases) + i + 1, k * len(cases), f"consistency runs ({ctx.dataset})")
        metrics: dict[str, Any] = {
            "dataset": ctx.dataset,
            "mode": "llm" if ctx.settings.llm.enabled else "extractive",
            **consistency_figures(cases, runs),
        }
        return SuiteResult(
            suite=self.name, dataset=ctx.dataset, metrics=metrics, headline=["pass^1", "pass^k", "consistency"]
        )
