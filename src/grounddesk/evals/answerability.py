"""The answerability eval: does the agent answer what it can and decline what it cannot, and is it calibrated?

For every MTRAG-UN task: retrieve (hybrid, public audience) over the pooled passages, indexed through the
knowledge base exactly as the retrieval eval does; compose an extractive answer; score its confidence; decide
(answer at or above the answer threshold; below it, ask to clarify when the question leans on something never
named, else escalate). Figures: AUROC of the confidence separating ANSWERABLE from UNANSWERABLE tasks, ECE
(10 equal-width bins) against the label "the answer cites a gold passage" (0 for every UNANSWERABLE task),
the share of ANSWERABLE tasks answered and of UNANSWERABLE ones declined, and the decisions per class.

Fitting the calibration on the data it is scored on flatters it, so the headline figures are cross-validated
(5 folds by conversation: each task is scored by a model fitted without its conversation); the in-sample
figures (fitted on all tasks) and those of the calibration file in use are reported beside them.
"""

from __future__ import annotations

import ast
import hashlib
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from grounddesk.agent.calibration import (
    DEFAULT_L2,
    CalibrationFile,
    cross_validated_probabilities,
    fit_model,
    load_calibration,
)
from grounddesk.agent.compose import CachedEmbedder, ExtractiveComposer
from grounddesk.agent.confidence import DEFAULT_PRIORS, FITTED_FEATURES, ConfidenceModel, ConfidenceScorer
from grounddesk.agent.types import DecisionKind
from grounddesk.config import Settings
from grounddesk.evals.datasets import RetrievalDataset, load_retrieval_dataset, read_jsonl
from grounddesk.evals.metrics import auroc, expected_calibration_error
from grounddesk.evals.retrieval import open_eval_knowledge_base
from grounddesk.knowledge.service import ProgressFn
from grounddesk.knowledge.sparse import tokenize
from grounddesk.knowledge.types import Embedder

__all__ = [
    "CLASSES",
    "Case",
    "QueryFn",
    "Thresholds",
    "calibration_from_cases",
    "choose_threshold",
    "collect_cases",
    "last_user_turn",
    "query_name",
    "rewritten_query",
    "run_answerability_eval",
    "with_previous_user_turn",
]

CLASSES = ("ANSWERABLE", "UNANSWERABLE", "UNDERSPECIFIED", "PARTIAL")
LABEL = "the answer cites a gold passage (qrels or reference passages); 0 for UNANSWERABLE tasks"
QueryFn = Callable[[Mapping[str, Any]], str]

_FOLDS = 5
_TARGET_ANSWERED = 0.80
_TARGET_DECLINED = 0.85
_REFERENT = re.compile(r"\b(this|that|these|those)\s+([a-z][a-z'-]+)", re.IGNORECASE)


class Thresholds(BaseModel):
    """How confidence turns into a decision."""

    answer: float | None = Field(default=None, ge=0, le=1, description="None: the calibration file's threshold")
    clarify: bool = Field(
        default=True, description="Below the threshold, ask to clarify questions that lean on an unnamed thing"
    )


class Case(BaseModel):
    """One task run through retrieve, compose and the confidence features."""

    task_id: str
    conversation: str
    answerability: str
    collection: str
    query: str
    message: str
    history: list[str] = Field(default_factory=list)
    features: dict[str, float]
    label: int
    cited: list[str]
    answer: str


def query_name(query_fn: QueryFn | None) -> str:
    """The name recorded for a query function (the default is the agent's rewriter)."""
    return getattr(query_fn, "__name__", "custom") if query_fn is not None else "rewritten_query"


def _history(task: Mapping[str, Any]) -> list[dict[str, str]]:
    value = task.get("history")
    if isinstance(value, str) and value.strip():
        value = ast.literal_eval(value)
    return [h for h in value or [] if isinstance(h, dict)]


def last_user_turn(task: Mapping[str, Any]) -> str:
    """The query as the customer typed it: the last user turn (the default)."""
    return str(task["last_user_turn"])


