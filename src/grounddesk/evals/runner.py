"""The eval frame: the :class:`Evaluator` interface, the context suites share, and the runner.

A suite is an object with a ``name``, the ``datasets`` it accepts (the first is its default) and
``run(ctx) -> SuiteResult``. The runner gives every suite one :class:`EvalContext`: the data folder, the
settings under test, quick or full mode, a progress callback, and shared resources opened once per run (the
embedding model, cached knowledge indexes, agent harnesses in throwaway homes, and a memo so two suites that
need the same agent turns run them once).

Example:
    >>> ctx = EvalContext(data_dir=Path("../shared/data"), settings=Settings())
    >>> report = run_all(ctx, [("escalation", "golden"), ("latency", "golden")])
    >>> sorted(report.suites["escalation"]["golden"].metrics["pooled"])
    ['f1', 'fn', 'fp', 'precision', 'recall', 'tn', 'tp']
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, Field

from grounddesk.config import Settings
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.evals.datasets import RetrievalDataset
from grounddesk.evals.harness import AgentHarness
from grounddesk.knowledge.service import KnowledgeBase
from grounddesk.knowledge.types import Embedder

__all__ = [
    "EvalContext",
    "OPEN_DOMAIN_PLAYBOOK",
    "EvalReport",
    "Evaluator",
    "ProgressFn",
    "SuiteResult",
    "run_all",
    "run_suite",
]

logger = logging.getLogger(__name__)
OPEN_DOMAIN_PLAYBOOK = Path(__file__).resolve().parent / "examples" / "open_domain_playbook.yaml"
"""The playbook of the agent on the public sets' knowledge (see :meth:`EvalContext.harness`)."""
_OPEN_DOMAIN_ROUTER = {"playbook": OPEN_DOMAIN_PLAYBOOK, "oos_threshold": 0.0, "probability_weight": 1.0}
_QUICK_EVERY = {"mtrag": 5, "tau2-banking": 4}  # quick mode: every n-th task
_QUICK_DISTRACTORS = {"mtrag": 200, "tau2-banking": 100}  # documents kept beside the sampled tasks' relevant ones
ProgressFn = Callable[[int, int, str], None]
T = TypeVar("T")


class SuiteResult(BaseModel):
    """What one suite measured on one dataset.

    ``metrics`` is the suite's JSON document (for the suites that existed before the frame, exactly what their
    own command prints); ``headline`` names the paths into it shown in the report's summary; ``artifacts``
    holds plot data (not gated); ``notes`` says what was subsampled or skipped.
    """

    suite: str
    dataset: str
    metrics: dict[str, Any]
    headline: list[str] = Field(default_factory=list)
    artifacts: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    took_s: float = 0.0


@runtime_checkable
class Evaluator(Protocol):
    """One eval suite."""

    name: str
    datasets: tuple[str, ...]
    description: str

    def run(self, ctx: EvalContext) -> SuiteResult:
        """Measure ``ctx.dataset`` and return the figures."""
        ...


class EvalReport(BaseModel):
    """Everything one ``grounddesk eval all`` run measured (``report.json``)."""

    version: int = 1
    created_at: datetime
    mode: str = Field(description="full or quick")
    data_dir: str
    configuration: dict[str, Any] = Field(default_factory=dict)
    took_s: float = 0.0
    suites: dict[str, dict[str, SuiteResult]] = Field(default_factory=dict)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    baseline: dict[str, Any] | None = None
    gates: dict[str, Any] | None = None

    def results(self) -> list[SuiteResult]:
        """Every suite result, in run order."""
        return [r for by_dataset in self.suites.values() for r in by_dataset.values()]


@dataclass
class _Shared:
    """Resources opened once per run and closed by :meth:`EvalContext.close`."""

    embedder: Embedder | None = None
    raw: Embedder | None = None
    sentence_cache: Any = None
    knowledge: dict[str, KnowledgeBase] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)
    workdir: Path | None = None


