"""Shared helpers for the benchmark scripts (not a test: prints JSON figures)."""

from __future__ import annotations

import os
import statistics
import time
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


class CpuShare:
    """Cores kept busy over an interval, split into one server process, this process and the rest (Linux only).

    ``start()`` then ``stop()``; elsewhere than Linux ``stop()`` returns None. ``other_cores`` is every other process
    on the machine (a noisy neighbour shows here), ``steal_cores`` what the hypervisor gave to other machines.
    """

    def __init__(self, server_pid: int) -> None:
        self._pid = server_pid
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._since: tuple[float, float, float, float, float] | None = None

    def _machine(self) -> tuple[float, float]:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0.0] * 8)[:8]
        return (user + nice + system + irq + softirq) / self._tick, steal / self._tick

    def _process(self) -> float:
        with open(f"/proc/{self._pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (float(fields[11]) + float(fields[12])) / self._tick  # utime, stime

    def _snapshot(self) -> tuple[float, float, float, float, float] | None:
        try:
            busy, steal = self._machine()
            server = self._process()
        except OSError:
            return None
        own = os.times()
        return time.monotonic(), busy, steal, server, own.user + own.system

    def start(self) -> None:
        self._since = self._snapshot()

    def stop(self) -> dict[str, float] | None:
        now = self._snapshot()
        if self._since is None or now is None or now[0] <= self._since[0]:
            return None
        elapsed = now[0] - self._since[0]
        busy, steal, server, own = (now[i] - self._since[i] for i in range(1, 5))
        return {
            "server_cores": round(server / elapsed, 2),
            "bench_cores": round(own / elapsed, 2),
            "other_cores": round(max(busy - server - own, 0.0) / elapsed, 2),
            "steal_cores": round(steal / elapsed, 2),
        }