def rewritten_query(task: Mapping[str, Any]) -> str:
    """The query the agent searches with: the last user turn, rewritten to stand alone when it is a follow-up."""
    from grounddesk.agent.rewrite import rewrite_followup

    history = [(str(h.get("speaker", "")), str(h.get("text", ""))) for h in _history(task)]
    return rewrite_followup(str(task["last_user_turn"]), history)


def with_previous_user_turn(task: Mapping[str, Any]) -> str:
    """A crude stand-in for a follow-up rewriter: the previous user turn joined with the last one."""
    earlier = [h["text"] for h in _history(task) if h.get("speaker") == "user"]
    return " ".join([*earlier[-1:], str(task["last_user_turn"])])


def _leans_on_unnamed(message: str, history: Sequence[str]) -> bool:
    """A demonstrative whose noun the conversation never named ("this library", "that mission")."""
    named = set(tokenize(" ".join(history)))
    for match in _REFERENT.finditer(message):
        terms = tokenize(match.group(2))  # empty for a stop word ("this is", "that was")
        if terms and terms[0] not in named:
            return True
    return False


def _tasks(data_dir: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(data_dir / "mtrag_un" / "eval_view.jsonl"))


def collect_cases(
    data_dir: Path,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
    query_fn: QueryFn | None = None,
    dataset: RetrievalDataset | None = None,
    task_ids: Collection[str] | None = None,
) -> list[Case]:
    """Retrieve, compose and compute the confidence features of every MTRAG-UN task.

    Args:
        data_dir: A folder laid out like ``../shared/data``.
        settings: Knowledge-base settings; the index lives under ``<home>/evals/mtrag-<key>``.
        embedder: Reuse a loaded embedder.
        progress: Called as ``progress(done, total, label)``.
        query_fn: Turns a task record into the retrieval query (default :func:`rewritten_query`, the agent's
            own follow-up rewriter, so the features match what the agent computes at run time).
        dataset: The passages and qrels (default: all of MTRAG-UN; the quick eval passes a subset).
        task_ids: Only these tasks (default: all).
    """
    from grounddesk.wiring import build_embedder

    cfg = settings or Settings()
    tasks = _tasks(data_dir)
    if task_ids is not None:
        wanted = set(task_ids)
        tasks = [t for t in tasks if t["task_id"] in wanted]
    dataset = dataset or load_retrieval_dataset("mtrag", data_dir)
    qrels = {q.id: q.relevant for q in dataset.queries}
    vectors = CachedEmbedder(embedder or build_embedder(cfg))
    composer = ExtractiveComposer(vectors)
    scorer = ConfidenceScorer(vectors, ConfidenceModel(_neutral_calibration()), composer.settings)
    to_query = query_fn or rewritten_query
    kb = open_eval_knowledge_base(dataset, cfg, vectors.inner, progress)
    cases: list[Case] = []
    try:
        for i, task in enumerate(tasks, start=1):
            message = str(task["last_user_turn"])
            query = to_query(task)
            hits = kb.search(query, audiences=["public"], top_k=cfg.search.top_k, mode="hybrid").hits
            qv = vectors.embed_query(query)
            draft = composer.compose(query, hits, query_vector=qv)
            features = scorer.features(query, hits, draft, message=message, query_vector=qv)
            kind = (task.get("answerability") or ["UNKNOWN"])[0]
            gold = set(qrels.get(task["task_id"], [])) | set(task.get("reference_passage_ids") or [])
            cited = [c.doc_id for c in draft.citations]
            cases.append(
                Case(
                    task_id=task["task_id"],
                    conversation=task["task_id"].split("<::>")[0],
                    answerability=kind,
                    collection=task.get("collection", ""),
                    query=query,
                    message=message,
                    history=[h["text"] for h in _history(task)],
                    features=features.model_dump(),
                    label=int(kind != "UNANSWERABLE" and any(d in gold for d in cited)),
                    cited=cited,
                    answer=draft.text,
                )
            )
            if progress:
                progress(i, len(tasks), "tasks")
    finally:
        kb.close()
    return cases


