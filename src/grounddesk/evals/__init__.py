"""Offline evaluation harness: datasets, metrics, runners and reports."""

from grounddesk.evals.bm25 import PlainBM25
from grounddesk.evals.datasets import RetrievalDataset, RetrievalQuery, load_retrieval_dataset
from grounddesk.evals.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from grounddesk.evals.retrieval import run_retrieval_eval, score_rankings

__all__ = [
    "PlainBM25",
    "RetrievalDataset",
    "RetrievalQuery",
    "load_retrieval_dataset",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
    "run_retrieval_eval",
    "score_rankings",
]
