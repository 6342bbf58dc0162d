"""File formats -> normalised Markdown-ish text, for :mod:`grounddesk.knowledge.loaders`.

Every parser takes the raw bytes of one file and returns a :class:`Parsed`; it raises only
:class:`~grounddesk.errors.LoaderError` on purpose (the caller turns any other exception into a
``CORRUPT_FILE`` result, so arbitrary bytes never escape as anything else).

The normalised text is what the chunker reads: headings are ``#``-prefixed lines at column 0, paragraphs are
separated by one blank line, list items are ``- `` lines, table rows are ``cell | cell`` lines and
preformatted text is fenced with triple backticks.
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml
from bs4 import BeautifulSoup
from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag
from markdown_it import MarkdownIt

from grounddesk.errors import ErrorCode, LoaderError
from grounddesk.knowledge.types import MetadataValue

__all__ = [
    "PARSERS",
    "Parsed",
    "clean_text",
    "decode_text",
    "first_heading",
    "metadata_value",
    "normalise_markdown",
]

#: A DOCX whose parts expand to more than this is refused (zip bomb guard).
MAX_DOCX_EXPANDED_BYTES = 512 * 1024 * 1024

_INT64 = 2**63
_REMOVED_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")
_WHITESPACE = re.compile(r"\s+")
_HEADING_LINE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*$", re.MULTILINE)
_BLOCK_START = re.compile(r"^(#|```|~~~)", re.MULTILINE)
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"<\?xml\b[^>]*>", re.IGNORECASE)
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    """What a parser found in one file: text plus whatever the file itself says about it."""

    text: str
    title: str | None = None
    doc_id: str | None = None
    metadata: dict[str, MetadataValue] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- text helpers


def clean_text(text: str) -> str:
    """Normalise line breaks, drop control characters and lone surrogates, squeeze blank lines."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _REMOVED_CHARS.sub("", text).replace("\t", "    ")
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    return _BLANK_RUNS.sub("\n\n", text).strip("\n").rstrip()


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", _REMOVED_CHARS.sub("", text)).strip()


def first_heading(text: str) -> str | None:
    """The title of the first ``#`` heading of normalised text, if any."""
    match = _HEADING_LINE.search(text)
    return match.group(2).strip() or None if match else None


def metadata_value(value: Any) -> MetadataValue | None:
    """Coerce a YAML/JSON value into a :data:`MetadataValue`; ``None`` means "leave it out".

    Lists of scalars become lists of strings; mappings and nested lists are kept as compact JSON strings so
    nothing the author wrote is silently lost; non-finite floats and nulls are dropped.
    """
    if value is None:
        return None
    if isinstance(value, bool | str):
        return _one_line(value) if isinstance(value, str) else value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple) and all(_is_scalar(item) for item in value):
        return [_one_line(str(item)) for item in value if item is not None]
    try:
        # Cleaned like any text: a lone surrogate nested in the value must not reach a store.
        return _one_line(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")))
    except (TypeError, ValueError):
        return None


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | date)


def decode_text(data: bytes, *, declared: str | None = None) -> str:
    """Decode text bytes: BOM (UTF-8/16/32), then UTF-8, then a declared charset, then cp1252.

    Raises:
        LoaderError: ``CORRUPT_FILE`` when the bytes are binary rather than text.
    """
    text = _decode_with_bom(data)
    if text is None:
        text = _decode_bomless(data, declared)
    bad = len(_BAD_CONTROL.findall(text))
    if "\x00" in text or bad > max(2, len(text) // 50):
        raise LoaderError("the file holds binary data, not text", code=ErrorCode.CORRUPT_FILE)
    return text


def _decode_with_bom(data: bytes) -> str | None:
    boms = (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    for bom, encoding in boms:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoaderError(f"invalid {encoding} text: {exc.reason}", code=ErrorCode.CORRUPT_FILE) from exc
    return None


def _decode_bomless(data: bytes, declared: str | None) -> str:
    sample = data[:4096]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):
        # Text without a BOM in which every other byte is NUL is UTF-16; which half holds the NULs says the order.
        encoding = "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    for candidate in ("utf-8", declared):
        if candidate is None:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeError, ValueError, TypeError):
            continue
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise LoaderError("the file is neither UTF-8 nor cp1252 text", code=ErrorCode.CORRUPT_FILE) from exc


