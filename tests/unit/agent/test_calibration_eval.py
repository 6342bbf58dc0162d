"""The answerability eval, calibration fitting and the groundedness validation on a tiny MTRAG-shaped folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grounddesk.agent.calibration import fit_calibration, load_calibration, save_calibration
from grounddesk.config import Settings
from grounddesk.errors import GrounddeskError
from grounddesk.evals.answerability import (
    calibration_from_cases,
    collect_cases,
    last_user_turn,
    rewritten_query,
    run_answerability_eval,
)
from grounddesk.evals.groundedness import run_groundedness_validation
from grounddesk.testing.embedders import HashingEmbedder

PASSAGES = {
    "p-returns": "You can return unworn boots within 30 days of delivery for a full refund.",
    "p-labels": "A prepaid return label costs 6 dollars and is deducted from the refund.",
    "p-shipping": "Standard shipping to Canada takes five business days and costs 9 dollars.",
    "p-warranty": "Every tent carries a two year warranty against faults in materials and stitching.",
    "p-giftcards": "Gift cards never expire and can be spent online or in any of our stores.",
    "p-clinic": "The Riverside clinic offers vaccinations, physiotherapy and dental care for veterans.",
}
TASKS: list[tuple[str, str, list[str], list[str]]] = [
    # (answerability, last user turn, qrels, earlier user turns)
    ("ANSWERABLE", "Can I return unworn boots within 30 days of delivery?", ["p-returns"], []),
    ("ANSWERABLE", "How much does a prepaid return label cost?", ["p-labels"], []),
    ("ANSWERABLE", "How long does standard shipping to Canada take?", ["p-shipping"], []),
    ("ANSWERABLE", "Is there a warranty on a tent against faults in stitching?", ["p-warranty"], []),
    ("ANSWERABLE", "Do gift cards expire?", ["p-giftcards"], []),
    ("ANSWERABLE", "and what does it cost?", ["p-shipping"], ["How long does shipping to Canada take?"]),
    ("UNANSWERABLE", "Which quarterback won the most championships?", [], []),
    ("UNANSWERABLE", "What is the airspeed velocity of a swallow?", [], []),
    ("UNANSWERABLE", "Who composed the moonlight sonata?", [], []),
    ("UNANSWERABLE", "Recommend a recipe for lemon cheesecake", [], []),
    ("UNDERSPECIFIED", "What services does this library provide?", [], []),
    ("PARTIAL", "Does the Riverside clinic offer dental care and eye tests?", ["p-clinic"], []),
]


def write_dataset(root: Path) -> Path:
    base = root / "mtrag_un"
    (base / "qrels").mkdir(parents=True)
    with (base / "pooled_passages.jsonl").open("w") as fh:
        for doc_id, text in PASSAGES.items():
            fh.write(json.dumps({"document_id": doc_id, "title": doc_id, "text": text, "collection": "demo"}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"]
    with (base / "eval_view.jsonl").open("w") as fh:
        for i, (kind, turn, qrels, earlier) in enumerate(TASKS):
            task_id = f"conversation-{i}<::>{len(earlier) + 1}"
            history: list[dict[str, Any]] = []
            for text in earlier:
                history += [{"speaker": "user", "text": text}, {"speaker": "agent", "text": "It takes five days."}]
            record = {
                "task_id": task_id,
                "collection": "demo",
                "answerability": [kind],
                "last_user_turn": turn,
                "history": history,
                "reference_passage_ids": qrels,
                "qrels_passage_ids": qrels,
                "gold_answer": "",
            }
            fh.write(json.dumps(record) + "\n")
            rows += [f"{task_id}\t{q}\t1" for q in qrels]
    (base / "qrels" / "demo.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("home"))


def test_collect_cases_labels_each_task_by_whether_it_cites_a_gold_passage(data_dir: Path, settings: Settings) -> None:
    cases = collect_cases(data_dir, settings=settings, embedder=HashingEmbedder(), query_fn=last_user_turn)
    assert len(cases) == len(TASKS)
    by_turn = {c.message: c for c in cases}
    returns = by_turn["Can I return unworn boots within 30 days of delivery?"]
    assert returns.cited[0] == "p-returns"
    assert returns.label == 1
    assert "30 days" in returns.answer
    assert all(c.label == 0 for c in cases if c.answerability == "UNANSWERABLE")
    assert returns.features["term_coverage"] == 1.0


def test_the_default_query_is_the_agents_rewrite_of_a_follow_up(data_dir: Path, settings: Settings) -> None:
    cases = collect_cases(data_dir, settings=settings, embedder=HashingEmbedder())
    follow_up = next(c for c in cases if c.message == "and what does it cost?")
    assert follow_up.query != follow_up.message
    assert "Canada" in follow_up.query
    assert follow_up.cited[0] == "p-shipping"
    task = {"last_user_turn": "and what does it cost?", "history": [{"speaker": "user", "text": "Shipping to Canada?"}]}
    assert rewritten_query(task).startswith("and what does it cost?")
    assert "Canada" in rewritten_query(task)
    assert rewritten_query({"last_user_turn": "Do gift cards expire?", "history": []}) == "Do gift cards expire?"


def test_the_eval_reports_the_promised_figures(data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    cases = collect_cases(data_dir, settings=settings, embedder=HashingEmbedder())
    fitted = calibration_from_cases(cases, folds=2)
    path = save_calibration(fitted, tmp_path / "calibration.json")
    result = run_answerability_eval(
        data_dir, settings=settings, embedder=HashingEmbedder(), calibration=load_calibration(path), folds=2
    )
    for key in ("dataset", "cases", "auroc", "ece", "answered_rate_answerable", "declined_rate_unanswerable"):
        assert key in result
    assert result["dataset"] == "mtrag"
    assert result["cases"] == len(TASKS)
    assert set(result["by_class"]) == {"ANSWERABLE", "UNANSWERABLE", "UNDERSPECIFIED", "PARTIAL"}
    for kind, counts in result["by_class"].items():
        assert set(counts) == {"answer", "clarify", "escalate"}
        assert sum(counts.values()) == result["n"][kind]
    assert result["thresholds"]["answer"] == fitted.answer_threshold
    assert result["calibration_in_use"]["fitted_on_this_data"] is True
    # fitted on the very cases it is scored on, the file separates the classes
    assert result["in_sample"]["auroc"] == result["calibration_in_use"]["auroc"]
    assert result["in_sample"]["auroc"] >= 0.8
    assert 0.0 <= result["ece"] <= 1.0
    # "this library" names nothing said before: below the threshold it is a question to clarify, not a hand-off
    assert result["by_class"]["UNDERSPECIFIED"]["escalate"] == 0


def test_fit_calibration_writes_a_loadable_file_with_its_figures(data_dir: Path, settings: Settings) -> None:
    fitted = fit_calibration(data_dir, settings=settings, embedder=HashingEmbedder())
    assert fitted.fitted_on["cases"] == len(TASKS)
    assert fitted.fitted_on["query"] == "rewritten_query"
    assert "auroc" in fitted.metrics["cross_validated"]
    assert 0.0 < fitted.answer_threshold < 1.0


def test_a_missing_dataset_is_a_dataset_error(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(GrounddeskError) as err:
        collect_cases(tmp_path, settings=settings, embedder=HashingEmbedder())
    assert err.value.code == "dataset_error"


def test_groundedness_ranks_faithful_answers_above_unfaithful_ones(tmp_path: Path) -> None:
    base = tmp_path / "mtrag_un"
    base.mkdir()
    context = [{"document_id": "p-returns", "title": "Returns", "text": PASSAGES["p-returns"]}]
    responses = [
        ("You can return unworn boots within 30 days of delivery.", 4),
        ("You can return unworn boots at any of our stores.", 2),  # 3 of 4 content words supported
        ("You can return unworn boots within 90 days of delivery.", 1),  # a number the source contradicts
    ]
    with (base / "human_judgements.jsonl").open("w") as fh:
        for i, (response, median) in enumerate(responses):
            record = {"task_id": f"t{i}", "model_id": "m", "contexts": context, "response": response}
            fh.write(json.dumps({**record, "human_faithfulness_median": median}) + "\n")
    result = run_groundedness_validation(tmp_path)
    assert result["responses"] == 3
    assert result["faithful"] == 1
    assert result["checker"] == "lexical_only"
    assert result["mean"] == {"spearman": 1.0, "auroc": 1.0}
