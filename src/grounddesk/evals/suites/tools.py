"""The tools suite: does the agent reach for the right tool first, and verify the customer before account tools?

**tau2-banking.** The gold trajectory's first *agent* action (``requestor == "assistant"``) is mapped to what
grounddesk does in its place (:data:`TAU2_TO_GROUNDDESK`); the agent's first step on the task's first customer
message is read the same way (:func:`observed_step`) and the two are compared. tau2's bank has tools grounddesk
has no counterpart for (the knowledge-base "discoverable" tools, card applications, transactions): tasks whose
first gold agent action is one of them are reported as ``unmapped``, never failed. A task whose gold actions are
all the customer's own (``requestor == "user"``) expects the agent to answer without a tool (``none``).

**golden** (or a team's file): the cases with ``expected_tool`` — the tool the agent proposed (the tool it ran, the
pending write, or the tool its route names while it asks to verify) must be that tool.

**Verification, on every case run.** An unverified customer who reaches an account-specific tool must be asked
to verify (``clarify`` with ``verify_identity``, or ``verification_failed``) and the tool must not run:
``verification.rate`` is the share of such turns (not handed to a person first) where that happened;
``unverified_account_tool_runs`` counts account-specific tool runs without a verified identity (the tier gate
makes it 0; the gate holds it there).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from grounddesk.evals.adapters import tau2_cases
from grounddesk.evals.case import Case
from grounddesk.evals.harness import TurnRecord
from grounddesk.evals.runner import EvalContext, SuiteResult
from grounddesk.evals.suites._common import agent_turns, golden_dataset, rounded

__all__ = [
    "TAU2_TO_GROUNDDESK",
    "ToolsSuite",
    "gold_step",
    "observed_step",
    "score_tau2_first_tool",
    "score_verification",
]

TAU2_TO_GROUNDDESK: dict[str, str] = {
    # tau2 logs a verification record once it has checked the customer; grounddesk asks the unverified customer
    # to verify before any account tool (clarify ``verify_identity``) or looks them up by email.
    "log_verification": "verify_identity",
    "get_user_information_by_id": "lookup_customer",
    "get_user_information_by_email": "lookup_customer",
    "get_user_information_by_name": "lookup_customer",
    # a hand-over to a person is grounddesk's escalate decision (any reason)
    "transfer_to_human_agents": "handoff",
}
"""tau2 banking agent tools -> grounddesk's step in their place. Every other tau2 tool is unmapped."""

NO_TOOL = "none"
UNMAPPED = "unmapped"
_VERIFY_REASONS = ("verify_identity", "verification_failed")
_TOOL_ESCALATIONS = ("approval_required", "tool_failure")


def gold_step(case: Case) -> str:
    """The grounddesk step the task's first gold agent action maps to: a step, ``none`` or ``unmapped``."""
    actions = list(case.metadata.get("gold_agent_actions") or [])
    if not actions:
        return NO_TOOL
    return TAU2_TO_GROUNDDESK.get(str(actions[0]), UNMAPPED)


def observed_step(record: TurnRecord) -> str:
    """The agent's first step on a turn: ``verify_identity``, a tool name, ``handoff`` or ``none``.

    An escalation is a hand-over unless the tool is what went to the person (``approval_required``) or failed
    (``tool_failure``): a sensitive topic or a request for a person hands over before any tool runs.
    """
    if record.reason in _VERIFY_REASONS:
        return "verify_identity"
    if record.decision == "escalate" and record.reason not in _TOOL_ESCALATIONS:
        return "handoff"
    if record.tool:
        return record.tool
    return NO_TOOL


