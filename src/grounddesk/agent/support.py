"""How well a sentence of an answer is supported by the source text it cites.

Two signals, combined:

* lexical: the share of the sentence's content words (stop words dropped, lightly stemmed) found in the
  source, multiplied by the share of its numbers (amounts, percentages, dates, counts) found there; a
  number the source does not contain is the commonest way a fluent answer goes wrong, so it weighs heavily;
* semantic (when an embedder is given): the best cosine similarity between the sentence and any sentence of
  the source, mapped linearly from ``[floor, ceiling]`` to ``[0, 1]``.

The extractive composer's sentences score 1 by construction; the checker exists for generated answers, whose
sentences below a threshold are dropped (:meth:`SupportChecker.drop_unsupported`). Validated against human
faithfulness ratings by :mod:`grounddesk.evals.groundedness`.

Example:
    >>> support_score("Returns are accepted within 30 days.", ["You can return items within 30 days."])
    1.0
    >>> support_score("Returns are accepted within 60 days.", ["You can return items within 30 days."]) < 0.5
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, Field

from grounddesk.agent.types import Citation, Draft, DraftSentence
from grounddesk.knowledge.chunking import split_sentences
from grounddesk.knowledge.sparse import tokenize
from grounddesk.knowledge.types import Embedder

__all__ = [
    "SupportChecker",
    "SupportSettings",
    "check",
    "content_terms",
    "numbers_in",
    "source_sentences",
    "support_score",
]

_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15", "twenty": "20", "thirty": "30",
    "forty": "40", "fifty": "50", "sixty": "60", "ninety": "90", "hundred": "100", "half": "50",
}  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+")


class SupportSettings(BaseModel):
    """Weights of the support score."""

    lexical_weight: float = Field(default=0.5, ge=0, le=1, description="The rest goes to semantic similarity")
    number_penalty: float = Field(
        default=0.5, ge=0, le=1, description="Extra factor applied when any number of the sentence is missing"
    )
    floor: float = Field(default=0.35, description="Cosine mapped to 0")
    ceiling: float = Field(default=0.85, description="Cosine mapped to 1")
    threshold: float = Field(default=0.5, ge=0, le=1, description="Sentences below this are unsupported")


def content_terms(text: str) -> set[str]:
    """The sentence's content words: lower-cased, stop words dropped, lightly stemmed, numbers left out."""
    return {t for t in tokenize(text) if not t.isdigit()}


def _canonical(number: str) -> str:
    digits = number.replace(",", "")
    try:
        value = float(digits)
    except ValueError:
        return digits
    return f"{value:g}" if value != int(value) else str(int(value))


def numbers_in(text: str) -> set[str]:
    """Numbers written in ``text`` in a canonical form: ``"1,000.00"`` -> ``"1000"``, ``"thirty"`` -> ``"30"``."""
    found = {_canonical(m.group(0)) for m in _NUMBER.finditer(text)}
    found.update(_NUMBER_WORDS[w] for w in _WORD.findall(text.lower()) if w in _NUMBER_WORDS)
    return found


def source_sentences(text: str, min_words: int = 3) -> list[str]:
    """The sentences of a source text, line by line (a list item or table row is its own sentence)."""
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(s for s in split_sentences(line) if len(s.split()) >= min_words)
    return out or ([text.strip()] if text.strip() else [])


def _lexical(terms: set[str], numbers: set[str], source: str, penalty: float) -> float:
    if not terms and not numbers:
        return 1.0
    src_terms = content_terms(source)
    coverage = len(terms & src_terms) / len(terms) if terms else 1.0
    if not numbers:
        return coverage
    src_numbers = numbers_in(source)
    found = len(numbers & src_numbers) / len(numbers)
    return coverage * found * (1.0 if found == 1.0 else penalty)