class _Blocks:
    """Collects text blocks; consecutive blocks of the same group (a list, a table) share one paragraph."""

    def __init__(self) -> None:
        self._parts: list[tuple[str, str | None]] = []

    def add(self, text: str, group: str | None = None) -> None:
        if text.strip():
            self._parts.append((text, group))

    def text(self) -> str:
        out: list[str] = []
        previous: str | None = None
        for text, group in self._parts:
            if out:
                out.append("\n" if group is not None and group == previous else "\n\n")
            out.append(text)
            previous = group
        return "".join(out)


def _escape_block_start(text: str) -> str:
    # Body text that happens to start with '#' or a fence must not turn into structure for the chunker.
    return _BLOCK_START.sub(r"\\\1", text)


# ---------------------------------------------------------------------------------------------- Markdown


@functools.cache
def _markdown_parser() -> MarkdownIt:
    return MarkdownIt("commonmark")


def normalise_markdown(text: str) -> str:
    """Clean Markdown and rewrite every top-level heading (setext, indented, closed) as ``# Title``."""
    text = clean_text(text)
    lines = text.split("\n")
    tokens = _markdown_parser().parse(text)
    rewrites: list[tuple[int, int, str]] = []
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.level != 0 or token.map is None:
            continue
        title = _one_line(tokens[index + 1].content) if index + 1 < len(tokens) else ""
        level = int(token.tag[1])
        replacement = f"{'#' * level} {title}" if title else ""
        rewrites.append((token.map[0], token.map[1], replacement))
    for start, end, replacement in reversed(rewrites):
        lines[start:end] = [replacement]
    return clean_text("\n".join(lines))


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return {}, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            block = "\n".join(lines[1:index])
            try:
                loaded = yaml.safe_load(block)
            except yaml.YAMLError as exc:
                raise LoaderError(
                    f"the front matter is not valid YAML: {_one_line(str(exc))[:200]}", code=ErrorCode.CORRUPT_FILE
                ) from exc
            if not isinstance(loaded, dict):
                return {}, text  # a thematic break, not front matter
            return loaded, "\n".join(lines[index + 1 :])
    return {}, text


def _parse_markdown(data: bytes) -> Parsed:
    text = _LINE_BREAKS.sub("\n", decode_text(data))
    front, body = _split_front_matter(text.lstrip("\ufeff"))
    body = normalise_markdown(body)
    raw_title = front.pop("title", None)
    title = _one_line(str(raw_title)) if _is_scalar(raw_title) and raw_title is not None else None
    raw_id = front.pop("id", None)
    if raw_id is None:
        raw_id = front.pop("doc_id", None)
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, str | int)):
        raise LoaderError("the front matter 'id' must be a string or an integer", code=ErrorCode.INVALID_RECORD)
    metadata = {
        (_one_line(str(key)) or "_"): value for key, raw in front.items() if (value := metadata_value(raw)) is not None
    }
    return Parsed(
        text=body,
        title=title or None,
        doc_id=None if raw_id is None else str(raw_id).strip(),
        metadata=metadata,
    )


def _parse_text(data: bytes) -> Parsed:
    return Parsed(text=clean_text(decode_text(data)))


# ---------------------------------------------------------------------------------------------- HTML

_HTML_DROP = frozenset(
    {"script", "style", "noscript", "template", "nav", "footer", "head", "svg", "iframe", "object", "embed"}
)
_HTML_BLOCK = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "aside", "blockquote", "address", "figure",
        "figcaption", "dl", "dt", "dd", "details", "summary", "hr", "body", "html", "center", "fieldset",
        "legend", "form", "caption",
    }
)  # fmt: skip
_HTML_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)


