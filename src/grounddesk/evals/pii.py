"""The PII eval: span-level masking recall and precision of the guard's detector on the Presidio research set.

Definitions (a gold span is one labelled entity of the dataset; a predicted span is one :class:`PIISpan`):

- **recall** of an entity type: the share of its gold spans that the masking *covers*, i.e. every letter and digit
  of the gold span lies inside some predicted span, whatever that span's entity type. This is the "nothing leaks"
  view: a partly masked card number counts as missed. ``type_recall`` additionally asks that one of the covering
  spans carry the same entity type.
- **precision** of an entity type: the share of the predicted spans of that type that overlap at least one gold
  span of any type (every labelled type in the dataset is personal data: masking a city inside an address block
  is not a false alarm). ``precision_in_scope`` counts only overlaps with in-scope gold spans.
- The overall figures are micro-averages over the in-scope entity types. Person names, places, organisations,
  dates, titles, nationalities and ages (``out_of_scope_entities``) need a language model, not patterns: their
  gold spans are neither counted nor required.

The dataset is read from ``<data_dir>/presidio_synth_pii/synth_dataset_v2.jsonl`` and never copied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from grounddesk.agent.guard import GuardSettings, PIIDetector
from grounddesk.agent.types import PIISpan
from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = [
    "OUT_OF_SCOPE_ENTITIES",
    "GoldSpan",
    "PIICase",
    "load_presidio_cases",
    "run_pii_eval",
    "score_pii",
]

OUT_OF_SCOPE_ENTITIES = ("PERSON", "GPE", "ORGANIZATION", "DATE_TIME", "TITLE", "NRP", "AGE")


class GoldSpan(BaseModel):
    """One labelled entity of an eval case."""

    entity: str
    start: int
    end: int


class PIICase(BaseModel):
    """A text with its labelled entities."""

    id: str
    text: str
    spans: list[GoldSpan]
    template_id: int | None = None


def load_presidio_cases(data_dir: Path) -> list[PIICase]:
    """The Presidio research synthetic sentences under ``data_dir``.

    Raises:
        GrounddeskError: ``dataset_error`` when the file is missing or a record is malformed.
    """
    path = data_dir / "presidio_synth_pii" / "synth_dataset_v2.jsonl"
    if not path.exists():
        raise GrounddeskError(
            f"{path} is missing: --data-dir must be a folder laid out like ../shared/data",
            code=ErrorCode.DATASET,
            path=str(path),
        )
    cases: list[PIICase] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                spans = [
                    GoldSpan(entity=s["entity_type"], start=s["start_position"], end=s["end_position"])
                    for s in rec["spans"]
                ]
                cases.append(
                    PIICase(id=str(rec["id"]), text=rec["full_text"], spans=spans, template_id=rec.get("template_id"))
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise GrounddeskError(
                    f"{path}:{n} is not a Presidio record: {exc}", code=ErrorCode.DATASET, path=str(path), line=n
                ) from exc
    return cases


def _covered(text: str, gold: GoldSpan, predicted: Sequence[PIISpan]) -> bool:
    positions = [i for i in range(gold.start, gold.end) if text[i].isalnum()] or list(range(gold.start, gold.end))
    return all(any(p.start <= i < p.end for p in predicted) for i in positions)


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def _ratio(num: int, den: int) -> float:
    return round(num / den, 4) if den else 1.0


def score_pii(
    cases: Iterable[tuple[PIICase, Sequence[PIISpan]]], in_scope: Iterable[str], *, misses: int = 0
) -> dict[str, Any]:
    """Masking recall and precision of predicted spans against gold spans (see the module docstring).

    Args:
        cases: Each case with the spans predicted for its text.
        in_scope: The entity types that count.
        misses: How many missed gold spans and false alarms to list as examples (0: none).

    Returns:
        ``{"cases", "recall", "precision", "by_entity": {entity: {"recall", "precision", "support", ...}}, ...}``.
    """
    scope = set(in_scope)
    stats: dict[str, dict[str, int]] = {
        e: {"support": 0, "covered": 0, "typed": 0, "predicted": 0, "correct": 0, "correct_in_scope": 0}
        for e in sorted(scope)
    }
    n_cases = 0
    missed: list[dict[str, str]] = []
    false_alarms: list[dict[str, str]] = []
    for case, predicted in cases:
        n_cases += 1
        for gold in case.spans:
            if gold.entity not in scope:
                continue
            row = stats[gold.entity]
            row["support"] += 1
            if _covered(case.text, gold, predicted):
                row["covered"] += 1
                same = [p for p in predicted if p.entity == gold.entity]
                row["typed"] += _covered(case.text, gold, same)
            elif len(missed) < misses:
                missed.append({"entity": gold.entity, "value": case.text[gold.start : gold.end], "text": case.text})
        for pred in predicted:
            row = stats.setdefault(
                pred.entity,
                {"support": 0, "covered": 0, "typed": 0, "predicted": 0, "correct": 0, "correct_in_scope": 0},
            )
            row["predicted"] += 1
            hits = [g for g in case.spans if _overlaps(pred.start, pred.end, g.start, g.end)]
            row["correct"] += bool(hits)
            row["correct_in_scope"] += any(g.entity in scope for g in hits)
            if not hits and len(false_alarms) < misses:
                false_alarms.append(
                    {"entity": pred.entity, "value": case.text[pred.start : pred.end], "text": case.text}
                )
    total = {k: sum(r[k] for r in stats.values()) for k in next(iter(stats.values()), {})}
    result: dict[str, Any] = {
        "cases": n_cases,
        "recall": _ratio(total.get("covered", 0), total.get("support", 0)),
        "precision": _ratio(total.get("correct", 0), total.get("predicted", 0)),
        "type_recall": _ratio(total.get("typed", 0), total.get("support", 0)),
        "precision_in_scope": _ratio(total.get("correct_in_scope", 0), total.get("predicted", 0)),
        "support": total.get("support", 0),
        "predicted": total.get("predicted", 0),
        "by_entity": {
            e: {
                "recall": _ratio(r["covered"], r["support"]),
                "precision": _ratio(r["correct"], r["predicted"]),
                "support": r["support"],
                "predicted": r["predicted"],
                "type_recall": _ratio(r["typed"], r["support"]),
            }
            for e, r in stats.items()
        },
    }
    if misses:
        result["missed"] = missed
        result["false_alarms"] = false_alarms
    return result


def run_pii_eval(data_dir: Path, *, settings: GuardSettings | None = None, examples: int = 0) -> dict[str, Any]:
    """Run the guard's PII detector over the Presidio research set and score it.

    Args:
        data_dir: A folder laid out like ``../shared/data``.
        settings: Which entities are detected (default: all the detector knows).
        examples: How many missed spans and false alarms to include, for debugging (0: none).

    Returns:
        ``{"dataset": "presidio", "cases", "recall", "precision", "by_entity", "out_of_scope_entities", ...}``.
    """
    settings = settings or GuardSettings()
    detector = PIIDetector(settings.pii_entities)
    cases = load_presidio_cases(data_dir)
    scored = score_pii(((c, detector.detect(c.text)) for c in cases), settings.pii_entities, misses=examples)
    return {
        "dataset": "presidio",
        **scored,
        "entities": sorted(settings.pii_entities),
        "out_of_scope_entities": list(OUT_OF_SCOPE_ENTITIES),
        "definitions": {
            "recall": "share of in-scope gold spans whose every letter and digit is inside a predicted span",
            "type_recall": "as recall, counting only predicted spans of the gold span's entity type",
            "precision": "share of predicted spans that overlap a gold span of any labelled type",
            "precision_in_scope": "share of predicted spans that overlap an in-scope gold span",
        },
    }
