"""Report writers: ``report.json``, ``report.md`` and ``report.html``.

The JSON holds everything; the Markdown and HTML hold the summary, gates, baseline changes, notes and the plots,
which are PNG files written next to them.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from grounddesk.evals.gates import resolve
from grounddesk.evals.runner import EvalReport, SuiteResult

__all__ = ["ReportFiles", "headline_rows", "write_report"]


class ReportFiles(BaseModel):
    """What :func:`write_report` wrote."""

    json_path: Path
    markdown_path: Path
    html_path: Path
    plots: dict[str, Path] = Field(default_factory=dict, description="Plot title -> PNG file")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", Path(text).stem.lower() if text.endswith(".jsonl") else text.lower()).strip("-")


def _plots(result: SuiteResult, out_dir: Path) -> dict[str, Path]:
    from grounddesk.evals import plots

    art = result.artifacts
    tag = f"{result.suite}-{_slug(result.dataset)}"
    made: dict[str, Path | None] = {}
    if art.get("reliability"):
        made[f"Reliability diagram ({result.dataset})"] = plots.reliability_diagram(
            art["reliability"], out_dir / f"reliability-{tag}.png", title=f"Reliability ({result.dataset})"
        )
    if art.get("risk_coverage"):
        made[f"Risk-coverage curve ({result.dataset})"] = plots.risk_coverage_curve(
            art["risk_coverage"], out_dir / f"risk-coverage-{tag}.png", title=f"Risk-coverage ({result.dataset})"
        )
    if art.get("turn_ms"):
        made[f"Turn latency ({result.dataset})"] = plots.latency_histogram(
            art["turn_ms"], out_dir / f"latency-{tag}.png", title=f"Turn latency ({result.dataset})"
        )
    if art.get("confusion"):
        made[f"Escalation confusion matrix ({result.dataset})"] = plots.confusion_matrix(
            art["confusion"], out_dir / f"confusion-{tag}.png", title=f"Escalation by reason ({result.dataset})"
        )
    return {title: path for title, path in made.items() if path is not None}


def headline_rows(report: EvalReport) -> list[dict[str, Any]]:
    """One row per headline figure: suite, dataset, metric, value, and the baseline change when there is one."""
    deltas = (report.baseline or {}).get("deltas") or {}
    rows = []
    for result in report.results():
        for metric in result.headline:
            value = resolve(result.metrics, metric)
            path = f"{result.suite}.{result.dataset}.{metric}"
            rows.append(
                {
                    "suite": result.suite,
                    "dataset": result.dataset,
                    "metric": metric,
                    "value": value,
                    "delta": (deltas.get(path) or {}).get("delta"),
                }
            )
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _delta(value: Any) -> str:
    return "" if value is None else f"{value:+.4g}"


def _markdown(report: EvalReport, plots: dict[str, Path]) -> str:
    lines = [
        "# grounddesk eval report",
        "",
        f"- created: {report.created_at.isoformat()}",
        f"- mode: {report.mode}; data: `{report.data_dir}`; wall time: {report.took_s:.1f} s",
        f"- configuration: {', '.join(f'{k}={v}' for k, v in report.configuration.items())}",
        "",
        "## Headline figures",
        "",
        "| suite | dataset | metric | value | change |",
        "|---|---|---|---|---|",
    ]
    for row in headline_rows(report):
        lines.append(
            f"| {row['suite']} | {row['dataset']} | {row['metric']} | {_fmt(row['value'])} | {_delta(row['delta'])} |"
        )
    if report.gates is not None:
        verdict = "PASSED" if report.gates.get("passed") else "FAILED"
        lines += ["", f"## Gates: {verdict}", "", "| metric | value | min | max | status |", "|---|---|---|---|---|"]
        for check in report.gates.get("checks", []):
            lines.append(
                f"| {check['path']} | {_fmt(check['value'])} | {_fmt(check['min'])} | {_fmt(check['max'])} "
                f"| {check['status']} |"
            )
    if report.baseline is not None:
        lines += ["", f"Baseline: `{report.baseline.get('path')}` ({len(report.baseline.get('deltas') or {})} figures)"]
    lines += ["", "## Suites", ""]
    for result in report.results():
        lines.append(f"- **{result.suite} / {result.dataset}** ({result.took_s:.1f} s)")
        lines.extend(f"  - {note}" for note in result.notes)
    for error in report.errors:
        lines.append(f"- **{error['suite']} / {error['dataset']}** failed: [{error.get('code')}] {error.get('detail')}")
    if plots:
        lines += ["", "## Plots", ""]
        lines.extend(f"![{title}]({path.name})" for title, path in plots.items())
    lines += ["", "Every figure is in `report.json`."]
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
    "th{background:#f3f3f3}.pass{color:#176317}.fail{color:#b00020;font-weight:bold}.missing{color:#8a6d00}"
    "figure{display:inline-block;margin:0 1rem 1rem 0}img{max-width:36rem;border:1px solid #ddd}"
)


def _html(report: EvalReport, plots: dict[str, Path]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>grounddesk eval report</title>",
        f"<style>{_CSS}</style></head><body><h1>grounddesk eval report</h1>",
        f"<p>created {e(report.created_at.isoformat())} &middot; mode {e(report.mode)} &middot; data "
        f"<code>{e(report.data_dir)}</code> &middot; wall time {report.took_s:.1f} s</p>",
        "<p>" + ", ".join(f"{e(str(k))}={e(str(v))}" for k, v in report.configuration.items()) + "</p>",
        "<h2>Headline figures</h2><table><tr><th>suite</th><th>dataset</th><th>metric</th><th>value</th>"
        "<th>change</th></tr>",
    ]
    for row in headline_rows(report):
        parts.append(
            f"<tr><td>{e(row['suite'])}</td><td>{e(row['dataset'])}</td><td>{e(row['metric'])}</td>"
            f"<td>{e(_fmt(row['value']))}</td><td>{e(_delta(row['delta']))}</td></tr>"
        )
    parts.append("</table>")
    if report.gates is not None:
        verdict = "passed" if report.gates.get("passed") else "failed"
        parts.append(f"<h2>Gates: <span class='{'pass' if verdict == 'passed' else 'fail'}'>{verdict}</span></h2>")
        parts.append("<table><tr><th>metric</th><th>value</th><th>min</th><th>max</th><th>status</th></tr>")
        for c in report.gates.get("checks", []):
            parts.append(
                f"<tr><td>{e(c['path'])}</td><td>{e(_fmt(c['value']))}</td><td>{e(_fmt(c['min']))}</td>"
                f"<td>{e(_fmt(c['max']))}</td><td class='{e(c['status'])}'>{e(c['status'])}</td></tr>"
            )
        parts.append("</table>")
    if plots:
        parts.append("<h2>Plots</h2>")
        parts.extend(
            f"<figure><img src='{e(path.name)}' alt='{e(title)}'><figcaption>{e(title)}</figcaption></figure>"
            for title, path in plots.items()
        )
    parts.append("<h2>Suites</h2><ul>")
    for result in report.results():
        notes = "".join(f"<li>{e(n)}</li>" for n in result.notes)
        parts.append(
            f"<li><b>{e(result.suite)} / {e(result.dataset)}</b> ({result.took_s:.1f} s)"
            + (f"<ul>{notes}</ul>" if notes else "")
            + "</li>"
        )
    for error in report.errors:
        parts.append(
            f"<li class='fail'>{e(error['suite'])} / {e(error['dataset'])}: {e(str(error.get('detail')))}</li>"
        )
    parts.append("</ul><p>Every figure is in <a href='report.json'>report.json</a>.</p></body></html>")
    return "\n".join(parts) + "\n"


def write_report(report: EvalReport, out_dir: Path) -> ReportFiles:
    """Write ``report.json``, ``report.md``, ``report.html`` and the plots into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Path] = {}
    for result in report.results():
        plots.update(_plots(result, out_dir))
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n", "utf-8")
    markdown_path = out_dir / "report.md"
    markdown_path.write_text(_markdown(report, plots), encoding="utf-8")
    html_path = out_dir / "report.html"
    html_path.write_text(_html(report, plots), encoding="utf-8")
    return ReportFiles(json_path=json_path, markdown_path=markdown_path, html_path=html_path, plots=plots)
