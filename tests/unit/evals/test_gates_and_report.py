"""Gates, baselines and report files; a metric broken on purpose fails the gate and the CLI exits non-zero."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import grounddesk.evals.suites as suites_module
from grounddesk.cli import app
from grounddesk.config import Settings
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.evals.gates import (
    DEFAULT_GATES,
    check_gates,
    compare_baseline,
    flatten_report,
    gate_report,
    load_gates,
    resolve,
)
from grounddesk.evals.report import write_report
from grounddesk.evals.runner import EvalContext, EvalReport, Evaluator, SuiteResult, run_all


class FakeSuite:
    """An evaluator returning fixed figures (no agent, no data)."""

    name = "fake"
    datasets: tuple[str, ...] = ("tiny",)
    description = "fixed figures"

    def __init__(self, f1: float) -> None:
        self.f1 = f1

    def run(self, ctx: EvalContext) -> SuiteResult:
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics={"pooled": {"f1": self.f1, "tool_calls": 0}, "latency.ms": {"p95": 120.0}, "flag": True},
            headline=["pooled.f1"],
            artifacts={
                "reliability": [{"lo": 0.8, "hi": 0.9, "count": 3, "confidence": 0.85, "accuracy": 0.67}],
                "risk_coverage": [(0.5, 0.0), (1.0, 0.25)],
                "turn_ms": [10.0, 12.0, 30.0, 11.0],
                "confusion": {"unanswerable": {"low_confidence": 2, "answer": 1}, "no_escalation": {"answer": 5}},
            },
        )


class BrokenSuite(FakeSuite):
    name = "broken"

    def run(self, ctx: EvalContext) -> SuiteResult:
        raise GrounddeskError("data missing", code=ErrorCode.DATASET)


def report_with(f1: float, *, mode: str = "full") -> EvalReport:
    ctx = EvalContext(data_dir=Path("."), settings=Settings(home=Path("unused")), quick=mode == "quick")
    registry: dict[str, Evaluator] = {"fake": FakeSuite(f1), "broken": BrokenSuite(f1)}
    return run_all(ctx, [("fake", "tiny"), ("broken", "tiny")], registry=registry)


GATES = """
fake.tiny.pooled.f1: {min: 0.8, quick: {min: 0.5}}
fake.tiny.pooled.tool_calls: {max: 0}
fake.tiny.latency.ms.p95: {max: 500}
fake.tiny.not.there: {min: 1, optional: true}
"""


def test_run_all_records_results_and_failed_suites() -> None:
    report = report_with(0.9)
    assert report.suites["fake"]["tiny"].metrics["pooled"]["f1"] == 0.9
    assert report.errors == [{"suite": "broken", "dataset": "tiny", "code": "dataset_error", "detail": "data missing"}]
    assert report.mode == "full" and report.took_s >= 0


def test_gates_pass_fail_use_quick_limits_and_treat_missing_metrics(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text(GATES)
    gates = load_gates(path)
    good = check_gates(report_with(0.9).model_dump(mode="json"), gates)
    assert [c.status for c in good] == ["pass", "pass", "pass", "missing"] and all(c.ok for c in good)
    bad = check_gates(report_with(0.6).model_dump(mode="json"), gates)
    assert bad[0].status == "fail" and bad[0].value == 0.6 and bad[0].min == 0.8
    quick = check_gates(report_with(0.6, mode="quick").model_dump(mode="json"), gates)
    assert quick[0].status == "pass" and quick[0].min == 0.5
    gates["fake.tiny.gone"] = gates["fake.tiny.pooled.tool_calls"].model_copy(update={"optional": False})
    block = gate_report(report_with(0.9).model_dump(mode="json"), gates, str(path))
    assert block["passed"] is False and block["failed"] == ["fake.tiny.gone"]


def test_paths_match_keys_that_contain_dots_and_bools_are_not_figures() -> None:
    tree = {"a": {"latency.ms": {"p95": 3}, "latency": {"x": 1}, "flag": True}}
    assert resolve(tree, "a.latency.ms.p95") == 3
    assert resolve(tree, "a.latency.x") == 1
    assert resolve(tree, "a.nope") is None
    flat = flatten_report(report_with(0.9).model_dump(mode="json"))
    assert flat["fake.tiny.pooled.f1"] == 0.9 and "fake.tiny.flag" not in flat


def test_bad_gate_files_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text("x.y.z: {}\n")
    with pytest.raises(GrounddeskError) as caught:
        load_gates(path)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    path.write_text("x.y.z: {minimum: 1}\n")
    with pytest.raises(GrounddeskError):
        load_gates(path)
    with pytest.raises(GrounddeskError) as missing:
        load_gates(tmp_path / "none.yaml")
    assert missing.value.code is ErrorCode.DATASET


def test_the_default_gates_file_parses_and_names_real_suites() -> None:
    gates = load_gates(DEFAULT_GATES)
    assert gates and all(path.split(".")[0] in suites_module.SUITES for path in gates)
    assert gates["safety.all.bipia.tool_calls_triggered"].max == 0


def test_the_baseline_gives_the_change_of_every_shared_figure() -> None:
    new = report_with(0.9).model_dump(mode="json")
    old = report_with(0.75).model_dump(mode="json")
    deltas = compare_baseline(new, old)
    assert deltas["fake.tiny.pooled.f1"] == {"old": 0.75, "new": 0.9, "delta": pytest.approx(0.15)}
    assert deltas["fake.tiny.pooled.tool_calls"]["delta"] == 0


def test_the_report_writes_json_markdown_and_html_that_references_existing_plots(tmp_path: Path) -> None:
    report = report_with(0.9)
    report.baseline = {"path": "old.json", "deltas": {"fake.tiny.pooled.f1": {"old": 0.8, "new": 0.9, "delta": 0.1}}}
    files = write_report(report, tmp_path / "out")
    assert json.loads(files.json_path.read_text())["suites"]["fake"]["tiny"]["metrics"]["pooled"]["f1"] == 0.9
    assert len(files.plots) == 4
    page = files.html_path.read_text()
    images = re.findall(r"<img src='([^']+)'", page)
    assert len(images) == 4
    for name in images:
        png = files.html_path.parent / name
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = files.markdown_path.read_text()
    assert "| fake | tiny | pooled.f1 | 0.9 | +0.1 |" in markdown
    assert "broken / tiny** failed" in markdown
    assert all(f"]({p.name})" in markdown for p in files.plots.values())


def _cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, f1: float, *extra: str) -> Any:
    monkeypatch.setattr(suites_module, "ALL_PLAN", (("fake", "tiny"),))
    monkeypatch.setitem(suites_module.SUITES, "fake", FakeSuite(f1))
    gates = tmp_path / "gates.yaml"
    gates.write_text(GATES)
    args = ["--home", str(tmp_path / "home"), "eval", "all", "--data-dir", str(tmp_path), "--json"]
    args += ["--report", str(tmp_path / "report"), "--gate", str(gates), *extra]
    return CliRunner().invoke(app, args)


def test_a_metric_broken_on_purpose_fails_the_gate_and_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passing = _cli(tmp_path, monkeypatch, 0.9)
    assert passing.exit_code == 0, passing.output
    assert json.loads(passing.stdout)["gates"]["passed"] is True
    baseline = tmp_path / "baseline.json"
    baseline.write_text((tmp_path / "report" / "report.json").read_text())

    broken = _cli(tmp_path, monkeypatch, 0.42, "--baseline", str(baseline))
    assert broken.exit_code == 1
    summary = json.loads(broken.stdout)
    assert summary["gates"]["failed"] == ["fake.tiny.pooled.f1"]
    written = json.loads((tmp_path / "report" / "report.json").read_text())
    assert written["gates"]["passed"] is False
    assert written["baseline"]["deltas"]["fake.tiny.pooled.f1"]["delta"] == pytest.approx(-0.48)
    assert "FAILED" in (tmp_path / "report" / "report.md").read_text()


def test_the_created_timestamp_is_timezone_aware() -> None:
    assert report_with(0.9).created_at.tzinfo is not None
    assert EvalReport(created_at=datetime.now(UTC), mode="full", data_dir=".").results() == []
