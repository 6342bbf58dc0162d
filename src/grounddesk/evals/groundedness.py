"""Validates the support checker against people: MTRAG human faithfulness ratings of model answers.

Each rated response (reference, GPT-4o and Llama-3.1-405B answers to MTRAG turns) is cut into sentences; a
sentence's support is the best :class:`~grounddesk.agent.support.SupportChecker` score among the passages the
responder was given; a response's score is the mean (and, reported beside it, the minimum) of its sentences'.
The figures are the Spearman rank correlation with the human faithfulness median (1-4) and the AUROC of
faithful (median >= 3) against unfaithful responses, for the combined checker and for its lexical part alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grounddesk.agent.support import SupportChecker, SupportSettings, source_sentences
from grounddesk.evals.datasets import read_jsonl
from grounddesk.evals.metrics import auroc, spearman
from grounddesk.knowledge.service import ProgressFn
from grounddesk.knowledge.types import Embedder

__all__ = ["FAITHFUL_MEDIAN", "run_groundedness_validation"]

FAITHFUL_MEDIAN = 3.0


def _records(data_dir: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(data_dir / "mtrag_un" / "human_judgements.jsonl"))


def _figures(scores: Sequence[float], medians: Sequence[float]) -> dict[str, float]:
    return {
        "spearman": round(spearman(scores, medians), 4),
        "auroc": round(auroc(scores, [m >= FAITHFUL_MEDIAN for m in medians]), 4),
    }


def run_groundedness_validation(
    data_dir: Path,
    *,
    embedder: Embedder | None = None,
    settings: SupportSettings | None = None,
    progress: ProgressFn | None = None,
    every: int = 1,
) -> dict[str, Any]:
    """Score every human-rated MTRAG response with the support checker and compare with the ratings.

    Args:
        data_dir: A folder laid out like ``../shared/data``.
        embedder: Adds the semantic part of the checker; without it only the lexical figures are computed.
        settings: The checker's weights.
        progress: Called as ``progress(done, total, label)``.
        every: Score every ``every``-th response only (the quick eval); 1 scores them all.

    Returns:
        ``{"dataset": "mtrag-human", "responses", "faithful", "mean": {"spearman", "auroc"}, "min": {...},
        "lexical_only": {"mean": {...}, "min": {...}}, "by_model": {...}, "took_s"}``.

    Raises:
        GrounddeskError: ``dataset_error`` when the file is missing.
    """
    started = time.perf_counter()
    records = _records(data_dir)[:: max(1, every)]
    checkers = {"lexical_only": SupportChecker(None, settings)}
    if embedder is not None:
        checkers["combined"] = SupportChecker(embedder, settings)
    medians = [float(r["human_faithfulness_median"]) for r in records]
    per_checker: dict[str, dict[str, list[float]]] = {}
    for name, checker in checkers.items():
        means: list[float] = []
        mins: list[float] = []
        for i, rec in enumerate(records, start=1):
            sentences = source_sentences(rec["response"], min_words=1)
            sources = [c["text"] for c in rec.get("contexts") or []]
            values = checker.scores(sentences, [sources] * len(sentences)) if sentences else [1.0]
            means.append(sum(values) / len(values))
            mins.append(min(values))
            if progress:
                progress(i, len(records), f"responses ({name})")
        per_checker[name] = {"mean": means, "min": mins}
    main = per_checker.get("combined", per_checker["lexical_only"])
    by_model: dict[str, dict[str, float]] = {}
    for model in sorted({r["model_id"] for r in records}):
        idx = [i for i, r in enumerate(records) if r["model_id"] == model]
        by_model[model] = {"responses": len(idx), **_figures([main["mean"][i] for i in idx], [medians[i] for i in idx])}
    return {
        "dataset": "mtrag-human",
        "responses": len(records),
        "faithful": sum(m >= FAITHFUL_MEDIAN for m in medians),
        "checker": "combined" if "combined" in per_checker else "lexical_only",
        "mean": _figures(main["mean"], medians),
        "min": _figures(main["min"], medians),
        "lexical_only": {agg: _figures(per_checker["lexical_only"][agg], medians) for agg in ("mean", "min")},
        "by_model": by_model,
        "took_s": round(time.perf_counter() - started, 2),
    }
