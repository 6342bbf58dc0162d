"""Compare the vector stores: upsert throughput and filtered search latency.

Random L2-normalised dense vectors (default 10 000 x 384) and 20-term sparse vectors, payloads with a ~500
character text; every search carries the full filter (generation window + effective window + audiences).
Latency: p50/p95 over ``--queries`` searches, the median of ``--repeats`` runs. Prints JSON.

    PYTHONPATH=src python bench/store_compare.py [--points 10000] [--dim 384] [--queries 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from grounddesk.knowledge.stores import MemoryVectorStore, QdrantClientStore, QdrantEdgeStore
from grounddesk.knowledge.types import NEVER, ChunkPayload, ChunkPoint, SearchFilter, SparseVector, VectorStore

GENERATION = 7
NOW = 1_750_000_000
BATCH = 256
TEXT = ("Returns are accepted within 30 days of delivery when the item is unused and in its original box. " * 6)[:500]


def make_points(n: int, dim: int, rng: np.random.Generator) -> list[ChunkPoint]:
    dense = rng.standard_normal((n, dim)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    points = []
    for i in range(n):
        kind = i % 10  # 0: superseded, 1: draft, 2-4: internal, else public and current
        terms = rng.choice(30_000, size=20, replace=False)
        payload = ChunkPayload(
            chunk_id=f"doc{i // 8}@1#{i % 8}",
            doc_id=f"doc{i // 8}",
            version=1,
            ordinal=i % 8,
            title=f"Document {i // 8}",
            heading_path=["Policies", "Returns"],
            text=TEXT,
            audiences=["internal"] if kind in (2, 3, 4) else ["public", "internal"],
            effective_from=NOW - 86_400,
            effective_until=NEVER,
            visible_from=NEVER if kind == 1 else 1,
            visible_until=GENERATION if kind == 0 else NEVER,
            metadata={"source": f"file{i % 50}.md", "lang": "en"},
        )
        points.append(
            ChunkPoint(
                payload=payload,
                dense=dense[i].tolist(),
                sparse=SparseVector(indices=sorted(int(t) for t in terms), values=[1.0] * 20),
            )
        )
    return points


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    p50, p95 = np.percentile(np.asarray(samples_ms), [50, 95])
    return {"p50": float(p50), "p95": float(p95)}


def latency(search: Callable[[int], object], queries: int, repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        samples = []
        for q in range(queries):
            start = time.perf_counter()
            search(q)
            samples.append((time.perf_counter() - start) * 1000)
        runs.append(percentiles(samples))
    return {
        "p50_ms": round(statistics.median(r["p50"] for r in runs), 3),
        "p95_ms": round(statistics.median(r["p95"] for r in runs), 3),
    }


def measure(
    name: str, store: VectorStore, points: list[ChunkPoint], args: argparse.Namespace, *, optimize: bool = False
) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    flt = SearchFilter(generation=GENERATION, now=NOW, audiences=["public"])
    queries = rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    dense_queries = [q.tolist() for q in queries]
    sparse_queries = [
        SparseVector(indices=sorted(int(t) for t in rng.choice(30_000, size=6, replace=False)), values=[1.0] * 6)
        for _ in range(args.queries)
    ]
    store.ensure_collection(args.dim)
    start = time.perf_counter()
    for i in range(0, len(points), BATCH):
        store.upsert(points[i : i + BATCH])
    upsert_s = time.perf_counter() - start
    result: dict[str, Any] = {
        "store": name,
        "upsert_points_per_s": round(len(points) / upsert_s),
        "upsert_total_s": round(upsert_s, 2),
    }
    if optimize and isinstance(store, QdrantEdgeStore):
        start = time.perf_counter()
        store.optimize()
        result["optimize_s"] = round(time.perf_counter() - start, 2)
    hits = store.search_dense(dense_queries[0], flt, 10)
    assert len(hits) == 10 and all(h.payload.audiences != ["internal"] for h in hits)
    result["dense_filtered_top10"] = latency(
        lambda q: store.search_dense(dense_queries[q], flt, 10), args.queries, args.repeats
    )
    result["sparse_filtered_top10"] = latency(
        lambda q: store.search_sparse(sparse_queries[q], flt, 10), args.queries, args.repeats
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stores", default="edge,edge_optimized,local,memory")
    args = parser.parse_args()

    points = make_points(args.points, args.dim, np.random.default_rng(0))
    results = []
    with tempfile.TemporaryDirectory(prefix="gd-bench-") as tmp:
        factories: dict[str, Callable[[], VectorStore]] = {
            "edge": lambda: QdrantEdgeStore(Path(tmp) / "edge"),
            "edge_optimized": lambda: QdrantEdgeStore(Path(tmp) / "edge-opt"),
            "local": lambda: QdrantClientStore.open(Path(tmp) / "local"),
            "memory": MemoryVectorStore,
        }
        for name in args.stores.split(","):
            store = factories[name]()
            try:
                results.append(measure(name, store, points, args, optimize=name == "edge_optimized"))
            finally:
                store.close()
    report = {
        "points": args.points,
        "dim": args.dim,
        "queries": args.queries,
        "repeats": args.repeats,
        "filter": "visible_from <= G < visible_until, effective_from <= now < effective_until, audiences any-of",
        "machine": {"python": platform.python_version(), "arch": platform.machine(), "cpus": os.cpu_count()},
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
