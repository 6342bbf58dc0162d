"""Search latency with every filter on, at 10k and 100k chunks, against the LangChain + Qdrant recipe.

Ours: ``KnowledgeBase.search`` end to end (query embedding, the generation read from SQL, dense + sparse
queries on Qdrant edge with the approved/effective/audience filter, rank fusion). The corpus is the real
tau2 banking chunks plus synthetic neighbours of them (their vectors with noise, their texts and term
weights) up to the target size, with drafts, retired chunks, internal and premium audiences and future
effective dates mixed in so the filter does real work.

Baseline, in the same process: langchain-qdrant ``QdrantVectorStore`` on qdrant-client's local mode with
the same embedding model and one metadata filter, the recipe a LangChain user starts from.

    python bench/kb_search.py [--sizes 10000 100000] [--queries 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import DEFAULT_DATA, cpu_info, median, percentile
from grounddesk.config import Settings
from grounddesk.knowledge.types import NEVER, ChunkPoint
from grounddesk.wiring import build_embedder, build_knowledge_base

AUDIENCES = (["public"], ["public"], ["public"], ["customer:premium"], ["internal"])
CATEGORIES = ("cards", "accounts", "loans", "business", "savings", "fees", "fraud", "transfers")


def _queries(data_dir: Path, n: int) -> list[str]:
    titles = [json.loads(line)["title"] for line in (data_dir / "tau2_banking_knowledge/documents.jsonl").open()]
    random.Random(7).shuffle(titles)
    forms = (
        "What is the policy on {}?",
        "How does {} work?",
        "Can you tell me about {}?",
        "{}: what do I need to know",
    )
    return [forms[i % len(forms)].format(t.lower()) for i, t in enumerate(titles[:n])]


def _synthesize(kb: Any, real: list[ChunkPoint], size: int, rng: random.Random) -> None:
    need = size - len(real)
    now = int(time.time())
    batch: list[ChunkPoint] = []
    noise = np.random.default_rng(11)
    for i in range(need):
        src = real[i % len(real)]
        vec = np.asarray(src.dense, dtype=np.float32) + noise.normal(0, 0.02, len(src.dense)).astype(np.float32)
        vec /= np.linalg.norm(vec)
        roll = rng.random()
        visible_from, visible_until = (1, NEVER)
        if roll < 0.10:
            visible_from = NEVER  # draft
        elif roll < 0.20:
            visible_until = 1  # retired
        payload = src.payload.model_copy(
            update={
                "chunk_id": f"syn-{i}@1#0",
                "doc_id": f"syn-{i}",
                "version": 1,
                "ordinal": 0,
                "audiences": AUDIENCES[i % len(AUDIENCES)],
                "effective_from": now + 86_400 if rng.random() < 0.1 else 0,
                "visible_from": visible_from,
                "visible_until": visible_until,
                "metadata": {"category": CATEGORIES[i % len(CATEGORIES)]},
            }
        )
        batch.append(ChunkPoint(payload=payload, dense=vec.tolist(), sparse=src.sparse))
        if len(batch) == 2000:
            kb.store.upsert(batch)
            batch = []
    if batch:
        kb.store.upsert(batch)


def _time(fn: Any, queries: list[str]) -> list[float]:
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def _baseline(
    points: list[ChunkPoint], size: int, embedder: Any, queries: list[str], rng: random.Random
) -> dict[str, Any]:
    from langchain_core.embeddings import Embeddings
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient, models

    class _Emb(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    with tempfile.TemporaryDirectory() as path:
        client = QdrantClient(path=path)
        client.create_collection(
            "lc", vectors_config=models.VectorParams(size=len(points[0].dense), distance=models.Distance.COSINE)
        )
        noise = np.random.default_rng(11)
        structs = []
        for i in range(size):
            src = points[i % len(points)]
            vec = np.asarray(src.dense, dtype=np.float32)
            if i >= len(points):
                vec = vec + noise.normal(0, 0.02, len(vec)).astype(np.float32)
                vec /= np.linalg.norm(vec)
            structs.append(
                models.PointStruct(
                    id=i,
                    vector=vec.tolist(),
                    payload={
                        "page_content": src.payload.text,
                        "metadata": {"audience": AUDIENCES[i % len(AUDIENCES)][0]},
                    },
                )
            )
            if len(structs) == 5000:
                client.upsert("lc", structs)
                structs = []
        if structs:
            client.upsert("lc", structs)
        store = QdrantVectorStore(client=client, collection_name="lc", embedding=_Emb())
        flt = models.Filter(
            must=[models.FieldCondition(key="metadata.audience", match=models.MatchValue(value="public"))]
        )
        lat = _time(lambda q: store.similarity_search(q, k=5, filter=flt), queries)
        client.close()
    return {"p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95), "queries": len(queries)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline-queries-100k", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    rng = random.Random(3)
    embedder = build_embedder(Settings())
    embedder.embed_query("warm up")
    queries = _queries(args.data_dir, args.queries)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as home:
        kb = build_knowledge_base(Settings(home=Path(home)), embedder=embedder)
        report = kb.import_paths([args.data_dir / "tau2_banking_knowledge/documents.jsonl"], approve=True)
        real = []
        for item in report.imported:
            real.extend(kb.store.chunks(item.doc_id))
        # the stored chunks' own vectors are not read back from the store; re-embed their texts once
        dense = embedder.embed_documents([f"{p.title}\n\n{p.text}" for p in real])
        seeds = [
            ChunkPoint(payload=p, dense=d, sparse=kb.sparse.encode_document(p.text))
            for p, d in zip(real, dense, strict=True)
        ]
        for size in sorted(args.sizes):
            print(f"building {size} chunks", file=sys.stderr)
            _synthesize(kb, seeds, size, rng)
            optimize_started = time.perf_counter()
            kb.store.optimize()  # what the end of an import does: build the HNSW index over the new segments
            optimize_s = time.perf_counter() - optimize_started
            for _ in range(3):
                kb.search(queries[0], audiences=["public"])
            reps = {"all_filters": [], "all_filters_plus_metadata": []}
            for _ in range(args.repeats):
                reps["all_filters"].append(
                    _time(lambda q: kb.search(q, audiences=["public", "customer:premium"]), queries)
                )
                reps["all_filters_plus_metadata"].append(
                    _time(
                        lambda q: kb.search(q, audiences=["public"], metadata={"category": ["cards", "fees"]}), queries
                    )
                )
            row: dict[str, Any] = {
                "chunks": kb.store.count(),
                "queries": len(queries),
                "repeats": args.repeats,
                "index_build_s": round(optimize_s, 1),
            }
            for name, runs in reps.items():
                row[name] = {
                    "p50_ms": round(median([percentile(r, 50) for r in runs]), 2),
                    "p95_ms": round(median([percentile(r, 95) for r in runs]), 2),
                }
            if not args.no_baseline:
                nq = len(queries) if size <= 10_000 else min(len(queries), args.baseline_queries_100k)
                base = _baseline(seeds, size, embedder, queries[:nq], rng)
                row["baseline_langchain_qdrant_local"] = {
                    k: round(v, 2) if isinstance(v, float) else v for k, v in base.items()
                }
                row["p95_ratio_baseline_over_ours"] = round(base["p95_ms"] / row["all_filters"]["p95_ms"], 1)
            row["target_p95_ms"] = 15
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
        kb.close()
    print(
        json.dumps(
            {"benchmark": "kb_search", "store": "qdrant-edge", "results": results, "machine": cpu_info()}, indent=2
        )
    )


if __name__ == "__main__":
    main()
