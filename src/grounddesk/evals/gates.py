"""Regression gates and baselines over an eval report.

A gates file is YAML mapping a metric path to its limits:

.. code-block:: yaml

    retrieval.mtrag.metrics.ndcg@10: {min: 0.70, quick: {min: 0.80}}
    safety.all.bipia.tool_calls_triggered: {max: 0}
    latency.golden.turn_ms.p95: {max: 2000, optional: true}

A path is ``<suite>.<dataset>.<keys into the suite's metrics>`` (a dataset or key that itself contains dots is
matched whole). ``quick`` overrides the limits when the report was made with ``--quick`` (subsets score
differently). A gated metric missing from the report fails the gate unless ``optional: true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = [
    "DEFAULT_GATES",
    "Gate",
    "GateCheck",
    "check_gates",
    "gate_report",
    "compare_baseline",
    "flatten_report",
    "load_gates",
    "resolve",
]

DEFAULT_GATES = Path(__file__).resolve().parent / "gates.yaml"


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None


class Gate(_Limits):
    """The limits of one metric."""

    quick: _Limits | None = Field(default=None, description="Limits used instead in --quick mode")
    optional: bool = Field(default=False, description="A missing metric passes instead of failing")

    @model_validator(mode="after")
    def _some_limit(self) -> Gate:
        if self.min is None and self.max is None and self.quick is None:
            raise ValueError("a gate needs min, max or quick")
        return self

    def limits(self, quick: bool) -> _Limits:
        """The limits in force for the report's mode."""
        return self.quick if quick and self.quick is not None else self


class GateCheck(BaseModel):
    """One gate against the report."""

    path: str
    value: float | None
    min: float | None
    max: float | None
    status: str = Field(description="pass, fail or missing (a missing optional metric passes)")

    @property
    def ok(self) -> bool:
        """Passed (or missing and optional)."""
        return self.status != "fail"


def load_gates(path: Path | None = None) -> dict[str, Gate]:
    """Read a gates file (default: the packaged ``gates.yaml``).

    Raises:
        GrounddeskError: ``dataset_error`` when the file is missing; ``invalid_input`` when it is malformed.
    """
    target = path or DEFAULT_GATES
    if not target.is_file():
        raise GrounddeskError(f"{target} is missing", code=ErrorCode.DATASET, path=str(target))
    try:
        raw = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise GrounddeskError(f"{target} is not YAML: {exc}", code=ErrorCode.INVALID_INPUT, path=str(target)) from exc
    if not isinstance(raw, dict):
        raise GrounddeskError(f"{target} must map metric paths to limits", code=ErrorCode.INVALID_INPUT)
    gates: dict[str, Gate] = {}
    for key, value in raw.items():
        try:
            gates[str(key)] = Gate.model_validate(value)
        except ValidationError as exc:
            raise GrounddeskError(
                f"{target}: gate {key!r}: {exc.errors()[0]['msg']}", code=ErrorCode.INVALID_INPUT, gate=str(key)
            ) from exc
    return gates


def resolve(tree: Any, path: str) -> Any:
    """The value at a dotted ``path`` in nested mappings; keys containing dots are matched whole. None if absent."""
    if path == "":
        return tree
    if not isinstance(tree, Mapping):
        return None
    for key in sorted((str(k) for k in tree), key=len, reverse=True):
        if path == key:
            return tree[key]
        if path.startswith(key + "."):
            found = resolve(tree[key], path[len(key) + 1 :])
            if found is not None:
                return found
    return None


def _metrics_tree(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{suite: {dataset: metrics}}`` from a report document (``EvalReport.model_dump()``)."""
    return {
        suite: {dataset: result.get("metrics", {}) for dataset, result in by_dataset.items()}
        for suite, by_dataset in (report.get("suites") or {}).items()
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def check_gates(report: Mapping[str, Any], gates: Mapping[str, Gate]) -> list[GateCheck]:
    """Every gate checked against the report (a report document, ``EvalReport.model_dump(mode="json")``)."""
    tree = _metrics_tree(report)
    quick = report.get("mode") == "quick"
    checks: list[GateCheck] = []
    for path, gate in gates.items():
        limits = gate.limits(quick)
        value = _number(resolve(tree, path))
        if value is None:
            status = "missing" if gate.optional else "fail"
        elif (limits.min is not None and value < limits.min) or (limits.max is not None and value > limits.max):
            status = "fail"
        else:
            status = "pass"
        checks.append(GateCheck(path=path, value=value, min=limits.min, max=limits.max, status=status))
    return checks


def flatten_report(report: Mapping[str, Any]) -> dict[str, float]:
    """Every numeric figure of the report's metrics by its gate path (lists are left out)."""
    out: dict[str, float] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
            return
        number = _number(node)
        if number is not None:
            out[prefix] = number

    walk("", _metrics_tree(report))
    return out


def compare_baseline(report: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The change of every figure present in both reports: ``{path: {"old", "new", "delta"}}``."""
    new, old = flatten_report(report), flatten_report(baseline)
    return {
        path: {"old": old[path], "new": value, "delta": round(value - old[path], 6)}
        for path, value in new.items()
        if path in old
    }


def gate_report(report: Mapping[str, Any], gates: Mapping[str, Gate], source: str) -> dict[str, Any]:
    """The ``gates`` block of a report: ``{"file", "passed", "checks": [...], "failed": [paths]}``."""
    checks = check_gates(report, gates)
    return {
        "file": source,
        "passed": all(c.ok for c in checks),
        "checks": [c.model_dump() for c in checks],
        "failed": [c.path for c in checks if not c.ok],
    }
