"""The extractive grounded composer: an answer made only of sentences the approved sources contain.

Every sentence of a draft is a sentence of a retrieved chunk, copied as it stands; the only edits allowed are
removing a list marker or heading marks at its start, the Markdown emphasis markers ``**`` and ``__``, and runs
of whitespace (a line break inside a paragraph becomes a space). A row of a Markdown table is read as one
sentence of its own cells, each after its column's header (``Region: Canada; Method: Express; Cost: CA$29.95.``),
or its cells alone (``Canada, Express, CA$29.95.``) when the chunk holds no header for it: rates, fees and
hours are usually tables. Nothing is paraphrased, so nothing can be invented.

Sentences are scored by cosine similarity to the question (one batched embedding call, with a bounded cache of
sentence vectors shared with the confidence scorer) plus word overlap plus the rank of the chunk they come from;
the best one anchors the answer, its neighbours and other close matches join it, and the result is laid out
chunk by chunk in document order with numbered citations.

Example:
    >>> composer = ExtractiveComposer(embedder)
    >>> draft = composer.compose("How long do I have to return an item?", hits)
    >>> draft.text
    'You can return most items within 30 days of delivery for a refund or an exchange [1].'
    >>> draft.citations[0].ref
    'returns-policy@1'
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from grounddesk.agent.guard.injection import instructs_the_answerer
from grounddesk.agent.types import Citation, Draft, DraftSentence
from grounddesk.knowledge.chunking import split_sentences
from grounddesk.knowledge.search import Hit
from grounddesk.knowledge.sentence_cache import SentenceVectorCache
from grounddesk.knowledge.sparse import tokenize
from grounddesk.knowledge.types import Embedder

__all__ = [
    "CachedEmbedder",
    "Candidate",
    "ComposeSettings",
    "ExtractiveComposer",
    "candidate_sentences",
    "chunk_sentences",
    "clean_markup",
    "render_draft",
]

Vector = NDArray[np.float32]
ProgressFn = Callable[[int, int, str], None]

_LIST_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|(?:[-*+•⋅·▪◦‣]|\d{1,3}[.)])\s+)+")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•⋅·▪◦‣]|\d{1,3}[.)])\s+\S")
_EMPHASIS = re.compile(r"\*\*|__")
_SPACES = re.compile(r"\s+")
_TABLE_ROW = re.compile(r"^\s*\||\S \| \S")
_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_RULE_CELL = re.compile(r"^:?-+:?$")
_ITEM_TAIL = re.compile(r"(?:\s*[,;]|\s*[,;]?\s+(?:and|or))\s*$")
_LABEL_WORDS = 8
_QUERY_CACHE = 256
_LETTER = re.compile(r"[^\W\d_]")
_TERMINAL = re.compile(r"([.!?…]+[\"'”’)\]]*)$")


class ComposeSettings(BaseModel):
    """How the extractive composer picks and lays out sentences."""

    max_sentences: int = Field(default=4, ge=1, le=10)
    max_words: int = Field(default=80, ge=10, description="Word budget of an answer (the first sentence always fits)")
    max_hits: int = Field(default=5, ge=1, description="How many of the best hits sentences are taken from")
    max_citations: int = Field(default=3, ge=1, description="How many distinct documents an answer may cite")
    min_words: int = Field(default=4, ge=1, description="Shorter lines (titles, labels) are not sentences")
    max_sentence_words: int = Field(default=60, ge=5, description="Longer sentences are skipped")
    cosine_weight: float = Field(default=0.65, ge=0)
    overlap_weight: float = Field(default=0.2, ge=0)
    rank_weight: float = Field(default=0.15, ge=0)
    join_margin: float = Field(
        default=0.08, ge=0, description="A sentence joins the answer when it scores within this of the best one"
    )
    neighbour_margin: float = Field(
        default=0.16, ge=0, description="A wider margin for the sentences next to one already chosen in its chunk"
    )
    redundancy: float = Field(default=0.9, gt=0, le=1, description="Cosine above which a sentence repeats another")
    cache_size: int = Field(default=20_000, ge=0, description="Sentence vectors kept in memory (0: no cache)")


class CachedEmbedder:
    """An :class:`~grounddesk.knowledge.types.Embedder` wrapper that remembers the vectors of the texts it saw.

    The composer and the confidence scorer embed the same sentences of the same popular chunks over and over;
    a bounded least-recently-used cache turns that into a dictionary look-up. Thread-safe.

    Args:
        embedder: The model that makes the vectors.
        max_items: How many vectors to keep (each costs ``4 * dimension`` bytes).
    """

    def __init__(
        self, embedder: Embedder, max_items: int = 20_000, *, persistent: SentenceVectorCache | None = None
    ) -> None:
        self._embedder = embedder
        self._max = max_items
        self._persistent = persistent
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._queries: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def inner(self) -> Embedder:
        """The wrapped embedder."""
        return self._embedder

    @property
    def persistent(self) -> SentenceVectorCache | None:
        """The on-disk store of sentence vectors, if any."""
        return self._persistent

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._embedder.dimension

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` by the wrapped model's tokenizer."""
        return self._embedder.count_tokens(text)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query; the last few are remembered, since compose and score embed the same one in a turn."""
        with self._lock:
            vector = self._queries.get(text)
            if vector is not None:
                self._queries.move_to_end(text)
                return list(vector)
        vector = list(self._embedder.embed_query(text))
        with self._lock:
            self._queries[text] = vector
            while len(self._queries) > _QUERY_CACHE:
                self._queries.popitem(last=False)
        return list(vector)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts, computing only the ones not seen recently."""
        return [row.tolist() for row in self.matrix(texts)]

    def matrix(self, texts: Sequence[str]) -> Vector:
        """The vectors of ``texts`` as one ``(len(texts), dimension)`` float32 array, rows L2-normalised."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
            for t in found:
                self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing and self._persistent is not None:  # embedded at import time
            stored = self._persistent.get_many(missing)
            if stored:
                found.update(stored)
                self._remember(stored)
                missing = [t for t in missing if t not in stored]
        if missing:
            fresh = np.asarray(self._embedder.embed_documents(missing), dtype=np.float32)
            if self._persistent is not None:
                self._persistent.put_many(dict(zip(missing, fresh, strict=True)))
            for text, row in zip(missing, fresh, strict=True):
                found[text] = row
            if self._max:
                with self._lock:
                    for text, row in zip(missing, fresh, strict=True):
                        self._cache[text] = row
                    while len(self._cache) > self._max:
                        self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def _remember(self, vectors: dict[str, Vector]) -> None:
        if not self._max:
            return
        with self._lock:
            self._cache.update(vectors)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)

    def warm(self, texts: Sequence[str], progress: ProgressFn | None = None, *, batch: int = 32) -> int:
        """Embed and store the vectors of ``texts`` not stored yet; returns how many were embedded."""
        if self._persistent is None:
            return 0
        missing = self._persistent.missing(texts)
        # Similar lengths together: far less padding. Small batches: a turn waiting for the model meanwhile
        # waits for one batch (~0.2 s), not for seconds.
        missing.sort(key=len)
        for start in range(0, len(missing), batch):
            part = missing[start : start + batch]
            fresh = np.asarray(self._embedder.embed_documents(part), dtype=np.float32)
            self._persistent.put_many(dict(zip(part, fresh, strict=True)))
            if progress:
                progress(start + len(part), len(missing), "sentences")
        return len(missing)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence of a hit that may go into an answer.

    Attributes:
        text: The sentence as it would be shown (markers, emphasis and extra whitespace removed).
        hit: Index of the hit it comes from.
        position: Its order within the hit's text (document order).
    """

    text: str
    hit: int
    position: int


