"""Composition root: builds every concrete object from :class:`~grounddesk.config.Settings`.

Nothing here runs at import time; the CLI, the API's lifespan and the eval runner call these functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grounddesk.agent.conversation import Agent
from grounddesk.audit.trail import AuditTrail
from grounddesk.audit.types import AuditSink
from grounddesk.config import Settings
from grounddesk.connectors.types import CRMConnector, ERPConnector
from grounddesk.errors import ConfigurationError
from grounddesk.knowledge.chunking import Chunker
from grounddesk.knowledge.embeddings import SentenceTransformerEmbedder
from grounddesk.knowledge.registry import DocumentRegistry
from grounddesk.knowledge.search import HybridSearcher
from grounddesk.knowledge.service import KnowledgeBase
from grounddesk.knowledge.sparse import BM25Encoder
from grounddesk.knowledge.types import Embedder, VectorStore

if TYPE_CHECKING:
    from grounddesk.agent.compose import CachedEmbedder
    from grounddesk.knowledge.sentence_cache import SentenceVectorCache

ProgressFn = Callable[[int, int, str], None]

__all__ = [
    "build_agent",
    "build_audit",
    "build_connectors",
    "build_embedder",
    "build_knowledge_base",
    "build_registry",
    "build_sentence_cache",
    "build_vector_store",
]


def build_vector_store(settings: Settings) -> VectorStore:
    """The configured vector store: a Qdrant server/cluster by URL, else Qdrant embedded under the home."""
    from grounddesk.knowledge.stores import MemoryVectorStore, QdrantClientStore, QdrantEdgeStore

    q = settings.qdrant
    if q.url:
        return QdrantClientStore.from_settings(q, settings.qdrant_path)
    if q.embedded == "edge":
        return QdrantEdgeStore(settings.qdrant_path / "edge")
    if q.embedded == "local":
        return QdrantClientStore.from_settings(q, settings.qdrant_path / "local")
    if q.embedded == "memory":
        return MemoryVectorStore()
    raise ConfigurationError(f"unknown embedded Qdrant engine {q.embedded!r}", setting="qdrant.embedded")


def build_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The sentence-transformers embedder named by ``settings.embedding.model`` (loaded lazily, offline)."""
    return SentenceTransformerEmbedder(settings.embedding)


def build_registry(settings: Settings) -> DocumentRegistry:
    """The document registry on the configured SQL database, migrated to the newest schema."""
    from grounddesk.db import create_engine_for, upgrade

    settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.database_url(), echo=settings.database.echo)
    upgrade(engine)
    return DocumentRegistry(engine)


def build_knowledge_base(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    clock: Callable[[], float] = time.time,
    audit: AuditSink | None = None,
) -> KnowledgeBase:
    """Everything the knowledge base needs, wired together.

    Args:
        settings: The configuration.
        embedder: Reuse an already loaded embedder (evals and benchmarks build several knowledge bases).
        clock: Unix seconds now, for effective dates (tests travel in time with it).
        audit: Where approvals, retirements and deletions are recorded (see :func:`build_audit`); None: nowhere.
    """
    from grounddesk.agent.compose import CachedEmbedder

    emb = embedder or build_embedder(settings)
    sentences = emb if isinstance(emb, CachedEmbedder) and emb.persistent is not None else None
    if sentences is None:
        inner = emb.inner if isinstance(emb, CachedEmbedder) else emb
        sentences = CachedEmbedder(inner, max_items=0, persistent=build_sentence_cache(settings))
    registry = build_registry(settings)
    store = build_vector_store(settings)
    store.ensure_collection(emb.dimension)
    sparse = BM25Encoder()
    chunker = Chunker(
        emb.count_tokens,
        max_tokens=settings.chunking.max_tokens,
        min_tokens=settings.chunking.min_tokens,
        overlap_sentences=settings.chunking.overlap_sentences,
    )
    searcher = HybridSearcher(store, emb, sparse, registry.current_generation, settings.search, clock)
    return KnowledgeBase(
        registry,
        store,
        sentences.inner,  # chunk vectors bypass the sentence cache
        chunker,
        sparse,
        searcher,
        settings.files_dir,
        audit=audit,
        prepare_chunks=_sentence_preparer(sentences),
    )


