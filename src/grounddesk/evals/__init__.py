"""Offline evaluation harness: golden sets, suites, the runner, metrics, reports and regression gates.

Example:
    >>> from grounddesk.evals import EvalContext, run_all, write_report
    >>> from grounddesk.evals.suites import ALL_PLAN
    >>> ctx = EvalContext(data_dir=Path("../shared/data"), settings=Settings(), quick=True)
    >>> report = run_all(ctx, ALL_PLAN)
    >>> write_report(report, Path("/tmp/eval")).html_path
    PosixPath('/tmp/eval/report.html')
"""

from grounddesk.evals.bm25 import PlainBM25
from grounddesk.evals.case import Case, Dataset, GoldenSetError, HistoryTurn, example_golden_path, load_dataset
from grounddesk.evals.datasets import RetrievalDataset, RetrievalQuery, load_retrieval_dataset
from grounddesk.evals.gates import Gate, GateCheck, check_gates, compare_baseline, load_gates
from grounddesk.evals.harness import AgentHarness, TurnRecord
from grounddesk.evals.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from grounddesk.evals.report import ReportFiles, write_report
from grounddesk.evals.retrieval import run_retrieval_eval, score_rankings
from grounddesk.evals.runner import EvalContext, EvalReport, Evaluator, SuiteResult, run_all, run_suite

__all__ = [
    "AgentHarness",
    "Case",
    "Dataset",
    "EvalContext",
    "EvalReport",
    "Evaluator",
    "Gate",
    "GateCheck",
    "GoldenSetError",
    "HistoryTurn",
    "PlainBM25",
    "ReportFiles",
    "RetrievalDataset",
    "RetrievalQuery",
    "SuiteResult",
    "TurnRecord",
    "check_gates",
    "compare_baseline",
    "example_golden_path",
    "load_dataset",
    "load_gates",
    "load_retrieval_dataset",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
    "run_all",
    "run_retrieval_eval",
    "run_suite",
    "score_rankings",
    "write_report",
]
