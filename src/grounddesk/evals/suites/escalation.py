"""The escalation suite: precision, recall and F1 of the agent's escalate decision against gold labels.

Gold positives (the agent should hand the turn to a person), from each source:

- ``mtrag``: UNANSWERABLE tasks (their gold reason row is ``unanswerable``); ANSWERABLE, PARTIAL and
  UNDERSPECIFIED tasks are negatives (answer, or ask to clarify).
- ``tau2-banking``: tasks whose gold actions include ``transfer_to_human_agents`` (the row is the transfer's
  ``reason`` argument when the task gives one, else ``transfer``); the others are negatives. Only the first
  customer message is run (:func:`grounddesk.evals.adapters.tau2_first_message`): a transfer the gold
  trajectory makes after several turns is still counted, so recall here is a lower bound.
- ``garak``: Do-Not-Answer prompts of the ``human_chatbox`` kind (self-harm, medical, mental health,
  over-reliance): all positives (row ``human_chatbox``), so they move recall only.
- ``golden`` or a team's file: cases whose ``expected_decision`` is escalate (row: ``expected_reason``).

Every case runs through the real agent. Reported: pooled and per-source precision, recall and F1, the
decisions per source, and the confusion matrix of gold reason (rows, ``no_escalation`` for negatives) by the
agent's outcome (columns: ``answer``, ``clarify`` or the escalation reason).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from grounddesk.evals.adapters import garak_cases, mtrag_cases, tau2_cases
from grounddesk.evals.case import Case
from grounddesk.evals.harness import TurnRecord
from grounddesk.evals.metrics import precision_recall_f1
from grounddesk.evals.runner import EvalContext, SuiteResult
from grounddesk.evals.suites._common import agent_turns, golden_dataset, is_golden, rounded

__all__ = ["EscalationSuite", "gold_row", "outcome_column", "score_escalation"]

_SOURCES = ("mtrag", "tau2-banking", "garak", "golden")
NO_ESCALATION = "no_escalation"


def gold_row(source: str, case: Case) -> str | None:
    """The gold reason row of a case (``no_escalation`` for a negative); None when the case has no label."""
    if source == "mtrag":
        return "unanswerable" if case.metadata.get("answerability") == "UNANSWERABLE" else NO_ESCALATION
    if source == "tau2-banking":
        if case.metadata.get("transfer"):
            return str(case.metadata.get("transfer_reason") or "transfer")
        return NO_ESCALATION
    if source == "garak":
        return "human_chatbox" if case.metadata.get("category") == "human_chatbox" else None
    if case.expected_decision is None:
        return None
    return (case.expected_reason or "escalate") if case.expected_decision == "escalate" else NO_ESCALATION


def outcome_column(record: TurnRecord) -> str:
    """The agent's outcome as a confusion-matrix column."""
    if record.decision == "escalate":
        return str(record.reason or "escalate")
    return record.decision


def score_escalation(labelled: list[tuple[str, Case, TurnRecord]]) -> dict[str, Any]:
    """Precision, recall, F1 (pooled and per source), decisions and the confusion matrix by reason.

    Args:
        labelled: ``(source, case, record)`` triples; cases without a gold label are skipped.
    """
    rows: list[tuple[str, str, bool, str]] = []  # source, gold row, predicted escalate, column
    for source, case, record in labelled:
        row = gold_row(source, case)
        if row is not None:
            rows.append((source, row, record.decision == "escalate", outcome_column(record)))
    pooled = precision_recall_f1([p for _, _, p, _ in rows], [g != NO_ESCALATION for _, g, _, _ in rows])
    by_source: dict[str, Any] = {}
    decisions: dict[str, dict[str, int]] = {}
    for source in dict.fromkeys(s for s, _, _, _ in rows):
        mine = [r for r in rows if r[0] == source]
        prf = precision_recall_f1([p for _, _, p, _ in mine], [g != NO_ESCALATION for _, g, _, _ in mine])
        by_source[source] = {
            **_rounded(prf),
            "cases": len(mine),
            "positives": sum(1 for _, g, _, _ in mine if g != NO_ESCALATION),
        }
        decisions[source] = dict(Counter(c if c in ("answer", "clarify") else "escalate" for *_, c in mine))
    confusion: dict[str, dict[str, int]] = {}
    for _, row, _, column in rows:
        confusion.setdefault(row, {})
        confusion[row][column] = confusion[row].get(column, 0) + 1
    return {
        "cases": len(rows),
        "positives": sum(1 for _, g, _, _ in rows if g != NO_ESCALATION),
        "pooled": _rounded(pooled),
        "by_source": by_source,
        "decisions": decisions,
        "confusion": {r: dict(sorted(c.items(), key=lambda kv: -kv[1])) for r, c in sorted(confusion.items())},
    }


def _rounded(prf: dict[str, float | int]) -> dict[str, float | int]:
    return {k: rounded(v) if isinstance(v, float) else v for k, v in prf.items()}


class EscalationSuite:
    """Escalation precision, recall and F1 against gold labels, with the confusion matrix by reason."""

    name = "escalation"
    datasets: tuple[str, ...] = ("all", *_SOURCES)
    description = "Does the agent hand over exactly the turns a person should take?"

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Run the cases of ``ctx.dataset`` (``all``: every source) through the agent and score them."""
        sources = _SOURCES if ctx.dataset == "all" else (ctx.dataset,)
        labelled: list[tuple[str, Case, TurnRecord]] = []
        for source in sources:
            knowledge, cases, key = self._cases(ctx, source)
            records = agent_turns(ctx, knowledge, cases, key)
            label = "golden" if is_golden(source) else source
            labelled.extend((label, c, r) for c, r in zip(cases, records, strict=True))
        metrics = {"dataset": ctx.dataset, **score_escalation(labelled)}
        headline = ["pooled.precision", "pooled.recall", "pooled.f1"]
        headline += [f"by_source.{s}.f1" for s in metrics["by_source"] if s != "garak"]
        if "garak" in metrics["by_source"]:
            headline.append("by_source.garak.recall")
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics=metrics,
            headline=headline,
            artifacts={"confusion": metrics["confusion"]},
        )

    @staticmethod
    def _cases(ctx: EvalContext, source: str) -> tuple[str, list[Case], str]:
        if source == "mtrag":
            return "mtrag", mtrag_cases(ctx.data_dir, ctx.quick_ids("mtrag")), "mtrag"
        if source == "tau2-banking":
            return "tau2-banking", tau2_cases(ctx.data_dir, ctx.quick_ids("tau2-banking")), "tau2-banking"
        if source == "garak":
            chatbox = [
                c for c in garak_cases(ctx.data_dir, ("do_not_answer",)) if c.metadata["category"] == "human_chatbox"
            ]
            return "demo", ctx.sample(chatbox, 20, what="garak human_chatbox prompts"), "garak-chatbox"
        knowledge, dataset = golden_dataset(ctx.for_dataset(source) if source == "golden" else ctx)
        return knowledge, dataset.cases, f"golden:{dataset.name}"
