"""Shared helpers for the benchmark scripts (not a test: prints JSON figures)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    """Median of repeated runs."""
    return float(statistics.median(values))


def cpu_info() -> dict[str, object]:
    """What the figures were measured on."""
    import torch

    return {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads()}
