"""The intent-routing eval and the follow-up rewriting eval on tiny data folders laid out like ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grounddesk.config import Settings
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.evals.oos import run_oos_eval
from grounddesk.evals.rewrite import load_histories, run_rewrite_eval
from grounddesk.testing.embedders import HashingEmbedder

TOPICS = {
    "pay_bill": ["pay my electricity bill", "pay the water bill now", "settle my phone bill", "bill payment please"],
    "book_taxi": ["book a taxi to the airport", "call me a cab", "get a taxi for tonight", "taxi booking downtown"],
    "play_music": ["play some jazz music", "put on rock music", "play my music playlist", "start the music"],
}


def jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def clinc_dir(root: Path) -> Path:
    rows = [
        {"text": text, "intent": intent, "is_oos": False, "split": "train"}
        for intent, texts in TOPICS.items()
        for text in texts
    ]
    rows += [
        {"text": "pay the gas bill", "intent": "pay_bill", "is_oos": False, "split": "val"},
        {"text": "taxi to the station", "intent": "book_taxi", "is_oos": False, "split": "test"},
        {"text": "play jazz", "intent": "play_music", "is_oos": False, "split": "val"},
        {"text": "quantum chromodynamics lecture", "intent": "oos", "is_oos": True, "split": "val"},
        {"text": "medieval castle architecture", "intent": "oos", "is_oos": True, "split": "test"},
        {"text": "what is a volcano", "intent": "oos", "is_oos": True, "split": "train"},
    ]
    jsonl(root / "clinc150_oos" / "data_full.jsonl", rows)
    return root


def test_the_clinc_eval_reports_the_contract_keys_and_scores_every_non_train_split(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    result = run_oos_eval(clinc_dir(tmp_path / "data"), embedder=HashingEmbedder(256), settings=settings)

    assert {"dataset", "cases", "oos_recall", "in_scope_accuracy"} <= set(result)
    assert result["dataset"] == "clinc"
    assert (result["cases"], result["in_scope_cases"], result["oos_cases"]) == (5, 3, 2)  # val and test
    assert (result["intents"], result["train_examples"], result["oos_examples"]) == (3, 12, 1)
    assert result["accuracy_without_rejection"] == 1.0  # each case shares words with its intent only
    assert result["oos_recall"] == 1.0  # no shared words with any intent
    assert result["in_scope_accuracy"] <= result["accuracy_without_rejection"]
    assert 0.0 <= result["threshold"] <= 1.0
    assert list((tmp_path / "home" / "evals" / "router-cache").glob("*.npz"))


def test_a_fixed_threshold_of_one_rejects_everything(tmp_path: Path) -> None:
    from grounddesk.agent.router import RouterSettings

    result = run_oos_eval(
        clinc_dir(tmp_path / "data"),
        embedder=HashingEmbedder(256),
        settings=Settings(home=tmp_path / "home"),
        router_settings=RouterSettings(oos_threshold=1.0),
    )
    assert (result["in_scope_accuracy"], result["oos_recall"], result["threshold"]) == (0.0, 1.0, 1.0)


def test_banking77_holds_out_every_fifth_example_of_each_intent(tmp_path: Path) -> None:
    rows = [
        {"text": f"{text} {i}", "intent": intent.upper() if intent == "pay_bill" else intent, "split": "train"}
        for intent, texts in TOPICS.items()
        for i in range(5)
        for text in texts[:2]
    ]
    jsonl(tmp_path / "banking77" / "train.jsonl", rows)
    result = run_oos_eval(
        tmp_path, embedder=HashingEmbedder(256), settings=Settings(home=tmp_path / "home"), dataset="banking77"
    )
    assert (result["dataset"], result["cases"], result["train_examples"]) == ("banking77", 6, 24)
    assert result["oos_recall"] is None and result["oos_cases"] == 0
    assert result["accuracy_without_rejection"] == 1.0  # upper-case intent names are normalised on both sides


def test_a_missing_dataset_file_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(GrounddeskError) as caught:
        run_oos_eval(tmp_path, embedder=HashingEmbedder(), settings=Settings(home=tmp_path / "home"))
    assert caught.value.code is ErrorCode.DATASET


def mtrag_dir(root: Path) -> Path:
    base = root / "mtrag_un"
    jsonl(
        base / "pooled_passages.jsonl",
        [
            {"document_id": "p-visa", "title": "Visa", "text": "A tourist visa for Canada costs 100 dollars.\n"},
            {"document_id": "p-tax", "title": "Tax", "text": "Income tax returns are due in April each year.\n"},
            {"document_id": "p-dog", "title": "Dogs", "text": "Dogs need daily walks and fresh water.\n"},
        ],
    )
    history = [{"speaker": "user", "text": "tourist visa for Canada"}, {"speaker": "agent", "text": "Yes."}]
    jsonl(
        base / "eval_view.jsonl",
        [
            {"task_id": "t1", "last_user_turn": "how much is it?", "history": history},
            {"task_id": "t2", "last_user_turn": "When are income tax returns due?", "history": repr(history)},
        ],
    )
    (base / "qrels").mkdir()
    (base / "qrels" / "govt.tsv").write_text("query-id\tcorpus-id\tscore\nt1\tp-visa\t1\nt2\tp-tax\t1\n")
    return root


def test_histories_are_read_from_lists_and_from_their_python_repr(tmp_path: Path) -> None:
    histories = load_histories(mtrag_dir(tmp_path))
    assert histories["t1"] == ("how much is it?", [("user", "tourist visa for Canada"), ("agent", "Yes.")])
    assert histories["t2"] == ("When are income tax returns due?", histories["t1"][1])


def test_the_rewrite_eval_scores_the_three_queries_on_the_same_index(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    result = run_rewrite_eval(mtrag_dir(tmp_path / "data"), settings=settings, embedder=HashingEmbedder(256))

    assert (result["dataset"], result["queries"], result["rewritten"]) == ("mtrag", 2, 1)
    assert set(result["ndcg@10"]) == {"last_turn", "with_history", "rewrite"}
    assert result["examples"] == [{"last_turn": "how much is it?", "rewrite": "how much is it? tourist visa Canada"}]
    # The follow-up alone does not put the visa passage first; rewritten, it does.
    assert result["metrics"]["last_turn"]["mrr@10"] < 1.0
    assert result["metrics"]["rewrite"]["mrr@10"] == 1.0
    assert result["ndcg@10"]["rewrite"] >= max(result["ndcg@10"]["last_turn"], result["ndcg@10"]["with_history"])