class _HtmlRenderer:
    """Walks a parsed page without recursion (deeply nested markup must not blow the stack)."""

    def __init__(self) -> None:
        self.blocks = _Blocks()
        self._inline: list[str] = []
        self._list_depth = 0
        self._list_prefix: str | None = None

    def render(self, root: Tag) -> str:
        stack: list[Any] = [root]
        while stack:
            item = stack.pop()
            if isinstance(item, tuple):
                self._close(item[1])
            elif isinstance(item, NavigableString):
                if not isinstance(item, _HTML_SKIPPED_STRINGS):
                    self._inline.append(str(item))
            elif isinstance(item, Tag):
                self._open(item, stack)
        self._flush()
        return self.blocks.text()

    def _open(self, tag: Tag, stack: list[Any]) -> None:
        name = (tag.name or "").lower()
        if name in _HTML_DROP:
            return
        if len(name) == 2 and name[0] == "h" and name[1] in "123456":
            self._flush()
            heading = _one_line(tag.get_text(" "))
            if heading:
                self.blocks.add(f"{'#' * int(name[1])} {heading}")
            return
        if name == "table":
            self._flush()
            self._table(tag)
            return
        if name == "pre":
            self._flush()
            code = clean_text(tag.get_text()).replace("```", "'''")
            self.blocks.add(f"```\n{code}\n```")
            return
        if name == "br":
            self._inline.append(" ")
            return
        if name in ("ul", "ol", "li") or name in _HTML_BLOCK:
            self._flush()
            if name in ("ul", "ol"):
                self._list_depth += 1
            elif name == "li":
                self._list_prefix = "  " * max(self._list_depth - 1, 0) + "- "
            stack.append(("close", name))
        stack.extend(reversed(list(tag.children)))

    def _close(self, name: str) -> None:
        self._flush()
        if name in ("ul", "ol"):
            self._list_depth = max(self._list_depth - 1, 0)
        elif name == "li":
            self._list_prefix = None

    def _flush(self) -> None:
        text = _one_line("".join(self._inline))
        self._inline.clear()
        if not text:
            return
        if self._list_prefix is not None:
            self.blocks.add(self._list_prefix + text, group="list")
            self._list_prefix = None
        else:
            self.blocks.add(_escape_block_start(text))

    def _table(self, table: Tag) -> None:
        for row in table.find_all("tr"):
            if row.find_parent("table") is not table:
                continue
            cells = [_one_line(cell.get_text(" ")) for cell in row.find_all(["td", "th"], recursive=False)]
            if any(cells):
                self.blocks.add(_escape_block_start(" | ".join(cells)), group="table")


def _parse_html(data: bytes) -> Parsed:
    declared = _META_CHARSET.search(data[:4096])
    markup = decode_text(data, declared=declared.group(1).decode("ascii") if declared else None)
    # An XML declaration or a one-line locator-like page would make BeautifulSoup emit warnings meant for
    # programmers; neither changes the text.
    markup = _XML_DECLARATION.sub("", markup) + "\n"
    soup = BeautifulSoup(markup, "html.parser")
    title_tag = soup.find("title")
    page_title = _one_line(title_tag.get_text(" ")) if isinstance(title_tag, Tag) else ""
    if not page_title:
        h1 = soup.find("h1")
        page_title = _one_line(h1.get_text(" ")) if isinstance(h1, Tag) else ""
    metadata: dict[str, MetadataValue] = {}
    for meta in soup.find_all("meta"):
        name = str(meta.get("name") or "").lower()
        content = _one_line(str(meta.get("content") or ""))
        if name in ("description", "author") and content:
            metadata[name] = content
        elif name == "keywords" and content:
            metadata["keywords"] = [word.strip() for word in content.split(",") if word.strip()]
    html_tag = soup.find("html")
    lang = _one_line(str(html_tag.get("lang") or "")) if isinstance(html_tag, Tag) else ""
    if lang:
        metadata["lang"] = lang
    text = clean_text(_HtmlRenderer().render(soup))
    return Parsed(text=text, title=page_title or None, metadata=metadata)