def clean_markup(text: str) -> str:
    """``text`` without a leading list marker or heading marks, emphasis markers and repeated whitespace.

    These are the only edits the composer makes to a source sentence; tests compare with the same function.
    """
    return _SPACES.sub(" ", _EMPHASIS.sub("", _LIST_MARKER.sub("", text))).strip()


def _is_label(line: str) -> bool:
    """A short line with no closing punctuation: a title or label ("Aviation photography"), not prose.

    A line ending in a colon is not one: it leads in to the list after it.
    """
    stripped = line.strip()
    return (
        len(stripped.split()) <= _LABEL_WORDS
        and not _TERMINAL.search(stripped)
        and not stripped.endswith(":")
        and not _LIST_ITEM.match(line)
    )


def _continues(previous: str, line: str) -> bool:
    """Whether ``line`` carries on the sentence of ``previous`` (hard-wrapped prose)."""
    head = line.lstrip()[:1]
    return bool(head) and (head.islower() or head.isdigit()) and not _TERMINAL.search(previous.rstrip())


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row, emphasis and extra whitespace removed (an escaped pipe stays a pipe)."""
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [_SPACES.sub(" ", _EMPHASIS.sub("", cell.replace("\\|", "|"))).strip() for cell in _CELL_SPLIT.split(row)]


def _is_rule(cells: Sequence[str]) -> bool:
    """Whether a table row is the ``|---|:---:|`` line under a header."""
    return bool(cells) and all(_RULE_CELL.match(cell) for cell in cells)


def _row_sentence(cells: Sequence[str], header: Sequence[str] | None = None) -> str:
    """One table row as a sentence: ``Header: cell; ...`` under a header of as many columns, else ``cell, ...``.

    Empty cells are left out, and so is the header of a column whose cell is empty; the sentence ends with a full
    stop unless its last cell already ends a sentence. Only the table's own words are used.
    """
    if header is not None and len(header) == len(cells):
        parts = [f"{name}: {cell}" if name else cell for name, cell in zip(header, cells, strict=True) if cell]
        text = "; ".join(parts)
    else:
        text = ", ".join(cell for cell in cells if cell)
    return text if not text or _TERMINAL.search(text) else f"{text}."


def _table_sentences(rows: Sequence[str]) -> list[str]:
    """The sentences of one run of table lines: its data rows, read with the header when the run starts with one."""
    parsed = [_cells(row) for row in rows]
    header: list[str] | None = None
    if len(parsed) >= 2 and _is_rule(parsed[1]) and not _is_rule(parsed[0]):
        header, parsed = parsed[0], parsed[2:]
    return [_row_sentence(cells, header) for cells in parsed if not _is_rule(cells)]


def _units(text: str) -> list[tuple[str, str]]:
    """``(unit, kind)`` for the paragraphs (``prose``), list items (``item``) and table rows (``row``) of a chunk.

    Titles and code blocks are left out; a table row comes as its one sentence (:func:`_row_sentence`).

    A line carries on the one before only when that one stops mid-sentence and it starts in lower case
    (hard-wrapped prose); an HTML line break ends a line.
    """
    lines = [piece for raw in text.split("\n") for piece in _BREAK.split(raw)]
    units: list[tuple[str, str]] = []
    current: list[str] = []
    table: list[str] = []
    in_code = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if not in_code and (_TABLE_ROW.search(line) or ("|" in line and _is_rule(_cells(line)))):
            if current:
                units.append(_unit(current))
                current = []
            table.append(line)
            continue
        if table:
            units.extend((row, "row") for row in _table_sentences(table))
            table = []
        continued = i + 1 < len(lines) and _continues(line, lines[i + 1])
        if in_code or not line.strip() or _HEADING.match(line):
            continue
        if not current and _is_label(line) and not continued:
            continue
        if current and not _LIST_ITEM.match(line) and _continues(current[-1], line):
            current.append(line)
            continue
        if current:
            units.append(_unit(current))
        current = [line]
    if current:
        units.append(_unit(current))
    if table:
        units.extend((row, "row") for row in _table_sentences(table))
    return units


def _unit(lines: Sequence[str]) -> tuple[str, str]:
    return " ".join(lines), "item" if _LIST_ITEM.match(lines[0]) else "prose"


def _completed(lead_in: str, item: str) -> str:
    """A list item that only finishes its lead-in ("..., for example:" / "tent poles that crack,") as one sentence.

    The item's trailing comma or semicolon, or a closing "and" / "or", becomes a full stop.
    """
    body = _ITEM_TAIL.sub("", item)
    return f"{lead_in} {body}" if _TERMINAL.search(body) else f"{lead_in} {body}."


def chunk_sentences(text: str, settings: ComposeSettings | None = None) -> list[str]:
    """The sentences of one chunk's text that could stand in an answer, in document order, each once."""
    cfg = settings or ComposeSettings()
    out: list[str] = []
    seen: set[str] = set()  # per chunk: the same sentence in two documents is agreement, not noise
    lead_in: str | None = None  # a sentence ending in ":" that the list items after it complete
    for unit, kind in _units(text):
        sentences = [unit] if kind == "row" else [clean_markup(raw) for raw in split_sentences(unit)]
        if kind != "item":
            lead_in = sentences[-1] if kind == "prose" and sentences and sentences[-1].endswith(":") else None
        elif sentences and sentences[0][:1].islower():  # a fragment: it reads only after its lead-in
            if lead_in is not None:
                sentences = [_completed(lead_in, " ".join(sentences))]
            elif _ITEM_TAIL.search(sentences[-1]):
                continue
        for sentence in sentences:
            words = len(sentence.split())
            if (
                words < cfg.min_words
                or words > cfg.max_sentence_words
                or sentence.endswith(":")
                or not _LETTER.search(sentence)
                or sentence.lower() in seen
            ):
                continue
            seen.add(sentence.lower())
            out.append(sentence)
    return out


