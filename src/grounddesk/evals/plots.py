"""The report's PNG plots, drawn with matplotlib's Agg backend (no display needed).

Each function writes one file and returns its path, or None when the report holds no data for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["confusion_matrix", "latency_histogram", "reliability_diagram", "risk_coverage_curve"]

_DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def reliability_diagram(bins: Sequence[Mapping[str, float]], path: Path, *, title: str = "") -> Path | None:
    """Accuracy against mean confidence per bin, with the diagonal of perfect calibration and bin sizes."""
    if not bins:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    mids = [(b["lo"] + b["hi"]) / 2 for b in bins]
    ax.bar(mids, [b["accuracy"] for b in bins], width=0.09, alpha=0.35, color="tab:blue", label="accuracy per bin")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color="tab:blue")
    for b, x in zip(bins, mids, strict=True):
        ax.annotate(str(int(b["count"])), (x, b["accuracy"]), textcoords="offset points", xytext=(0, 4), fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, 1.05), xlabel="confidence", ylabel="share correct", title=title or "Reliability")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, plt, path)


def risk_coverage_curve(points: Sequence[Sequence[float]], path: Path, *, title: str = "") -> Path | None:
    """Risk (share wrong among answered) against coverage (share answered), most confident first."""
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.step([p[0] for p in points], [p[1] for p in points], where="post", color="tab:red")
    ax.set(xlim=(0, 1), ylim=(0, 1.05), xlabel="coverage", ylabel="risk", title=title or "Risk-coverage")
    ax.grid(alpha=0.3)
    return _save(fig, plt, path)


def latency_histogram(turn_ms: Sequence[float], path: Path, *, title: str = "") -> Path | None:
    """Histogram of turn latency with p50 and p95 marked."""
    if not turn_ms:
        return None
    from grounddesk.evals.metrics import percentile

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(turn_ms, bins=min(40, max(5, len(turn_ms) // 3)), color="tab:green", alpha=0.7)
    for q, style in ((50, "-"), (95, "--")):
        value = percentile(turn_ms, q)
        ax.axvline(value, color="black", linestyle=style, linewidth=1, label=f"p{q} {value:.0f} ms")
    ax.set(xlabel="turn latency (ms)", ylabel="turns", title=title or "Turn latency")
    ax.legend(fontsize=8)
    return _save(fig, plt, path)


def confusion_matrix(matrix: Mapping[str, Mapping[str, int]], path: Path, *, title: str = "") -> Path | None:
    """Gold reason (rows) by the agent's outcome (columns), counts in the cells."""
    if not matrix:
        return None
    rows = list(matrix)
    columns: list[str] = []
    for counts in matrix.values():
        columns.extend(c for c in counts if c not in columns)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(columns) + 2.5), max(3.0, 0.45 * len(rows) + 1.8)))
    cells = [[matrix[r].get(c, 0) for c in columns] for r in rows]
    image = ax.imshow(cells, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(columns)), labels=columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), labels=rows, fontsize=8)
    peak = max((v for row in cells for v in row), default=0)
    for i, row in enumerate(cells):
        for j, value in enumerate(row):
            if value:
                colour = "white" if value > peak / 2 else "black"
                ax.text(j, i, str(value), ha="center", va="center", fontsize=8, color=colour)
    ax.set(xlabel="agent outcome", ylabel="gold", title=title or "Escalation by reason")
    fig.colorbar(image, ax=ax, fraction=0.03)
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path
