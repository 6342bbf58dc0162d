"""The eval report opens in a real browser and shows its four plots."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from grounddesk.config import Settings
from grounddesk.evals.report import write_report
from grounddesk.evals.runner import EvalContext, SuiteResult, run_all


class _Figures:
    """An evaluator with fixed figures and every artifact the report plots."""

    name = "fixed"
    datasets: tuple[str, ...] = ("tiny",)
    description = "fixed figures"

    def run(self, ctx: EvalContext) -> SuiteResult:
        return SuiteResult(
            suite=self.name,
            dataset=ctx.dataset,
            metrics={"auroc": 0.9, "ece": 0.04},
            headline=["auroc", "ece"],
            artifacts={
                "reliability": [
                    {"lo": 0.0, "hi": 0.5, "count": 4, "confidence": 0.3, "accuracy": 0.25},
                    {"lo": 0.5, "hi": 1.0, "count": 6, "confidence": 0.8, "accuracy": 0.83},
                ],
                "risk_coverage": [(0.2, 0.0), (0.6, 0.1), (1.0, 0.3)],
                "turn_ms": [10.0, 12.0, 30.0, 11.0, 25.0],
                "confusion": {"unanswerable": {"low_confidence": 2, "answer": 1}, "no_escalation": {"answer": 5}},
            },
        )


def test_the_html_report_opens_and_shows_every_plot(browser: Browser, tmp_path: Path, screenshots: Path) -> None:
    ctx = EvalContext(data_dir=tmp_path, settings=Settings(home=tmp_path / "home"))
    report = run_all(ctx, [("fixed", "tiny")], registry={"fixed": _Figures()})
    files = write_report(report, tmp_path / "report")
    page = browser.new_page()
    try:
        page.goto(files.html_path.as_uri())
        page.wait_for_function("Array.from(document.images).every(i => i.complete)")
        sizes = page.evaluate("Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight])")
        assert len(sizes) == 4 and all(w > 100 and h > 100 for w, h in sizes)  # decoded pictures, not broken icons
        assert "0.9" in page.inner_text("body")
        page.screenshot(path=str(screenshots / "eval-report.png"), full_page=True)
    finally:
        page.close()
