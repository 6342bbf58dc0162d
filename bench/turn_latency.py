"""Turn latency of the agent on the embedded default (extractive, checkpointer on, 10k-chunk knowledge base).

Targets: p50 <= 30 ms, p95 <= 60 ms over 200 turns. In the same run, the same questions go through a plain
LangChain retrieval chain (the same retriever, a prompt template, no model call) as the baseline.

    python bench/turn_latency.py [--turns 200] [--repeats 3] [--chunks 10000]
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

from _common import DEFAULT_DATA, cpu_info, median, percentile
from grounddesk.agent.types import ConversationContext
from grounddesk.config import Settings
from grounddesk.knowledge.types import ChunkPoint
from grounddesk.wiring import build_agent, build_embedder, build_knowledge_base
from kb_search import _queries, _synthesize


def _baseline_chain(kb: Any) -> Any:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    from grounddesk.knowledge.retriever import GrounddeskRetriever

    retriever = GrounddeskRetriever(searcher=kb.searcher, audiences=["public"], top_k=5)
    prompt = ChatPromptTemplate.from_template(
        "Answer from the context only.\n\nContext:\n{context}\n\nQuestion: {question}"
    )
    fmt = RunnableLambda(lambda docs: "\n\n".join(d.page_content for d in docs))
    return (
        {"context": retriever | fmt, "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(lambda p: p.to_string())
        | StrOutputParser()
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=10_000)
    args = parser.parse_args()
    embedder = build_embedder(Settings())
    embedder.embed_query("warm up")
    # Distinct questions in every repeat: no repeat is flattered by the query-vector cache of the one before.
    pool = _queries(args.data_dir, args.turns * args.repeats)
    question_sets = [pool[r * args.turns : (r + 1) * args.turns] for r in range(args.repeats)]
    questions = question_sets[0]
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        kb = build_knowledge_base(settings, embedder=embedder)
        report = kb.import_paths([args.data_dir / "tau2_banking_knowledge/documents.jsonl"], approve=True)
        kb.wait_prepared()  # steady state of a service: the answer sentences of imported documents are prepared
        real = [p for item in report.imported for p in kb.store.chunks(item.doc_id)]
        dense = embedder.embed_documents([f"{p.title}\n\n{p.text}" for p in real])
        seeds = [
            ChunkPoint(payload=p, dense=d, sparse=kb.sparse.encode_document(p.text))
            for p, d in zip(real, dense, strict=True)
        ]
        _synthesize(kb, seeds, args.chunks, random.Random(3))
        kb.store.optimize()
        kb.close()
        agent, close = build_agent(settings, embedder=embedder)
        try:
            context = ConversationContext(audiences=("public",))
            agent.turn("warm", "hello there, how are you?", context=context)
            runs, node_runs, decisions, per_repeat = [], [], {}, []
            for rep in range(args.repeats):
                lat, nodes_this = [], []
                for i, q in enumerate(question_sets[rep]):
                    started = time.perf_counter()
                    conversation = f"bench-{rep}-{i % 20}"  # 20 conversations, 10 turns each: history grows
                    result = agent.turn(conversation, q, context=context)
                    lat.append((time.perf_counter() - started) * 1000.0)
                    node_runs.append(result.timings_ms)
                    nodes_this.append(result.timings_ms)
                    decisions[result.decision] = decisions.get(result.decision, 0) + 1
                    if result.decision == "escalate":  # untimed: a person hands back, so every timed turn is a bot turn
                        agent.resume(conversation, {"action": "return_to_bot", "summary": "handled"}, context=context)
                runs.append(lat)
                per_repeat.append(
                    {
                        "p50_ms": round(percentile(lat, 50), 2),
                        "p95_ms": round(percentile(lat, 95), 2),
                        "per_node_p50_ms": {
                            n: round(percentile([t[n] for t in nodes_this if n in t], 50), 2)
                            for n in sorted({k for t in nodes_this for k in t})
                        },
                    }
                )
                print(f"repeat {rep + 1}: {per_repeat[-1]}", file=sys.stderr)
            chain = _baseline_chain(agent_kb(agent))
            base_runs = []
            for _ in range(args.repeats):
                lat = []
                for q in question_sets[_ % len(question_sets)]:
                    started = time.perf_counter()
                    chain.invoke(q)
                    lat.append((time.perf_counter() - started) * 1000.0)
                base_runs.append(lat)
        finally:
            close()
    nodes = sorted({k for t in node_runs for k in t})
    out = {
        "benchmark": "turn_latency",
        "chunks": args.chunks,
        "turns": len(questions),
        "note": "repeat 1 starts with cold caches (query and sentence vectors); later repeats ask new questions "
        "over a knowledge base whose sentence vectors are partly cached, as in a running service",
        "repeats": args.repeats,
        "agent": {
            "p50_ms": round(median([percentile(r, 50) for r in runs]), 2),
            "p95_ms": round(median([percentile(r, 95) for r in runs]), 2),
            "per_node_p50_ms": {n: round(percentile([t[n] for t in node_runs if n in t], 50), 2) for n in nodes},
            "decisions": decisions,
            "per_repeat": per_repeat,
        },
        "baseline_langchain_retrieval_chain": {
            "p50_ms": round(median([percentile(r, 50) for r in base_runs]), 2),
            "p95_ms": round(median([percentile(r, 95) for r in base_runs]), 2),
        },
        "targets_ms": {"p50": 30, "p95": 60},
        "machine": cpu_info(),
    }
    out["p50_ratio_agent_over_baseline"] = round(
        out["agent"]["p50_ms"] / out["baseline_langchain_retrieval_chain"]["p50_ms"], 2
    )
    print(json.dumps(out, indent=2))


def agent_kb(agent: Any) -> Any:
    """The knowledge base behind the agent (the baseline chain uses the very same retriever)."""
    return agent.knowledge


if __name__ == "__main__":
    main()
