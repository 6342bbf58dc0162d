"""Golden-set cases: one customer turn with what the agent should do, stored one case per line (JSONL).

The same format serves the packaged example (``examples/golden.jsonl``, on the demo help centre), the adapters
of the public sets, and a team's own golden set. A line is a JSON object:

.. code-block:: json

    {"id": "returns-window", "question": "How many days do I have to return something?",
     "expected_decision": "answer", "expected_doc_ids": ["returns-policy"], "tags": ["returns"]}

Fields (only ``id`` and ``question`` are required; unknown fields are an error, so typos do not pass silently):

- ``id``: unique within the file.
- ``question``: the customer's message that is scored.
- ``history``: earlier turns, oldest first, ``[{"role": "user" | "agent", "text": ...}]``; they are put in the
  conversation before ``question`` is sent (no turn is run for them).
- ``customer_id`` / ``verified``: the signed-in customer (the widget's identity), if any.
- ``audiences``: what the customer may see (default ``["public"]``).
- ``expected_decision``: ``answer``, ``clarify`` or ``escalate``.
- ``expected_reason``: the escalation or clarification reason code (``customer_requested_human``,
  ``verify_identity``, ...); checked only when given.
- ``expected_doc_ids``: an answer must cite at least one of these documents.
- ``expected_tool``: the tool the agent should reach for first (``order_status``, ``create_case``, ...).
- ``tags``, ``metadata``: free-form, reported per tag.

Errors carry ``code = invalid_record`` (``dataset_error`` for a missing file) and a stable ``problem``:
``invalid_json``, ``invalid_case``, ``duplicate_id`` or ``empty_dataset``, with the line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = [
    "Case",
    "Dataset",
    "GoldenSetError",
    "HistoryTurn",
    "example_golden_path",
    "load_dataset",
]

ExpectedDecision = Literal["answer", "clarify", "escalate"]


class GoldenSetError(GrounddeskError):
    """A golden-set file that cannot be read; ``problem`` says why (a stable code), ``line`` where."""

    code = ErrorCode.INVALID_RECORD


class HistoryTurn(BaseModel):
    """An earlier turn of the conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "agent"]
    text: str


class Case(BaseModel):
    """One scored customer turn and the expected behaviour (see the module docstring for the fields)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    history: list[HistoryTurn] = Field(default_factory=list)
    customer_id: str | None = None
    verified: bool = False
    audiences: list[str] = Field(default_factory=lambda: ["public"])
    expected_decision: ExpectedDecision | None = None
    expected_reason: str | None = None
    expected_doc_ids: list[str] = Field(default_factory=list)
    expected_tool: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is blank")
        return value


class Dataset(BaseModel):
    """A named list of cases.

    Example:
        >>> data = Dataset.from_jsonl(example_golden_path())
        >>> data.name, data.cases[0].expected_decision
        ('golden', 'answer')
    """

    name: str
    cases: list[Case]

    @classmethod
    def from_jsonl(cls, path: Path, *, name: str | None = None) -> Dataset:
        """Read and validate a JSONL golden set.

        Raises:
            GrounddeskError: ``dataset_error`` when the file is missing.
            GoldenSetError: ``invalid_record`` with ``problem`` and ``line`` for a bad line, a repeated id or no
                cases at all.
        """
        if not path.is_file():
            raise GrounddeskError(f"{path} is missing", code=ErrorCode.DATASET, path=str(path))
        cases: list[Case] = []
        seen: dict[str, int] = {}
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                case = _parse_line(line, path, n)
                if case.id in seen:
                    raise GoldenSetError(
                        f"{path}:{n}: id {case.id!r} is already used on line {seen[case.id]}",
                        problem="duplicate_id",
                        path=str(path),
                        line=n,
                    )
                seen[case.id] = n
                cases.append(case)
        if not cases:
            raise GoldenSetError(f"{path} holds no cases", problem="empty_dataset", path=str(path), line=0)
        return cls(name=name or path.stem, cases=cases)

    def to_jsonl(self, path: Path) -> Path:
        """Write the cases one per line (defaults left out), so the file reads back to an equal dataset."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for case in self.cases:
                fh.write(json.dumps(case.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False) + "\n")
        return path

    def subset(self, ids: Iterable[str]) -> Dataset:
        """The cases with these ids, in the dataset's order."""
        wanted = set(ids)
        return Dataset(name=self.name, cases=[c for c in self.cases if c.id in wanted])


def _parse_line(line: str, path: Path, n: int) -> Case:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise GoldenSetError(
            f"{path}:{n} is not JSON: {exc.msg}", problem="invalid_json", path=str(path), line=n
        ) from exc
    if not isinstance(raw, dict):
        raise GoldenSetError(f"{path}:{n} is not a JSON object", problem="invalid_case", path=str(path), line=n)
    try:
        return Case.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "case"
        raise GoldenSetError(
            f"{path}:{n}: {where}: {first['msg']}", problem="invalid_case", path=str(path), line=n, field=where
        ) from exc


def example_golden_path() -> Path:
    """The example golden set shipped with the package (the demo help centre and demo CRM/ERP)."""
    return Path(__file__).resolve().parent / "examples" / "golden.jsonl"


def load_dataset(name_or_path: str) -> Dataset:
    """``golden`` (the packaged example) or the path of a JSONL golden set."""
    if name_or_path == "golden":
        return Dataset.from_jsonl(example_golden_path(), name="golden")
    return Dataset.from_jsonl(Path(name_or_path))
