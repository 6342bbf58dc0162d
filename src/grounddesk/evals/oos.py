"""The intent-routing eval: in-scope accuracy and out-of-scope recall of the default router.

``clinc``: the router is built from the CLINC150 train split (150 intents as a playbook built in memory, the
train split's out-of-scope queries as its out-of-scope examples) and scored on every other split in the data
folder (``val`` here; a ``test`` split is scored the same way). ``banking77``: 77 intents, no out-of-scope
class; every fifth example of each intent in the train split is held out and scored.

Example embeddings and the fitted router are cached under ``<home>/evals/router-cache``, so a second run only
embeds nothing and scores.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from grounddesk.agent.playbook import Intent, Playbook
from grounddesk.agent.router import EmbeddingRouter, RouterSettings, embed_cached
from grounddesk.config import Settings
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.evals.datasets import read_jsonl
from grounddesk.knowledge.types import Embedder

__all__ = ["INTENT_DATASETS", "run_oos_eval"]

INTENT_DATASETS = ("clinc", "banking77")
ProgressFn = Callable[[int, int, str], None]
_LATENCY_SAMPLE = 50
_BANKING_HOLDOUT_EVERY = 5


def _intent_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", raw.lower()).strip("_")
    return name if re.match(r"^[a-z]", name) else f"i_{name}"


def _split(
    dataset: str, data_dir: Path, per_intent: int | None
) -> tuple[dict[str, list[str]], list[str], list[tuple[str, str | None]]]:
    """Training examples by intent, out-of-scope training examples, and the ``(text, gold)`` cases."""
    train: dict[str, list[str]] = defaultdict(list)
    negatives: list[str] = []
    cases: list[tuple[str, str | None]] = []
    if dataset == "clinc":
        for row in read_jsonl(data_dir / "clinc150_oos" / "data_full.jsonl"):
            oos = bool(row.get("is_oos")) or row["intent"] == "oos"
            gold = None if oos else _intent_name(row["intent"])
            if row["split"] != "train":
                cases.append((row["text"], gold))
            elif gold is None:
                negatives.append(row["text"])
            else:
                train[gold].append(row["text"])
    elif dataset == "banking77":
        seen: dict[str, int] = defaultdict(int)
        for row in read_jsonl(data_dir / "banking77" / "train.jsonl"):
            gold = _intent_name(row["intent"])
            seen[gold] += 1
            if seen[gold] % _BANKING_HOLDOUT_EVERY == 0:
                cases.append((row["text"], gold))
            else:
                train[gold].append(row["text"])
    else:
        raise GrounddeskError(
            f"unknown intent dataset {dataset!r}; choose one of {', '.join(INTENT_DATASETS)}", code=ErrorCode.DATASET
        )
    if per_intent is not None:
        train = defaultdict(list, {name: texts[:per_intent] for name, texts in train.items()})
    return train, negatives, cases


def run_oos_eval(
    data_dir: Path,
    *,
    embedder: Embedder,
    settings: Settings | None = None,
    router_settings: RouterSettings | None = None,
    dataset: Literal["clinc", "banking77"] = "clinc",
    per_intent: int | None = None,
    use_oos_examples: bool = True,
    progress: ProgressFn | None = None,
    every: int = 1,
) -> dict[str, Any]:
    """Build the router from a dataset's training part and score it on the rest.

    Args:
        data_dir: A folder laid out like ``../shared/data``.
        embedder: The embedding model (the bundled MiniLM by default in the CLI).
        settings: Where the cache lives (``settings.home``) and the embedding model's name for cache keys.
        router_settings: The router's decision settings; defaults otherwise.
        dataset: ``clinc`` (with out-of-scope cases) or ``banking77`` (in-scope only).
        per_intent: Use at most this many training examples per intent (None: all of them).
        use_oos_examples: Teach the router the training split's out-of-scope queries as negatives (clinc only).
        progress: Called as ``progress(done, total, what)``.
        every: Score every ``every``-th case only (the quick eval); 1 scores them all.

    Returns:
        ``{"dataset", "cases", "oos_recall", "in_scope_accuracy", ...}``: in-scope accuracy counts an in-scope
        case as right only when it is routed to its own intent (rejected as out of scope is wrong);
        ``oos_recall`` is the share of out-of-scope cases rejected (None without out-of-scope cases). Also
        ``oos_precision``, ``accuracy_without_rejection``, ``threshold``, ``latency_ms_p50`` (one ``route()``
        call, embedding included), ``took_s`` and the sizes.

    Raises:
        GrounddeskError: ``dataset_error`` for an unknown dataset or a missing file.
    """
    started = time.perf_counter()
    settings = settings or Settings()
    train, negatives, cases = _split(dataset, data_dir, per_intent)
    cases = cases[:: max(1, every)]
    playbook = Playbook(
        name=dataset,
        intents=[
            Intent(name=name, description=name.replace("_", " "), examples=texts)
            for name, texts in sorted(train.items())
        ],
        out_of_scope_examples=negatives if use_oos_examples else [],
    )
    cache_dir = settings.home / "evals" / "router-cache"
    model_id = settings.embedding.model
    router = EmbeddingRouter(
        playbook, embedder, router_settings, cache_dir=cache_dir, model_id=model_id, progress=progress
    )
    built = time.perf_counter()
    vectors = embed_cached(
        embedder, [text for text, _ in cases], cache_dir=cache_dir, model_id=model_id, progress=progress, label="cases"
    )
    verdicts = router.score_vectors(vectors)

    in_scope = [(v, gold) for v, (_, gold) in zip(verdicts, cases, strict=True) if gold is not None]
    out_scope = [v for v, (_, gold) in zip(verdicts, cases, strict=True) if gold is None]
    rejected = [v for v in verdicts if not v.in_scope]
    rejected_oos = sum(1 for v in out_scope if not v.in_scope)

    latencies: list[float] = []
    step = max(1, len(cases) // _LATENCY_SAMPLE)
    for text, _ in cases[::step][:_LATENCY_SAMPLE]:
        tick = time.perf_counter()
        router.route(text)
        latencies.append((time.perf_counter() - tick) * 1000)
    latencies.sort()

    return {
        "dataset": dataset,
        "cases": len(cases),
        "oos_recall": round(rejected_oos / len(out_scope), 4) if out_scope else None,
        "in_scope_accuracy": round(_share(in_scope, lambda v, g: v.in_scope and v.intent == g), 4),
        "oos_precision": round(rejected_oos / len(rejected), 4) if rejected and out_scope else None,
        "accuracy_without_rejection": round(_share(in_scope, lambda v, g: v.intent == g), 4),
        "in_scope_cases": len(in_scope),
        "oos_cases": len(out_scope),
        "intents": len(playbook.intents),
        "train_examples": sum(len(t) for t in train.values()),
        "oos_examples": len(playbook.out_of_scope_examples),
        "threshold": round(router.threshold, 4),
        "latency_ms_p50": round(latencies[len(latencies) // 2], 2) if latencies else None,
        "build_s": round(built - started, 2),
        "took_s": round(time.perf_counter() - started, 2),
    }


def _share(pairs: list[tuple[Any, str]], right: Callable[[Any, str], bool]) -> float:
    return sum(1 for v, g in pairs if right(v, g)) / len(pairs) if pairs else 0.0
