"""Helpers the agent-driven suites share: running cases once per eval run, and judging a turn against a case."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grounddesk.evals.case import Case, Dataset, load_dataset
from grounddesk.evals.harness import TurnRecord
from grounddesk.evals.runner import EvalContext

__all__ = ["agent_turns", "case_passes", "golden_dataset", "is_golden", "rounded"]


def is_golden(dataset: str) -> bool:
    """``golden`` (the packaged example) or a path to a team's JSONL golden set."""
    return dataset == "golden" or dataset.endswith(".jsonl")


def golden_dataset(ctx: EvalContext) -> tuple[str, Dataset]:
    """The knowledge source and cases of a golden set.

    The packaged one runs on the demo help centre, a team's own file on the configured home's knowledge base.
    """
    if ctx.dataset == "golden":
        return "demo", load_dataset("golden")
    return "home", Dataset.from_jsonl(Path(ctx.dataset))


def agent_turns(ctx: EvalContext, knowledge: str, cases: Sequence[Case], key: str) -> list[TurnRecord]:
    """Each case run once through the real agent.

    Memoised per eval run under ``key``: the suites that need the same turns (escalation, groundedness) run them
    once.
    """

    def run() -> list[TurnRecord]:
        records: list[TurnRecord] = []
        with ctx.harness(knowledge) as harness:
            for i, case in enumerate(cases, start=1):
                records.append(harness.run(case))
                ctx.tick(i, len(cases), f"agent turns ({key})")
        return records

    ctx.note_playbook(knowledge)
    memo_key = f"turns:{key}:{len(cases)}"
    if ctx.has_memo(memo_key):
        ctx.notes.append(f"{key}: the {len(cases)} agent turns an earlier suite of this run made, reused")
    return ctx.memo(memo_key, run)


def case_passes(case: Case, record: TurnRecord) -> bool:
    """Whether a turn did what the case expects: the decision, reason, a cited expected document, the tool.

    Only the expectations the case states are checked; a case with none passes.
    """
    if case.expected_decision is not None and record.decision != case.expected_decision:
        return False
    if case.expected_reason is not None and record.reason != case.expected_reason:
        return False
    if case.expected_doc_ids and record.decision == "answer" and not set(case.expected_doc_ids) & set(record.cited):
        return False
    return case.expected_tool is None or record.tool == case.expected_tool


def rounded(value: float, digits: int = 4) -> float:
    """A figure as reported."""
    return round(float(value), digits)
