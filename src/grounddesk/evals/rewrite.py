"""The follow-up rewriting eval on MTRAG-UN: does the rewritten query retrieve better than the raw turns?

Three queries per conversation are searched on the same hybrid index the retrieval eval builds
(``<home>/evals/mtrag-<key>``, shared with ``run_retrieval_eval("mtrag", ...)``): (a) the last user turn,
(b) the last turn joined with every earlier user turn, (c) :func:`grounddesk.agent.rewrite.rewrite_followup`
of the last turn given the whole history.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grounddesk.agent.rewrite import rewrite_followup
from grounddesk.config import Settings
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.evals.datasets import RetrievalDataset, RetrievalQuery, load_retrieval_dataset
from grounddesk.evals.retrieval import open_eval_knowledge_base, rank_documents, score_rankings
from grounddesk.knowledge.search import SearchMode
from grounddesk.knowledge.service import KnowledgeBase, ProgressFn
from grounddesk.knowledge.types import Embedder

__all__ = ["VARIANTS", "load_histories", "run_rewrite_eval"]

VARIANTS = ("last_turn", "with_history", "rewrite")


def _turns(value: Any) -> list[tuple[str, str]]:
    """``(speaker, text)`` pairs from a history given as a list of dicts or as its Python-repr string."""
    if isinstance(value, str):
        value = ast.literal_eval(value) if value.strip() else []
    pairs: list[tuple[str, str]] = []
    for turn in value or []:
        if isinstance(turn, dict):
            pairs.append((str(turn.get("speaker", "")), str(turn.get("text", ""))))
        elif isinstance(turn, list | tuple) and len(turn) == 2:
            pairs.append((str(turn[0]), str(turn[1])))
    return pairs


def load_histories(data_dir: Path) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Each MTRAG task's last user turn and its history as ``(speaker, text)`` pairs, oldest first, by task id.

    Raises:
        GrounddeskError: ``dataset_error`` when ``mtrag_un/eval_view.jsonl`` is missing.
    """
    path = data_dir / "mtrag_un" / "eval_view.jsonl"
    if not path.is_file():
        raise GrounddeskError(
            f"{path} is missing: --data-dir must be a folder laid out like ../shared/data",
            code=ErrorCode.DATASET,
            path=str(path),
        )
    out: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                task = json.loads(line)
                out[task["task_id"]] = (task["last_user_turn"], _turns(task.get("history")))
    return out


def _indexed(
    settings: Settings,
    embedder: Embedder | None,
    data_dir: Path,
    progress: ProgressFn | None,
    dataset: RetrievalDataset | None = None,
) -> tuple[KnowledgeBase, RetrievalDataset]:
    dataset = dataset or load_retrieval_dataset("mtrag", data_dir)
    return open_eval_knowledge_base(dataset, settings, embedder, progress), dataset


def run_rewrite_eval(
    data_dir: Path,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    mode: SearchMode = "hybrid",
    rewrite: Callable[[str, list[tuple[str, str]]], str] = rewrite_followup,
    progress: ProgressFn | None = None,
    dataset: RetrievalDataset | None = None,
) -> dict[str, Any]:
    """Score the last turn, the last turn with the earlier user turns, and the rewrite on MTRAG-UN.

    Args:
        data_dir: A folder laid out like ``../shared/data``.
        settings: Home (for the cached index), embedding and search settings.
        embedder: Reuse a loaded embedder.
        mode: ``hybrid`` (default), ``dense`` or ``sparse``.
        rewrite: The rewriting function under test.
        progress: Called as ``progress(done, total, what)``.
        dataset: The passages and queries (default: all of MTRAG-UN; the quick eval passes a subset).

    Returns:
        ``{"dataset": "mtrag", "mode", "queries", "rewritten", "ndcg@10": {variant: value},
        "metrics": {variant: {recall@5, recall@10, ndcg@10, mrr@10}}, "examples", "took_s"}`` with variants
        ``last_turn``, ``with_history`` and ``rewrite``.
    """
    started = time.perf_counter()
    histories = load_histories(data_dir)
    kb, dataset = _indexed(settings or Settings(), embedder, data_dir, progress, dataset)
    try:
        joined = {q.id: q.text for q in dataset.variants["with_history"]}
        texts: dict[str, list[str]] = {v: [] for v in VARIANTS}
        queries: list[RetrievalQuery] = []
        for q in dataset.queries:
            last, history = histories.get(q.id, (q.text, []))
            queries.append(q)
            texts["last_turn"].append(q.text)
            texts["with_history"].append(joined[q.id])
            texts["rewrite"].append(rewrite(last, history))
        metrics: dict[str, dict[str, float]] = {}
        for variant in VARIANTS:
            rankings = []
            for i, text in enumerate(texts[variant], start=1):
                rankings.append(rank_documents(kb, text, mode))
                if progress:
                    progress(i, len(queries), f"queries ({variant})")
            metrics[variant] = {k: round(v, 4) for k, v in score_rankings(rankings, queries).items()}
    finally:
        kb.close()
    changed = [(a, c) for a, c in zip(texts["last_turn"], texts["rewrite"], strict=True) if a.strip() != c]
    return {
        "dataset": "mtrag",
        "mode": mode,
        "queries": len(queries),
        "rewritten": len(changed),
        "ndcg@10": {v: metrics[v]["ndcg@10"] for v in VARIANTS},
        "metrics": metrics,
        "examples": [{"last_turn": a, "rewrite": c} for a, c in changed[:5]],
        "took_s": round(time.perf_counter() - started, 2),
    }
