"""Ingestion throughput, end to end (load, chunk, embed, upsert, register), on the tau2 banking documents.

Target: >= 100 chunks/s on this 2-core machine. Each repeat imports into a fresh home (embedded SQLite +
Qdrant edge); the figure is the median of the repeats. The import returns once every chunk is embedded, stored
and registered (searchable once approved); the agent's answer-sentence vectors are then prepared in the
background, and the time until that finishes too is reported beside it (``*_with_sentences``). Usage:

    python bench/kb_ingest.py [--data-dir ../shared/data] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA, cpu_info, median
from grounddesk.config import Settings
from grounddesk.wiring import build_embedder, build_knowledge_base


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    source = args.data_dir / "tau2_banking_knowledge" / "documents.jsonl"
    embedder = build_embedder(Settings())
    embedder.embed_query("warm up")  # model load is a one-off cost of the process, not of ingestion
    runs = []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as home:
            kb = build_knowledge_base(Settings(home=Path(home)), embedder=embedder)
            started = time.perf_counter()
            report = kb.import_paths([source], audiences=["public"])
            elapsed = time.perf_counter() - started
            approve_started = time.perf_counter()
            for item in report.imported:
                kb.approve(item.doc_id, item.version)
            approve_s = time.perf_counter() - approve_started
            kb.wait_prepared()
            with_sentences = time.perf_counter() - started
            chunks = sum(i.chunks for i in report.imported)
            tokens = sum(len(p.text.split()) for p in kb.store.chunks(report.imported[0].doc_id))
            kb.close()
        runs.append(
            {
                "seconds": elapsed,
                "chunks": chunks,
                "docs": len(report.imported),
                "approve_s": approve_s,
                "with_sentences_s": with_sentences,
            }
        )
        print(
            f"repeat {repeat + 1}: {chunks} chunks in {elapsed:.1f} s ({with_sentences:.1f} s with answer sentences)",
            file=sys.stderr,
        )
        del tokens
    out = {
        "benchmark": "kb_ingest",
        "source": "tau2_banking_knowledge/documents.jsonl",
        "documents": runs[0]["docs"],
        "chunks": runs[0]["chunks"],
        "repeats": len(runs),
        "seconds_median": round(median([r["seconds"] for r in runs]), 2),
        "chunks_per_s_median": round(median([r["chunks"] / r["seconds"] for r in runs]), 1),
        "docs_per_s_median": round(median([r["docs"] / r["seconds"] for r in runs]), 1),
        "approve_all_s_median": round(median([r["approve_s"] for r in runs]), 2),
        "seconds_with_sentences_median": round(median([r["with_sentences_s"] for r in runs]), 2),
        "chunks_per_s_with_sentences_median": round(median([r["chunks"] / r["with_sentences_s"] for r in runs]), 1),
        "target_chunks_per_s": 100,
        "machine": cpu_info(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