def build_sentence_cache(settings: Settings) -> SentenceVectorCache:
    """The home's store of answer-sentence vectors (derived data; safe to delete)."""
    from grounddesk.knowledge.sentence_cache import SentenceVectorCache

    return SentenceVectorCache(settings.home / "cache" / "sentences.sqlite", model_id=settings.embedding.model)


def _sentence_preparer(cached: CachedEmbedder) -> Callable[[Sequence[str], ProgressFn | None], None]:
    """What an import runs on its new chunks: embed the sentences answers may quote, once, ahead of turns."""
    from grounddesk.agent.compose import chunk_sentences

    def prepare(texts: Sequence[str], progress: ProgressFn | None) -> None:
        cached.warm([sentence for text in texts for sentence in chunk_sentences(text)], progress)

    return prepare


def build_connectors(
    settings: Settings, *, engine: Any = None
) -> tuple[CRMConnector | None, ERPConnector | None, Callable[[], None]]:
    """The configured CRM and ERP, each behind the resilience wrapper (breaker, retries, idempotency ledger).

    Args:
        settings: ``connectors`` picks the back-ends (``auto``: the home's demo back-end when there is one);
            ``salesforce``, ``erp`` and ``resilience`` configure them.
        engine: grounddesk's SQL engine for the idempotency ledger; None opens (and migrates) the configured one.

    Returns:
        ``(crm, erp, close)``; a back-end that is not configured is None.

    Raises:
        ConfigurationError: A back-end is named but not configured (Salesforce without credentials, a demo
            back-end file that does not exist).
    """
    from grounddesk.connectors.ledger import IdempotencyLedger
    from grounddesk.connectors.resilience import ResilientCRM, ResilientERP
    from grounddesk.db import create_engine_for, upgrade

    choice = settings.connectors
    demo = settings.demo_backend_path
    crm_kind = ("demo" if demo.exists() else "none") if choice.crm == "auto" else choice.crm
    erp_kind = ("demo" if demo.exists() else "none") if choice.erp == "auto" else choice.erp
    if crm_kind == "none" and erp_kind == "none":
        return None, None, lambda: None
    own_engine = engine is None
    if engine is None:
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = create_engine_for(settings.database_url(), echo=settings.database.echo)
        upgrade(engine)
    ledger = IdempotencyLedger(engine)
    crm: CRMConnector | None = None
    erp: ERPConnector | None = None
    if crm_kind == "demo" or erp_kind == "demo":
        from grounddesk.connectors.demo import DemoBackend

        demo_crm, demo_erp = DemoBackend.open(demo)
        crm = demo_crm if crm_kind == "demo" else None
        erp = demo_erp if erp_kind == "demo" else None
        for unused, kind in ((demo_crm, crm_kind), (demo_erp, erp_kind)):
            if kind != "demo":
                unused.close()
    if crm_kind == "salesforce":
        from grounddesk.connectors.salesforce import SalesforceCRM

        if settings.salesforce is None:
            raise ConfigurationError(
                "connectors.crm is salesforce but no GROUNDDESK_SALESFORCE_* settings are given", setting="salesforce"
            )
        crm = SalesforceCRM(settings.salesforce)
    if erp_kind == "http":
        from grounddesk.connectors.erp_http import HttpERP

        erp = HttpERP(settings.erp)
    wrapped_crm = ResilientCRM(crm, settings=settings.resilience, ledger=ledger) if crm is not None else None
    wrapped_erp = ResilientERP(erp, settings=settings.resilience, ledger=ledger) if erp is not None else None

    def close() -> None:
        for connector in (wrapped_crm, wrapped_erp):
            if connector is not None:
                connector.close()
        if own_engine:
            engine.dispose()

    return wrapped_crm, wrapped_erp, close


def checkpoint_file(settings: Settings) -> Path:
    """The SQLite file of the conversation checkpoints (used when the database is SQLite)."""
    return settings.home / "checkpoints.db"