class SupportChecker:
    """Scores each sentence of an answer against its cited sources.

    Args:
        embedder: Adds semantic similarity; without one the score is lexical only.
        settings: Weights, the cosine range and the drop threshold.

    Example:
        >>> checker = SupportChecker(embedder)
        >>> checker.check(draft.sentences, {c.n: hits_by_chunk[c.chunk_id].text for c in draft.citations})
        [0.93, 0.41]
    """

    def __init__(self, embedder: Embedder | None = None, settings: SupportSettings | None = None) -> None:
        self._embedder = embedder
        self.settings = settings or SupportSettings()

    def support_score(self, sentence: str, sources: Sequence[str]) -> float:
        """How well ``sentence`` is supported by the best of ``sources``, in [0, 1]."""
        return self.scores([sentence], [list(sources)])[0]

    def scores(self, sentences: Sequence[str], sources: Sequence[Sequence[str]]) -> list[float]:
        """The support of each sentence by its own list of sources (one batched embedding call)."""
        cfg = self.settings
        lexical = [
            max((_lexical(content_terms(s), numbers_in(s), src, cfg.number_penalty) for src in srcs), default=0.0)
            for s, srcs in zip(sentences, sources, strict=True)
        ]
        if self._embedder is None:
            return [round(v, 6) for v in lexical]
        semantic = self._semantic(sentences, sources)
        out: list[float] = []
        for s, srcs, lex, sem in zip(sentences, sources, lexical, semantic, strict=True):
            # The semantic part must not rescue a sentence whose numbers the sources do not contain.
            combined = cfg.lexical_weight * lex + (1 - cfg.lexical_weight) * sem * self._number_factor(s, srcs)
            out.append(round(min(1.0, max(0.0, combined)), 6))
        return out

    def _number_factor(self, sentence: str, sources: Sequence[str]) -> float:
        numbers = numbers_in(sentence)
        if not numbers:
            return 1.0
        known: set[str] = set()
        for src in sources:
            known |= numbers_in(src)
        share = len(numbers & known) / len(numbers)
        return share * (1.0 if share == 1.0 else self.settings.number_penalty)

    def _semantic(self, sentences: Sequence[str], sources: Sequence[Sequence[str]]) -> list[float]:
        assert self._embedder is not None
        cfg = self.settings
        pieces = [[p for src in srcs for p in source_sentences(src)] for srcs in sources]
        flat = list(dict.fromkeys([*sentences, *(p for ps in pieces for p in ps)]))
        matrix = np.asarray(self._embedder.embed_documents(flat), dtype=np.float32)
        row = {text: i for i, text in enumerate(flat)}
        out: list[float] = []
        for s, ps in zip(sentences, pieces, strict=True):
            if not ps:
                out.append(0.0)
                continue
            cosine = float(np.max(matrix[[row[p] for p in ps]] @ matrix[row[s]]))
            out.append(min(1.0, max(0.0, (cosine - cfg.floor) / (cfg.ceiling - cfg.floor))))
        return out

    def check(
        self, draft_sentences: Sequence[DraftSentence] | Sequence[str], sources: Mapping[int, str] | Sequence[str]
    ) -> list[float]:
        """The support of each sentence.

        Args:
            draft_sentences: Draft sentences (scored against the source their ``citation`` names) or plain texts.
            sources: Source texts by citation number, or one list every sentence is checked against.
        """
        texts = [s.text if isinstance(s, DraftSentence) else s for s in draft_sentences]
        if isinstance(sources, Mapping):
            everything = list(sources.values())
            per = [
                [sources[s.citation]] if isinstance(s, DraftSentence) and s.citation in sources else everything
                for s in draft_sentences
            ]
        else:
            per = [list(sources)] * len(texts)
        return self.scores(texts, per)

    def drop_unsupported(self, draft: Draft, sources: Mapping[int, str], threshold: float | None = None) -> Draft:
        """The draft with each sentence's support filled in and the sentences below ``threshold`` removed.

        Citations no longer used are dropped and the rest renumbered in order of appearance.
        """
        from grounddesk.agent.compose import render_draft

        limit = self.settings.threshold if threshold is None else threshold
        supports = self.check(draft.sentences, sources)
        kept = [(s, v) for s, v in zip(draft.sentences, supports, strict=True) if v >= limit]
        removed = [s.text for s, v in zip(draft.sentences, supports, strict=True) if v < limit]
        by_n = {c.n: c for c in draft.citations}
        renumber: dict[int, int] = {}
        citations: list[Citation] = []
        for s, _ in kept:
            if s.citation not in renumber and s.citation in by_n:
                renumber[s.citation] = len(renumber) + 1
                citations.append(by_n[s.citation].model_copy(update={"n": renumber[s.citation]}))
        sentences = [
            DraftSentence(text=s.text, citation=renumber.get(s.citation, s.citation), support=v) for s, v in kept
        ]
        out = render_draft(sentences, citations)
        return out.model_copy(update={"removed": [*draft.removed, *removed]})


def support_score(sentence: str, sources: Sequence[str], *, embedder: Embedder | None = None) -> float:
    """How well ``sentence`` is supported by the best of ``sources``, in [0, 1] (lexical only without embedder)."""
    return SupportChecker(embedder).support_score(sentence, sources)


def check(
    draft_sentences: Sequence[DraftSentence] | Sequence[str],
    sources: Mapping[int, str] | Sequence[str],
    *,
    embedder: Embedder | None = None,
) -> list[float]:
    """The support of each sentence by its cited source (see :meth:`SupportChecker.check`)."""
    return SupportChecker(embedder).check(draft_sentences, sources)