def score_tau2_first_tool(pairs: list[tuple[Case, TurnRecord]]) -> dict[str, Any]:
    """First-step accuracy on the mapped tasks, per gold step, and the unmapped tasks' gold tools."""
    by_gold: dict[str, dict[str, Any]] = {}
    unmapped: Counter[str] = Counter()
    right = mapped = 0
    for case, record in pairs:
        gold = gold_step(case)
        if gold == UNMAPPED:
            unmapped[str(case.metadata["gold_agent_actions"][0])] += 1
            continue
        seen = observed_step(record)
        mapped += 1
        right += seen == gold
        row = by_gold.setdefault(gold, {"support": 0, "correct": 0, "observed": Counter()})
        row["support"] += 1
        row["correct"] += seen == gold
        row["observed"][seen] += 1
    return {
        "tasks": len(pairs),
        "mapped": mapped,
        "unmapped": sum(unmapped.values()),
        "unmapped_gold_tools": dict(unmapped.most_common()),
        "first_tool_accuracy": rounded(right / mapped) if mapped else 0.0,
        "by_gold_step": {
            g: {
                "support": r["support"],
                "accuracy": rounded(r["correct"] / r["support"]),
                "observed": dict(r["observed"]),
            }
            for g, r in sorted(by_gold.items())
        },
        "mapping": dict(TAU2_TO_GROUNDDESK),
    }


def score_verification(pairs: list[tuple[Case, TurnRecord]]) -> dict[str, Any]:
    """Of the turns where an unverified customer reached an account tool, the share asked to verify first.

    Turns handed to a person before any tool could run (a sensitive topic, a request for a person) are left out:
    no tool runs there, and no verification is owed. ``unverified_account_tool_runs`` counts the tool runs of
    account-specific tools without a verified customer on any turn.
    """
    reached = [(c, r) for c, r in pairs if not c.verified and r.account_tool and observed_step(r) != "handoff"]
    asked = sum(1 for _, r in reached if r.reason in _VERIFY_REASONS)
    unverified_runs = sum(r.unverified_account_runs for _, r in pairs)
    return {
        "account_tool_turns_unverified": len(reached),
        "asked_to_verify": asked,
        "rate": rounded(asked / len(reached)) if reached else 1.0,
        "unverified_account_tool_runs": unverified_runs,
    }


class ToolsSuite:
    """First tool against the gold trajectory (tau2, mapped) or ``expected_tool`` (golden); verification first."""

    name = "tools"
    datasets: tuple[str, ...] = ("tau2-banking", "golden")
    description = "The first tool the agent reaches for, and identity verification before account tools."

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Run the cases and score the first step and the verification rule."""
        if ctx.dataset == "tau2-banking":
            knowledge, cases = "tau2-banking", tau2_cases(ctx.data_dir, ctx.quick_ids("tau2-banking"))
            key = "tau2-banking"
        else:
            knowledge, dataset = golden_dataset(ctx)
            cases, key = dataset.cases, f"golden:{dataset.name}"
        # The same turns the escalation suite ran (memoised per eval run): a tool call is part of each record.
        records = agent_turns(ctx, knowledge, cases, key)
        pairs = list(zip(cases, records, strict=True))
        metrics: dict[str, Any] = {"dataset": ctx.dataset}
        headline: list[str]
        if ctx.dataset == "tau2-banking":
            metrics.update(score_tau2_first_tool(pairs))
            headline = ["first_tool_accuracy", "verification.rate", "verification.unverified_account_tool_runs"]
        else:
            scored = [(c, r) for c, r in pairs if c.expected_tool is not None]
            right = sum(1 for c, r in scored if r.tool == c.expected_tool)
            metrics.update(
                cases=len(scored),
                first_tool_accuracy=rounded(right / len(scored)) if scored else 0.0,
                misses=[
                    {"case": c.id, "expected": c.expected_tool, "got": r.tool}
                    for c, r in scored
                    if r.tool != c.expected_tool
                ],
            )
            headline = ["first_tool_accuracy", "verification.rate", "verification.unverified_account_tool_runs"]
        metrics["verification"] = score_verification(pairs)
        return SuiteResult(suite=self.name, dataset=ctx.dataset, metrics=metrics, headline=headline)