# ---------------------------------------------------------------------------------------------- PDF


def _parse_pdf(data: bytes) -> Parsed:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoaderError("the PDF is encrypted with a password", code=ErrorCode.CORRUPT_FILE)
        pages = list(reader.pages)
    except LoaderError:
        raise
    except Exception as exc:
        raise LoaderError(f"not a readable PDF: {_one_line(str(exc))[:200]}", code=ErrorCode.CORRUPT_FILE) from exc
    texts: list[str] = []
    failures = 0
    for page in pages:
        try:
            texts.append(clean_text(page.extract_text() or ""))
        except Exception:
            failures += 1
    if pages and failures == len(pages):
        raise LoaderError("no page of the PDF could be read", code=ErrorCode.CORRUPT_FILE)
    text = _escape_block_start("\n\n".join(page for page in texts if page))
    if not text.strip():
        raise LoaderError(
            "the PDF has no extractable text (a scanned PDF needs OCR first)", code=ErrorCode.EMPTY_DOCUMENT
        )
    title: str | None = None
    try:
        info = reader.metadata
        title = _one_line(str(info.title)) if info is not None and info.title else None
    except Exception:
        title = None
    return Parsed(text=text, title=title or None, metadata={"page_count": len(pages)})


# ---------------------------------------------------------------------------------------------- DOCX


def _parse_docx(data: bytes) -> Parsed:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise LoaderError("not a DOCX file (not a zip archive)", code=ErrorCode.CORRUPT_FILE) from exc
    if expanded > MAX_DOCX_EXPANDED_BYTES:
        raise LoaderError("the DOCX expands to more than 512 MiB", code=ErrorCode.CORRUPT_FILE)
    try:
        document = docx.Document(io.BytesIO(data))
        content = list(document.iter_inner_content())
    except Exception as exc:
        raise LoaderError(f"not a readable DOCX: {_one_line(str(exc))[:200]}", code=ErrorCode.CORRUPT_FILE) from exc
    blocks = _Blocks()
    title: str | None = None
    for item in content:
        if isinstance(item, Table):
            _docx_table(item, blocks)
        elif isinstance(item, Paragraph):
            found = _docx_paragraph(item, blocks)
            title = title or found
    core_title = _one_line(document.core_properties.title or "")
    return Parsed(text=clean_text(blocks.text()), title=core_title or title)


def _docx_paragraph(paragraph: Any, blocks: _Blocks) -> str | None:
    """Add one paragraph; returns its text when it is styled as the document title."""
    text = _one_line(paragraph.text)
    if not text:
        return None
    try:
        style = paragraph.style
        style_name = str(style.name or "") if style is not None else ""
    except Exception:  # a dangling style reference must not lose the text
        style_name = ""
    heading = _HEADING_STYLE.match(style_name)
    if heading:
        blocks.add(f"{'#' * min(int(heading.group(1)), 6)} {text}")
    elif style_name.lower() == "title":
        return text
    elif style_name.lower().startswith("list") or (paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None):
        blocks.add(f"- {text}", group="list")
    else:
        blocks.add(_escape_block_start(text))
    return None


def _docx_table(table: Any, blocks: _Blocks) -> None:
    for row in table.rows:
        seen: set[int] = set()
        cells: list[str] = []
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is repeated once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(_one_line(cell.text))
        if any(cells):
            blocks.add(_escape_block_start(" | ".join(cells)), group="table")


#: suffix -> (media type, parser). JSONL is handled by the loader itself (one file, many documents).
PARSERS: dict[str, tuple[str, Callable[[bytes], Parsed]]] = {
    ".md": ("text/markdown", _parse_markdown),
    ".markdown": ("text/markdown", _parse_markdown),
    ".html": ("text/html", _parse_html),
    ".htm": ("text/html", _parse_html),
    ".txt": ("text/plain", _parse_text),
    ".pdf": ("application/pdf", _parse_pdf),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _parse_docx),
}
