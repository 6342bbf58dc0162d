"""Adapters that read the public evaluation sets laid out like ``../shared/data``.

Each adapter takes the folder that holds the datasets (``--data-dir``) and never copies the data anywhere.
"""

from __future__ import annotations

import ast
import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.knowledge.types import LoadedDocument

__all__ = ["RETRIEVAL_DATASETS", "RetrievalDataset", "RetrievalQuery", "load_retrieval_dataset", "read_jsonl"]

RETRIEVAL_DATASETS = ("tau2-banking", "mtrag")


class RetrievalQuery(BaseModel):
    """One query with the ids of the documents (or passages) that answer it."""

    id: str
    text: str
    relevant: list[str]


class RetrievalDataset(BaseModel):
    """A knowledge collection and the queries to search it with."""

    name: str
    documents: list[LoadedDocument]
    queries: list[RetrievalQuery]
    variants: dict[str, list[RetrievalQuery]] = Field(
        default_factory=dict, description="Other phrasings of the same queries, reported separately."
    )
    unit: Literal["document", "passage"] = "document"


def _need(path: Path) -> Path:
    if not path.exists():
        raise GrounddeskError(
            f"{path} is missing: --data-dir must be a folder laid out like ../shared/data",
            code=ErrorCode.DATASET,
            path=str(path),
        )
    return path


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSONL file of a public dataset; a missing file is a ``dataset_error``."""
    with _need(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _qrels(paths: list[Path]) -> dict[str, list[str]]:
    relevant: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        with _need(path).open(encoding="utf-8") as fh:
            for row in csv.reader(fh, delimiter="\t"):
                if len(row) < 3 or row[0] in ("query_id", "query-id"):
                    continue
                if float(row[2]) > 0:
                    relevant[row[0]].append(row[1])
    return relevant


def _tau2(root: Path) -> RetrievalDataset:
    base = root / "tau2_banking_knowledge"
    docs_path = base / "documents.jsonl"
    documents = [
        LoadedDocument(
            doc_id=rec["id"],
            title=rec.get("title") or rec["id"],
            text=rec["content"],
            source_uri=f"file://{docs_path.resolve()}#{rec['id']}",
            media_type="text/markdown",
        )
        for rec in read_jsonl(docs_path)
    ]
    qrels = _qrels([base / "qrels.tsv"])
    queries = [
        RetrievalQuery(id=task["id"], text=task["user_instructions"], relevant=qrels[task["id"]])
        for task in read_jsonl(base / "tasks.jsonl")
        if qrels.get(task["id"])
    ]
    return RetrievalDataset(name="tau2-banking", documents=documents, queries=queries, unit="document")


def _literal_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.strip():
        parsed = ast.literal_eval(value)
        return list(parsed) if isinstance(parsed, list | tuple) else []
    return []


def _mtrag(root: Path) -> RetrievalDataset:
    base = root / "mtrag_un"
    passages_path = base / "pooled_passages.jsonl"
    documents = []
    for rec in read_jsonl(passages_path):
        title = rec.get("title") or ""
        title = "" if title == "None" else title
        documents.append(
            LoadedDocument(
                doc_id=rec["document_id"],
                title=title,
                text=rec["text"].strip(),
                source_uri=f"file://{passages_path.resolve()}#{rec['document_id']}",
                media_type="text/plain",
                metadata={"collection": rec.get("collection", "")},
            )
        )
    qrels = _qrels(sorted(_need(base / "qrels").glob("*.tsv")))
    last: list[RetrievalQuery] = []
    joined: list[RetrievalQuery] = []
    for task in read_jsonl(base / "eval_view.jsonl"):
        relevant = qrels.get(task["task_id"])
        if not relevant:
            continue
        turn = task["last_user_turn"]
        earlier = [h["text"] for h in _literal_list(task.get("history")) if h.get("speaker") == "user"]
        last.append(RetrievalQuery(id=task["task_id"], text=turn, relevant=relevant))
        joined.append(RetrievalQuery(id=task["task_id"], text=" ".join([*earlier, turn]), relevant=relevant))
    return RetrievalDataset(
        name="mtrag", documents=documents, queries=last, variants={"with_history": joined}, unit="passage"
    )


def load_retrieval_dataset(name: str, data_dir: Path) -> RetrievalDataset:
    """Read a retrieval dataset by name from a folder laid out like ``../shared/data``.

    Raises:
        GrounddeskError: ``dataset_error`` for an unknown name or a missing file.
    """
    if name == "tau2-banking":
        return _tau2(data_dir)
    if name == "mtrag":
        return _mtrag(data_dir)
    raise GrounddeskError(
        f"unknown retrieval dataset {name!r}; choose one of {', '.join(RETRIEVAL_DATASETS)}", code=ErrorCode.DATASET
    )