def build_agent(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    knowledge: KnowledgeBase | None = None,
    crm: CRMConnector | None = None,
    erp: ERPConnector | None = None,
    audit: AuditSink | None = None,
) -> tuple[Agent, Callable[[], None]]:
    """The conversation agent on the configured back-ends, and a function that releases them.

    Extractive composer and embedding router by default; with ``settings.llm.base_url`` set, the LLM
    composer and LLM tool-calling router over that OpenAI-compatible endpoint. ``crm`` / ``erp`` (already
    wrapped for resilience, see :func:`build_connectors`) give the agent its tools; without them a tool intent
    escalates ``needs_account_access``. With ``audit`` (see :func:`build_audit`) every turn's answer, every tool
    call and every knowledge approval is recorded there (a ``knowledge`` passed in without a sink gets this one).
    """
    from grounddesk.agent.calibration import load_calibration
    from grounddesk.agent.checkpoint import open_checkpointer
    from grounddesk.agent.compose import CachedEmbedder, ExtractiveComposer
    from grounddesk.agent.confidence import ConfidenceModel, ConfidenceScorer
    from grounddesk.agent.deps import AgentDeps, ComposesAnswers, RoutesIntents
    from grounddesk.agent.graph import build_graph
    from grounddesk.agent.guard import Guard
    from grounddesk.agent.playbook import load_playbook
    from grounddesk.agent.rewrite import rewrite_followup
    from grounddesk.agent.router import EmbeddingRouter
    from grounddesk.audit.hooks import tool_call_recorder
    from grounddesk.tools import Toolbox, support_tools

    # One cache of vectors for router, retrieval, composer and scorer: a message is embedded once per turn.
    cached = CachedEmbedder(embedder or build_embedder(settings), persistent=build_sentence_cache(settings))
    kb = knowledge or build_knowledge_base(settings, embedder=cached, audit=audit)
    if audit is not None and kb.audit is None:
        kb.audit = audit
    router_settings = settings.router
    playbook = load_playbook(router_settings.playbook)
    router: RoutesIntents
    composer: ComposesAnswers
    if settings.llm.enabled:
        from grounddesk.agent.llm import build_chat_model
        from grounddesk.agent.llm_compose import LLMComposer
        from grounddesk.agent.llm_router import LLMRouter
        from grounddesk.agent.support import SupportChecker

        chat = build_chat_model(settings.llm)
        router = LLMRouter(chat, playbook, settings.llm)
        composer = LLMComposer(chat, settings.llm, support=SupportChecker(cached).support_score)
    else:
        router = EmbeddingRouter(
            playbook, cached, router_settings, cache_dir=settings.home / "cache", model_id=settings.embedding.model
        )
        composer = ExtractiveComposer(cached)
    model = ConfidenceModel(load_calibration(settings.calibration_path()))
    threshold = settings.agent.answer_threshold
    agent_settings = settings.agent.model_copy(
        update={"answer_threshold": model.answer_threshold if threshold is None else threshold}
    )
    saver, conn = open_checkpointer(settings.database_url(), checkpoint_file(settings))
    deps = AgentDeps(
        settings=agent_settings,
        knowledge=kb,
        guard=Guard(settings.guard),
        router=router,
        composer=composer,
        scorer=ConfidenceScorer(cached, model),
        rewrite=rewrite_followup,
        fixed_replies={i.name: i.reply for i in playbook.intents if i.reply},
        toolbox=Toolbox(
            support_tools(crm, erp),
            on_call=tool_call_recorder(audit) if audit is not None else None,
            call_budget=settings.service.limits.tool_calls_per_conversation,
        )
        if crm is not None or erp is not None
        else None,
        crm=crm,
        erp=erp,
        slot_questions={name: spec.question for name, spec in playbook.slots.items() if spec.question},
        extract_slots=playbook.extract_slots,
    )
    # The abuse limits hold for every way in (service, CLI chat, evals), not only the HTTP service.
    agent = Agent(
        build_graph(deps, saver),
        deps.guard,
        knowledge=kb,
        toolbox=deps.toolbox,
        audit=audit,
        recursion_limit=settings.service.limits.recursion_limit,
    )

    def close() -> None:
        conn.close()
        if knowledge is None:
            kb.close()

    return agent, close


def build_audit(settings: Settings, engine: Any) -> AuditTrail | None:
    """The audit trail on grounddesk's SQL store, or None when ``audit.enabled`` is off.

    Args:
        settings: ``audit`` holds the switch and the HMAC key.
        engine: grounddesk's SQL engine (migrated).
    """
    if not settings.audit.enabled:
        return None
    return AuditTrail.from_settings(engine, settings.audit)