def _neutral_calibration() -> CalibrationFile:
    """A placeholder model for feature collection (its scores are never used)."""
    from grounddesk.agent.calibration import LinearModel

    model = LinearModel(features=["fused_top"], mean=[0.0], scale=[1.0], weights=[0.0], bias=0.0)
    return CalibrationFile(model=model)


def _rates(
    probs: Sequence[float], cases: Sequence[Case], threshold: float, clarify: bool
) -> tuple[list[DecisionKind], dict[str, Any]]:
    decisions: list[DecisionKind] = []
    for p, case in zip(probs, cases, strict=True):
        if p >= threshold:
            decisions.append("answer")
        elif clarify and _leans_on_unnamed(case.message, case.history):
            decisions.append("clarify")
        else:
            decisions.append("escalate")
    by_class: dict[str, dict[str, int]] = {c: {"answer": 0, "clarify": 0, "escalate": 0} for c in CLASSES}
    for d, case in zip(decisions, cases, strict=True):
        by_class.setdefault(case.answerability, {"answer": 0, "clarify": 0, "escalate": 0})[d] += 1
    answerable = by_class["ANSWERABLE"]
    unanswerable = by_class["UNANSWERABLE"]
    n_a, n_u = sum(answerable.values()), sum(unanswerable.values())
    sep = [
        (p, c.answerability == "ANSWERABLE")
        for p, c in zip(probs, cases, strict=True)
        if c.answerability in ("ANSWERABLE", "UNANSWERABLE")
    ]
    figures = {
        "auroc": round(auroc([p for p, _ in sep], [y for _, y in sep]), 4),
        "ece": round(expected_calibration_error(list(probs), [c.label for c in cases], bins=10), 4),
        "answered_rate_answerable": round(answerable["answer"] / n_a, 4) if n_a else 0.0,
        "declined_rate_unanswerable": round((n_u - unanswerable["answer"]) / n_u, 4) if n_u else 0.0,
        "by_class": by_class,
    }
    return decisions, figures


def choose_threshold(probs: Sequence[float], cases: Sequence[Case]) -> float:
    """The answer threshold that best balances answering ANSWERABLE and declining UNANSWERABLE tasks.

    Among thresholds meeting both targets (80% answered, 85% declined) the one with the best balanced accuracy
    wins; without any, the best balanced accuracy overall. The threshold sits midway between two neighbouring
    probabilities, so it does not hinge on one case.
    """
    pos = sorted(p for p, c in zip(probs, cases, strict=True) if c.answerability == "ANSWERABLE")
    neg = sorted(p for p, c in zip(probs, cases, strict=True) if c.answerability == "UNANSWERABLE")
    if not pos or not neg:
        return 0.5
    levels = sorted(set(probs))
    cuts = [(a + b) / 2 for a, b in zip(levels, levels[1:], strict=False)] or [levels[0]]
    best: tuple[bool, float, float] | None = None
    chosen = 0.5
    for t in cuts:
        answered = sum(p >= t for p in pos) / len(pos)
        declined = sum(p < t for p in neg) / len(neg)
        key = (answered >= _TARGET_ANSWERED and declined >= _TARGET_DECLINED, answered + declined, -abs(t - 0.5))
        if best is None or key > best:
            best, chosen = key, t
    return round(chosen, 4)


def _fingerprint(cases: Sequence[Case]) -> str:
    return hashlib.sha256("\n".join(f"{c.task_id}\t{c.query}" for c in cases).encode()).hexdigest()[:12]


def calibration_from_cases(
    cases: Sequence[Case],
    *,
    kind: Literal["platt", "isotonic"] = "platt",
    folds: int = _FOLDS,
    l2: float = DEFAULT_L2,
    query: str = "rewritten_query",
) -> CalibrationFile:
    """Cross-validate (to choose the threshold and record honest figures), then fit on every case."""
    features = [c.features for c in cases]
    labels = [c.label for c in cases]
    groups = [c.conversation for c in cases]
    probs = cross_validated_probabilities(
        features, labels, groups, FITTED_FEATURES, folds=folds, priors=DEFAULT_PRIORS, kind=kind, l2=l2
    )
    threshold = choose_threshold(probs, cases)
    _, cv = _rates(probs, cases, threshold, clarify=True)
    fitted = fit_model(features, labels, groups, FITTED_FEATURES, priors=DEFAULT_PRIORS, kind=kind, l2=l2)
    return fitted.model_copy(
        update={
            "answer_threshold": threshold,
            "fitted_on": {
                "dataset": "mtrag",
                "cases": len(cases),
                "label": LABEL,
                "query": query,
                "positives": sum(labels),
                "data_hash": _fingerprint(cases),
            },
            "metrics": {"cross_validated": {"folds": folds, "by": "conversation", **cv}},
        }
    )