def candidate_sentences(hits: Sequence[Hit], settings: ComposeSettings | None = None) -> list[Candidate]:
    """The sentences of the first ``max_hits`` hits that could stand in an answer, in document order per hit.

    A sentence that gives orders to whoever answers (an instruction injected into a document, see
    :func:`~grounddesk.agent.guard.injection.instructs_the_answerer`) is never a candidate.
    """
    cfg = settings or ComposeSettings()
    return [
        Candidate(text=sentence, hit=index, position=position)
        for index, hit in enumerate(hits[: cfg.max_hits])
        for position, sentence in _quotable(hit.text, cfg.min_words, cfg.max_sentence_words)
    ]


@functools.lru_cache(maxsize=4096)
def _quotable(text: str, min_words: int, max_sentence_words: int) -> tuple[tuple[int, str], ...]:
    """``(position, sentence)`` of a chunk's sentences that give no orders to the answerer.

    Cached by text: the composer and the confidence scorer read the same hits in a turn, and popular chunks in
    every turn; the injection check is most of the cost.
    """
    cfg = ComposeSettings(min_words=min_words, max_sentence_words=max_sentence_words)
    return tuple(
        (position, sentence)
        for position, sentence in enumerate(chunk_sentences(text, cfg))
        if not instructs_the_answerer(sentence)
    )


