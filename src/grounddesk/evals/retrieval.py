"""The retrieval eval: recall@5, recall@10, nDCG@10 and MRR@10 against a plain BM25 baseline of the same run."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from grounddesk.config import Settings
from grounddesk.evals.bm25 import PlainBM25
from grounddesk.evals.datasets import RetrievalDataset, RetrievalQuery, load_retrieval_dataset
from grounddesk.evals.metrics import mean, mrr_at_k, ndcg_at_k, recall_at_k
from grounddesk.knowledge.search import SearchMode
from grounddesk.knowledge.service import KnowledgeBase, ProgressFn
from grounddesk.knowledge.types import Embedder

__all__ = [
    "METRIC_NAMES",
    "eval_settings",
    "index_dataset",
    "open_eval_knowledge_base",
    "rank_documents",
    "run_retrieval_eval",
    "score_rankings",
]

METRIC_NAMES = ("recall@5", "recall@10", "ndcg@10", "mrr@10")
_CHUNKS_PER_QUERY = 60  # chunks fetched per query, folded into a ranking of distinct documents


def score_rankings(rankings: Sequence[Sequence[str]], queries: Sequence[RetrievalQuery]) -> dict[str, float]:
    """Mean recall@5, recall@10, nDCG@10 and MRR@10 of ranked ids against each query's relevant ids."""
    return {
        "recall@5": mean([recall_at_k(r, q.relevant, 5) for r, q in zip(rankings, queries, strict=True)]),
        "recall@10": mean([recall_at_k(r, q.relevant, 10) for r, q in zip(rankings, queries, strict=True)]),
        "ndcg@10": mean([ndcg_at_k(r, q.relevant, 10) for r, q in zip(rankings, queries, strict=True)]),
        "mrr@10": mean([mrr_at_k(r, q.relevant, 10) for r, q in zip(rankings, queries, strict=True)]),
    }


def rank_documents(kb: KnowledgeBase, query: str, mode: SearchMode, k: int = 10) -> list[str]:
    """Distinct document ids in the order their best chunk ranks."""
    hits = kb.search(query, audiences=["public"], top_k=_CHUNKS_PER_QUERY, mode=mode).hits
    ranked: list[str] = []
    for hit in hits:
        if hit.doc_id not in ranked:
            ranked.append(hit.doc_id)
            if len(ranked) == k:
                break
    return ranked


def eval_settings(settings: Settings, dataset: str) -> Settings:
    """Embedded defaults in a folder of the home keyed by dataset and everything that shapes the index.

    Importing is idempotent, so a second run with the same settings reuses the embedded collection.
    """
    shaping = json.dumps(
        {"embedding": settings.embedding.model, "chunking": settings.chunking.model_dump(), "v": 2}, sort_keys=True
    )
    key = hashlib.sha256(shaping.encode()).hexdigest()[:10]
    return Settings(
        home=settings.home / "evals" / f"{dataset}-{key}",
        embedding=settings.embedding,
        chunking=settings.chunking,
        search=settings.search.model_copy(update={"candidates": max(settings.search.candidates, 100)}),
    )


def run_retrieval_eval(
    name: str,
    data_dir: Path,
    *,
    mode: SearchMode = "hybrid",
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
    build: Callable[[Settings, Embedder | None], KnowledgeBase] | None = None,
    dataset: RetrievalDataset | None = None,
) -> dict[str, Any]:
    """Index a dataset's knowledge on the embedded defaults and score ``mode`` and BM25 on its queries.

    ``dataset`` replaces the set read by ``name`` (the quick eval passes a subset; its index is cached apart).

    Returns:
        ``{"dataset", "mode", "queries", "metrics", "baseline": {"name": "bm25", "metrics"}, "took_s", ...}``;
        mtrag adds ``variants.with_history`` (the last turn joined with the earlier user turns).
    """
    from grounddesk.wiring import build_knowledge_base

    started = time.perf_counter()
    dataset = dataset or load_retrieval_dataset(name, data_dir)
    kb = (build or (lambda s, e: build_knowledge_base(s, embedder=e)))(
        eval_settings(settings or Settings(), dataset.name), embedder
    )
    try:
        errors = index_dataset(kb, dataset, progress)
        result = _score(kb, dataset, mode, progress)
    finally:
        kb.close()
    result["took_s"] = round(time.perf_counter() - started, 2)
    result["import_errors"] = errors
    return result


def index_dataset(kb: KnowledgeBase, dataset: RetrievalDataset, progress: ProgressFn | None = None) -> int:
    """Import and approve a dataset's documents (a no-op when the cached index has them); returns the errors."""
    from grounddesk.knowledge.loaders import LoadResult

    report = kb.import_results(
        (LoadResult(path=d.source_uri, document=d) for d in dataset.documents),
        audiences=["public"],
        approve=True,
        actor="eval",
        progress=progress,
    )
    for item in report.unchanged:
        if item.status != "approved":
            kb.approve(item.doc_id, item.version, actor="eval")
    return len(report.errors)


def open_eval_knowledge_base(
    dataset: RetrievalDataset, settings: Settings, embedder: Embedder | None, progress: ProgressFn | None = None
) -> KnowledgeBase:
    """The dataset's documents in the cached eval index under the home (built on first use)."""
    from grounddesk.wiring import build_knowledge_base

    kb = build_knowledge_base(eval_settings(settings, dataset.name), embedder=embedder)
    try:
        index_dataset(kb, dataset, progress)
    except BaseException:
        kb.close()
        raise
    return kb


def _score(
    kb: KnowledgeBase, dataset: RetrievalDataset, mode: SearchMode, progress: ProgressFn | None
) -> dict[str, Any]:
    bm25 = PlainBM25([d.doc_id for d in dataset.documents], [f"{d.title}\n{d.text}" for d in dataset.documents])
    out: dict[str, Any] = {"dataset": dataset.name, "mode": mode, "unit": dataset.unit}
    for label, queries in [("main", dataset.queries), *dataset.variants.items()]:
        ours: list[list[str]] = []
        for i, q in enumerate(queries, start=1):
            ours.append(rank_documents(kb, q.text, mode))
            if progress:
                progress(i, len(queries), f"queries ({label})")
        base = [bm25.rank(q.text, 10) for q in queries]
        block = {
            "queries": len(queries),
            "metrics": _rounded(score_rankings(ours, queries)),
            "baseline": {"name": "bm25", "metrics": _rounded(score_rankings(base, queries))},
        }
        if label == "main":
            out.update(block)
        else:
            out.setdefault("variants", {})[label] = block
    return out


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in metrics.items()}