def run_answerability_eval(
    data_dir: Path,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    thresholds: Thresholds | None = None,
    progress: ProgressFn | None = None,
    query_fn: QueryFn | None = None,
    calibration: CalibrationFile | None = None,
    folds: int = _FOLDS,
    dataset: RetrievalDataset | None = None,
    task_ids: Collection[str] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the answerability eval on MTRAG-UN.

    Args:
        data_dir: A folder laid out like ``../shared/data``.
        settings: Knowledge-base settings (the index is cached under the home).
        embedder: Reuse a loaded embedder.
        thresholds: The answer threshold (default: the calibration file's) and whether to ask to clarify.
        progress: Called as ``progress(done, total, label)``.
        query_fn: Turns a task into the retrieval query (default :func:`rewritten_query`).
        calibration: The calibration in use (default: the packaged file), reported under ``calibration_in_use``.
        folds: Cross-validation folds (by conversation).
        dataset: The passages and qrels (default: all of MTRAG-UN).
        task_ids: Only these tasks (default: all).
        details: When given, filled with the per-task figures behind the headline (``task_ids``, ``classes``,
            ``labels``, ``probabilities``, ``decisions``) for plots; the returned document does not change.

    Returns:
        ``{"dataset": "mtrag", "cases", "auroc", "ece", "answered_rate_answerable", "declined_rate_unanswerable",
        "by_class", "n", "thresholds", "label", "in_sample": {...}, "calibration_in_use": {...}, "took_s"}`` with
        the headline figures cross-validated.
    """
    started = time.perf_counter()
    limits = thresholds or Thresholds()
    in_use = calibration or load_calibration(None)
    threshold = limits.answer if limits.answer is not None else in_use.answer_threshold
    cases = collect_cases(
        data_dir,
        settings=settings,
        embedder=embedder,
        progress=progress,
        query_fn=query_fn,
        dataset=dataset,
        task_ids=task_ids,
    )
    features = [c.features for c in cases]
    labels = [c.label for c in cases]
    groups = [c.conversation for c in cases]
    cv_probs = cross_validated_probabilities(
        features, labels, groups, FITTED_FEATURES, folds=folds, priors=DEFAULT_PRIORS
    )
    decisions, headline = _rates(cv_probs, cases, threshold, limits.clarify)
    if details is not None:
        details.update(
            task_ids=[c.task_id for c in cases],
            classes=[c.answerability for c in cases],
            labels=[c.label for c in cases],
            probabilities=list(cv_probs),
            decisions=list(decisions),
            threshold=threshold,
        )
    full = fit_model(features, labels, groups, FITTED_FEATURES, priors=DEFAULT_PRIORS)
    _, in_sample = _rates([full.probability(f) for f in features], cases, threshold, limits.clarify)
    _, shipped = _rates([in_use.probability(f) for f in features], cases, threshold, limits.clarify)
    same_data = in_use.fitted_on.get("data_hash") == _fingerprint(cases)
    return {
        "dataset": "mtrag",
        "cases": len(cases),
        **headline,
        "n": {c: sum(1 for x in cases if x.answerability == c) for c in CLASSES},
        "thresholds": {"answer": threshold, "clarify": limits.clarify},
        "query": query_name(query_fn),
        "label": LABEL,
        "positives": sum(labels),
        "evaluation": f"cross-validated, {folds} folds by conversation",
        "cv_threshold": choose_threshold(cv_probs, cases),
        "in_sample": in_sample,
        "calibration_in_use": {"fitted_on_this_data": same_data, **shipped},
        "took_s": round(time.perf_counter() - started, 2),
    }