def _overlap(question_terms: set[str], sentence: str) -> float:
    if not question_terms:
        return 0.0
    return len(question_terms & set(tokenize(sentence))) / len(question_terms)


def _with_marker(sentence: str, n: int) -> str:
    """``sentence`` with `` [n]`` placed before its closing punctuation (or after it when it has none)."""
    match = _TERMINAL.search(sentence)
    if match is None:
        return f"{sentence} [{n}]"
    return f"{sentence[: match.start()].rstrip()} [{n}]{match.group(1)}"


def render_draft(sentences: Sequence[DraftSentence], citations: Sequence[Citation]) -> Draft:
    """A draft whose text carries a ``[n]`` marker after each run of sentences from the same source."""
    parts: list[str] = []
    for i, sentence in enumerate(sentences):
        last_of_run = i + 1 == len(sentences) or sentences[i + 1].citation != sentence.citation
        parts.append(_with_marker(sentence.text, sentence.citation) if last_of_run else sentence.text)
    return Draft(text=" ".join(parts), sentences=list(sentences), citations=list(citations))


class ExtractiveComposer:
    """Composes a grounded, cited answer from retrieved approved chunks, without a language model.

    Args:
        embedder: Embeds the question and the candidate sentences; wrapped in a :class:`CachedEmbedder`
            unless it already is one.
        settings: Sentence counts, word budget and scoring weights.

    Example:
        >>> composer = ExtractiveComposer(embedder)
        >>> draft = composer.compose(question, kb.search(question, audiences=["public"]).hits)
        >>> [c.ref for c in draft.citations]
        ['returns-policy@1']
    """

    def __init__(self, embedder: Embedder, settings: ComposeSettings | None = None) -> None:
        self.settings = settings or ComposeSettings()
        self.embedder = (
            embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder, self.settings.cache_size)
        )

    def compose(self, question: str, hits: Sequence[Hit], *, query_vector: Sequence[float] | None = None) -> Draft:
        """The answer to ``question`` made of sentences of ``hits`` (best hit first), with citations.

        Args:
            question: The standalone question (a rewritten follow-up when there is one).
            hits: Retrieved approved chunks, best first.
            query_vector: The question's embedding when the caller already has it (the search computed it).

        Returns:
            A draft of 1 to ``max_sentences`` sentences; an empty draft when no hit has a usable sentence.
        """
        candidates = candidate_sentences(hits, self.settings)
        if not candidates:
            return Draft(text="")
        qv = np.asarray(query_vector if query_vector is not None else self.embedder.embed_query(question), np.float32)
        vectors = self.embedder.matrix([c.text for c in candidates])
        scores = self._scores(question, hits, candidates, vectors @ qv)
        chosen = self._select(candidates, vectors, scores)
        return self._draft(hits, [candidates[i] for i in chosen])

    def _scores(
        self, question: str, hits: Sequence[Hit], candidates: Sequence[Candidate], cosines: Vector
    ) -> NDArray[np.float64]:
        cfg = self.settings
        terms = set(tokenize(question))
        top = max((h.score for h in hits[: cfg.max_hits]), default=0.0)
        prior = [(hits[c.hit].score / top) if top > 0 else 1.0 / (1 + c.hit) for c in candidates]
        overlap = [_overlap(terms, c.text) for c in candidates]
        return (
            cfg.cosine_weight * cosines.astype(np.float64)
            + cfg.overlap_weight * np.asarray(overlap)
            + cfg.rank_weight * np.asarray(prior)
        )

    def _select(self, candidates: Sequence[Candidate], vectors: Vector, scores: NDArray[np.float64]) -> list[int]:
        """Indices of the chosen candidates: the best one, then close matches and their neighbours."""
        cfg = self.settings
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        best = order[0]
        chosen = [best]
        words = len(candidates[best].text.split())
        docs = {candidates[best].hit}
        for i in order[1:]:
            if len(chosen) == cfg.max_sentences:
                break
            c = candidates[i]
            margin = cfg.join_margin
            if any(candidates[j].hit == c.hit and abs(candidates[j].position - c.position) == 1 for j in chosen):
                margin = max(margin, cfg.neighbour_margin)
            if scores[i] < scores[best] - margin:
                continue
            size = len(c.text.split())
            if words + size > cfg.max_words:
                continue
            if c.hit not in docs and len(docs) == cfg.max_citations:
                continue
            if float(np.max(vectors[chosen] @ vectors[i])) > cfg.redundancy:
                continue
            chosen.append(i)
            words += size
            docs.add(c.hit)
        return chosen

    @staticmethod
    def _draft(hits: Sequence[Hit], chosen: Sequence[Candidate]) -> Draft:
        """Lay the chosen sentences out hit by hit (in the order the hits were first chosen), in document order."""
        hit_order = list(dict.fromkeys(c.hit for c in chosen))
        laid_out = sorted(chosen, key=lambda c: (hit_order.index(c.hit), c.position))
        citations: dict[str, Citation] = {}
        sentences: list[DraftSentence] = []
        for c in laid_out:
            hit = hits[c.hit]
            ref = f"{hit.doc_id}@{hit.version}"
            if ref not in citations:
                citations[ref] = Citation(
                    n=len(citations) + 1, doc_id=hit.doc_id, version=hit.version, title=hit.title, chunk_id=hit.chunk_id
                )
            # The sentence is the source's own words, so it is fully supported by construction.
            sentences.append(DraftSentence(text=c.text, citation=citations[ref].n, support=1.0))
        return render_draft(sentences, list(citations.values()))