@dataclass
class EvalContext:
    """What a suite gets: where the data is, what is evaluated, and the resources shared across suites.

    Args:
        data_dir: A folder laid out like ``../shared/data``.
        settings: The configuration under test; caches live under ``settings.home / "evals"``.
        dataset: The dataset the current suite runs on.
        quick: Small subsets (the CI eval) instead of the full sets.
        progress: Called as ``progress(done, total, label)``.
        embedder: Use this embedder instead of loading the configured model (tests pass a hashing one).
    """

    data_dir: Path
    settings: Settings
    dataset: str = ""
    quick: bool = False
    progress: ProgressFn | None = None
    embedder: Embedder | None = None
    _shared: _Shared = field(default_factory=_Shared)
    notes: list[str] = field(default_factory=list)

    def for_dataset(self, dataset: str) -> EvalContext:
        """The same context (same shared resources) for another dataset, with its own notes."""
        return replace(self, dataset=dataset, notes=[])

    def get_embedder(self) -> Embedder:
        """The embedding model, loaded once per run, behind a sentence-vector cache kept across runs.

        Answers, sources and checked sentences are embedded once: the vectors are kept in
        ``<home>/evals/agent-cache/sentences.sqlite`` (derived data, safe to delete; the agents the harness builds
        read the same file), so a second run embeds only what changed.
        """
        if self._shared.embedder is None:
            from grounddesk.agent.compose import CachedEmbedder
            from grounddesk.knowledge.sentence_cache import SentenceVectorCache

            cache = SentenceVectorCache(
                self.settings.home / "evals" / "agent-cache" / "sentences.sqlite",
                model_id=self.settings.embedding.model,
            )
            self._shared.sentence_cache = cache
            self._shared.embedder = CachedEmbedder(self.raw_embedder(), persistent=cache)
        return self._shared.embedder

    def raw_embedder(self) -> Embedder:
        """The embedding model itself (for bulk embeddings that keep their own cache, such as routing's)."""
        if self.embedder is not None:
            return self.embedder
        if self._shared.raw is None:
            from grounddesk.wiring import build_embedder

            self._shared.raw = build_embedder(self.settings)
        return self._shared.raw

    def knowledge(self, source: str | RetrievalDataset) -> KnowledgeBase:
        """An open knowledge base, opened once per suite.

        ``demo`` is the demo help centre, ``home`` the configured one, a public set's name (``mtrag``,
        ``tau2-banking``) its cached index (the quick subset in quick mode), or any :class:`RetrievalDataset`.
        """
        from grounddesk.evals.knowledge import home_knowledge, open_demo_knowledge, open_documents
        from grounddesk.evals.retrieval import open_eval_knowledge_base

        key = source if isinstance(source, str) else source.name
        if key in self._shared.knowledge:
            return self._shared.knowledge[key]
        if source == "demo":
            kb = open_demo_knowledge(self.settings, self.get_embedder(), self.progress)
        elif source == "home":
            kb = home_knowledge(self.settings, self.get_embedder())
        elif isinstance(source, RetrievalDataset):
            kb = open_documents(source.name, source.documents, self.settings, self.get_embedder(), self.progress)
        else:  # the same cached index the retrieval and answerability evals use
            data = self.retrieval_dataset(source)
            kb = open_eval_knowledge_base(data, self.settings, self.get_embedder(), self.progress)
        self._shared.knowledge[key] = kb
        return kb

    def retrieval_dataset(self, name: str) -> RetrievalDataset:
        """A public retrieval set (in quick mode, the subset of :meth:`quick_ids`), read once per run."""
        from grounddesk.evals.datasets import load_retrieval_dataset
        from grounddesk.evals.knowledge import subset_dataset

        def load() -> RetrievalDataset:
            data = load_retrieval_dataset(name, self.data_dir)
            ids = self.quick_ids(name)
            if ids is not None:
                data = subset_dataset(data, ids, _QUICK_DISTRACTORS.get(name, 100))
            return data

        return self.memo(f"retrieval-dataset:{name}:{self.quick}", load)

    def quick_ids(self, name: str) -> list[str] | None:
        """In quick mode, the task ids of ``mtrag`` / ``tau2-banking`` every quick suite uses; None in full mode."""
        if not self.quick or name not in _QUICK_EVERY:
            return None
        from grounddesk.evals.datasets import read_jsonl
        from grounddesk.evals.knowledge import every_nth

        def load() -> list[str]:
            if name == "mtrag":
                ids = [str(t["task_id"]) for t in read_jsonl(self.data_dir / "mtrag_un" / "eval_view.jsonl")]
            else:
                ids = [str(t["id"]) for t in read_jsonl(self.data_dir / "tau2_banking_knowledge" / "tasks.jsonl")]
            return every_nth(ids, _QUICK_EVERY[name])

        return self.memo(f"quick-ids:{name}", load)

    @contextmanager
    def harness(
        self, knowledge: str | RetrievalDataset, *, connectors: bool = True, canary: str | None = None
    ) -> Iterator[AgentHarness]:
        """The real agent on a knowledge source, in a fresh throwaway home.

        On the demo help centre and the home's knowledge the configured playbook is used. The public sets'
        knowledge (any other source) is not Northwind Outfitters': there the agent runs with the open-domain eval
        playbook (:data:`OPEN_DOMAIN_PLAYBOOK`, every question a knowledge question) and no out-of-scope
        rejection, so its figures measure answering and escalating, not a playbook written for another shop. Its
        router's certainty is the classifier's probability alone: the playbook's few generic examples say nothing
        about how close a question is to the knowledge (their similarity would only lower every confidence).
        """
        kb = self.knowledge(knowledge)
        settings = self.settings
        if self.note_playbook(knowledge):
            router = settings.router.model_copy(update=_OPEN_DOMAIN_ROUTER)
            settings = settings.model_copy(update={"router": router})
        if self._shared.workdir is None:
            self._shared.workdir = Path(tempfile.mkdtemp(prefix="grounddesk-eval-"))
        home = Path(tempfile.mkdtemp(prefix="agent-", dir=self._shared.workdir))
        with AgentHarness.open(
            settings, kb, embedder=self.get_embedder(), workdir=home, connectors=connectors, canary=canary
        ) as harness:
            yield harness

    def note_playbook(self, knowledge: str | RetrievalDataset) -> bool:
        """Whether the agent on ``knowledge`` runs with the open-domain eval playbook; if so, say it in the notes."""
        if isinstance(knowledge, str) and knowledge in ("demo", "home"):
            return False
        name = knowledge if isinstance(knowledge, str) else knowledge.name.split("-")[0]
        note = (
            f"agent on {name} knowledge: open-domain eval playbook (no out-of-scope rejection, router certainty "
            "= its probability)"
        )
        if note not in self.notes:
            self.notes.append(note)
        return True

    def has_memo(self, key: str) -> bool:
        """Whether :meth:`memo` already holds ``key``."""
        return key in self._shared.memo

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per run for ``key``; later calls (from any suite) get the same value."""
        if key not in self._shared.memo:
            self._shared.memo[key] = compute()
        value: T = self._shared.memo[key]
        return value

    def sample(self, items: Sequence[T], quick: int | None, full: int | None = None, *, what: str = "") -> list[T]:
        """Evenly spaced items: at most ``quick`` in quick mode, ``full`` otherwise (None: all); noted."""
        limit = quick if self.quick else full
        if limit is None or len(items) <= limit:
            return list(items)
        step = len(items) / limit
        chosen = [items[int(i * step)] for i in range(limit)]
        if what:
            self.notes.append(f"{what}: {limit} of {len(items)} (evenly spaced)")
        return chosen

    def tick(self, done: int, total: int, label: str) -> None:
        """Report progress, if anyone listens."""
        if self.progress is not None:
            self.progress(done, total, label)

    def release_knowledge(self) -> None:
        """Close the open knowledge bases (embedded stores lock their folder; suites that open their own need it).

        They are cached on disk, so the next suite that asks reopens them quickly.
        """
        for kb in self._shared.knowledge.values():
            try:
                kb.close()
            except Exception:  # pragma: no cover - closing is best effort
                logger.warning("closing an eval knowledge base failed", exc_info=True)
        self._shared.knowledge.clear()

    def close(self) -> None:
        """Close every knowledge base and the sentence cache, and remove the throwaway homes."""
        self.release_knowledge()
        if self._shared.sentence_cache is not None:
            self._shared.sentence_cache.close()
            self._shared.sentence_cache = None
            self._shared.embedder = None
        if self._shared.workdir is not None:
            shutil.rmtree(self._shared.workdir, ignore_errors=True)
            self._shared.workdir = None


def run_suite(evaluator: Evaluator, ctx: EvalContext, dataset: str | None = None) -> SuiteResult:
    """Run one suite on one dataset (default: the suite's first).

    Raises:
        GrounddeskError: ``invalid_input`` for a dataset the suite does not know.
    """
    name = dataset or evaluator.datasets[0]
    if name not in evaluator.datasets and not name.endswith(".jsonl"):
        raise GrounddeskError(
            f"the {evaluator.name} suite runs on {', '.join(evaluator.datasets)} or a .jsonl golden set, not {name!r}",
            code=ErrorCode.INVALID_INPUT,
            suite=evaluator.name,
            dataset=name,
        )
    local = ctx.for_dataset(name)
    started = time.perf_counter()
    try:
        result = evaluator.run(local)
    finally:
        ctx.release_knowledge()
    took = round(time.perf_counter() - started, 2)
    return result.model_copy(update={"took_s": took, "notes": [*local.notes, *result.notes]})


def run_all(
    ctx: EvalContext,
    plan: Sequence[tuple[str, str]],
    *,
    registry: dict[str, Evaluator] | None = None,
    on_done: Callable[[SuiteResult], None] | None = None,
) -> EvalReport:
    """Run every ``(suite, dataset)`` of ``plan``; a suite that fails is recorded in ``errors``, the rest run.

    Args:
        ctx: The shared context (closed by the caller).
        plan: What to run, in order.
        registry: Suites by name (default: :data:`grounddesk.evals.suites.SUITES`).
        on_done: Called after each suite (the CLI advances its progress bar).
    """
    from grounddesk.evals.suites import SUITES

    suites = registry if registry is not None else SUITES
    started = time.perf_counter()
    report = EvalReport(
        created_at=datetime.now(UTC),
        mode="quick" if ctx.quick else "full",
        data_dir=str(ctx.data_dir),
        configuration=_configuration(ctx.settings),
    )
    for suite, dataset in plan:
        try:
            result = run_suite(suites[suite], ctx, dataset)
        except GrounddeskError as exc:
            logger.warning("eval suite failed", extra={"suite": suite, "dataset": dataset, "code": str(exc.code)})
            report.errors.append({"suite": suite, "dataset": dataset, **exc.to_dict()})
            continue
        report.suites.setdefault(suite, {})[dataset] = result
        if on_done is not None:
            on_done(result)
    report.took_s = round(time.perf_counter() - started, 2)
    return report


def _configuration(settings: Settings) -> dict[str, Any]:
    """What was evaluated, for the report's header (no secrets)."""
    return {
        "embedding_model": settings.embedding.model,
        "llm": settings.llm.model if settings.llm.enabled else None,
        "composer": "llm" if settings.llm.enabled else "extractive",
        "answer_threshold": settings.agent.answer_threshold,
        "calibration": str(settings.calibration_path() or "packaged"),
        "playbook": str(settings.router.playbook or "packaged"),
    }
