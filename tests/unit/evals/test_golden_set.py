"""Golden sets in JSONL: the packaged example, a round trip, and errors with stable codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.evals.case import Case, Dataset, GoldenSetError, HistoryTurn, example_golden_path, load_dataset


def test_the_packaged_example_covers_answers_escalations_clarifications_and_tools() -> None:
    data = load_dataset("golden")
    assert data.name == "golden" and len(data.cases) >= 20
    decisions = {c.expected_decision for c in data.cases}
    assert decisions == {"answer", "escalate", "clarify"}
    assert any(c.expected_doc_ids for c in data.cases)
    assert any(c.expected_tool and not c.verified for c in data.cases)  # verification before account tools
    assert any(c.history for c in data.cases)
    assert len({c.id for c in data.cases}) == len(data.cases)


def test_a_dataset_survives_a_round_trip_through_jsonl(tmp_path: Path) -> None:
    original = Dataset(
        name="mine",
        cases=[
            Case(
                id="a", question="How long do refunds take?", expected_decision="answer", expected_doc_ids=["refunds"]
            ),
            Case(
                id="b",
                question="and to Canada?",
                history=[HistoryTurn(role="user", text="Do you ship abroad?"), HistoryTurn(role="agent", text="Yes.")],
                customer_id="C-1001",
                verified=True,
                expected_decision="escalate",
                expected_reason="low_confidence",
                tags=["follow-up"],
                metadata={"source": "support log 2026-11"},
            ),
        ],
    )
    path = original.to_jsonl(tmp_path / "mine.jsonl")
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and "audiences" not in json.loads(lines[0])  # defaults are left out
    assert Dataset.from_jsonl(path) == original
    assert load_dataset(str(path)).cases == original.cases
    assert original.subset(["b"]).cases == [original.cases[1]]


@pytest.mark.parametrize(
    ("content", "problem", "line"),
    [
        ('{"id": "a", "question": "q"}\nnot json\n', "invalid_json", 2),
        ('["a list"]\n', "invalid_case", 1),
        ('{"id": "a"}\n', "invalid_case", 1),
        ('{"id": "a", "question": "   "}\n', "invalid_case", 1),
        ('{"id": "a", "question": "q", "expected_decision": "refund"}\n', "invalid_case", 1),
        ('{"id": "a", "question": "q", "expected_desicion": "answer"}\n', "invalid_case", 1),
        ('{"id": "a", "question": "q"}\n\n{"id": "a", "question": "r"}\n', "duplicate_id", 3),
        ("\n\n", "empty_dataset", 0),
    ],
)
def test_bad_golden_sets_fail_with_a_stable_problem_code_and_line(
    tmp_path: Path, content: str, problem: str, line: int
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(GoldenSetError) as caught:
        Dataset.from_jsonl(path)
    err = caught.value
    assert err.code is ErrorCode.INVALID_RECORD
    assert (err.fields["problem"], err.fields["line"]) == (problem, line)
    assert err.to_dict()["code"] == "invalid_record"


def test_a_missing_golden_set_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(GrounddeskError) as caught:
        Dataset.from_jsonl(tmp_path / "nope.jsonl")
    assert caught.value.code is ErrorCode.DATASET


def test_the_example_file_is_shipped_inside_the_package() -> None:
    path = example_golden_path()
    assert path.is_file() and path.parent.name == "examples" and path.parent.parent.name == "evals"
