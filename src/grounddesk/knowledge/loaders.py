"""Turn files and folders into :class:`~grounddesk.knowledge.types.LoadedDocument` objects.

Supported: Markdown (``.md``, ``.markdown``, with optional YAML front matter), HTML (``.html``, ``.htm``),
plain text (``.txt``), PDF (``.pdf``), Word (``.docx``) and JSONL bulk files (``.jsonl``, one document per
line: ``{"id", "title", "content", ...metadata}``). Every file yields results, never exceptions: one
:class:`LoadResult` per document, or per file or JSONL line that failed, so importing a folder reports what
was skipped and why while everything else loads.

Example:
    >>> results = load_path(Path("handbook/"))
    >>> documents = [r.document for r in results if r.document is not None]
    >>> failures = [r.error for r in results if r.error is not None]
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePath
from typing import Any, BinaryIO, Self

from pydantic import BaseModel, ConfigDict, model_validator

from grounddesk.errors import ErrorCode, LoaderError
from grounddesk.knowledge._formats import (
    PARSERS,
    clean_text,
    decode_text,
    first_heading,
    metadata_value,
    normalise_markdown,
)
from grounddesk.knowledge.types import LoadedDocument, MetadataValue

__all__ = [
    "JSONL_MEDIA_TYPE",
    "MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "LoadFailure",
    "LoadResult",
    "content_hash",
    "load_bytes",
    "load_path",
    "load_paths",
    "path_doc_id",
]

logger = logging.getLogger(__name__)

#: Files (and single JSONL lines) larger than this are refused; a JSONL file as a whole may be larger.
MAX_FILE_BYTES = 50 * 1024 * 1024
JSONL_MEDIA_TYPE = "application/jsonl"
#: Every suffix a loader exists for (lower case, with the dot).
SUPPORTED_SUFFIXES: frozenset[str] = frozenset({*PARSERS, ".jsonl"})

_MAX_ID_CHARS = 300
_SLUG_DROP = re.compile(r"[^a-z0-9._/-]+")
_JSONL_CONTENT_KEYS = ("content", "text")
_JSONL_RESERVED = frozenset({"id", "doc_id", "title", *_JSONL_CONTENT_KEYS})
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class LoadFailure(BaseModel):
    """Why one file, or one line of a JSONL file, produced no document."""

    model_config = ConfigDict(frozen=True)

    path: Path
    code: ErrorCode
    detail: str
    line: int | None = None

    def to_error(self) -> LoaderError:
        """The equivalent :class:`~grounddesk.errors.LoaderError`, for callers that want to raise it."""
        return LoaderError(self.detail, code=self.code, path=str(self.path), line=self.line)


class LoadResult(BaseModel):
    """The outcome for one document: exactly one of ``document`` and ``error`` is set."""

    model_config = ConfigDict(frozen=True)

    path: Path
    document: LoadedDocument | None = None
    error: LoadFailure | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.document is None) == (self.error is None):
            raise ValueError("a LoadResult holds either a document or an error")
        return self

    @property
    def ok(self) -> bool:
        """Whether a document was loaded."""
        return self.document is not None

    @property
    def code(self) -> ErrorCode | None:
        """The error code of a failure; ``None`` for a document."""
        return self.error.code if self.error is not None else None

    @property
    def detail(self) -> str | None:
        """The error detail of a failure; ``None`` for a document."""
        return self.error.detail if self.error is not None else None


def load_path(path: Path, *, root: Path | None = None) -> list[LoadResult]:
    """Load one file, or every file below a folder (recursively, sorted, hidden entries skipped).

    Args:
        path: A file or a folder.
        root: What document ids are made relative to; defaults to ``path`` for a folder and to the file's
            folder for a file (so ``docs/faq/refunds.md`` loaded from ``docs`` gets the id ``faq/refunds``).

    Returns:
        One result per document, per failed file and per failed JSONL line, in a stable order. Files of an
        unsupported type found in a folder are reported as ``UNSUPPORTED_FORMAT``; a missing path as
        ``FILE_NOT_FOUND``; a document id seen twice as ``INVALID_RECORD`` on the second occurrence.
    """
    return list(_dedupe(_iter_path(Path(path), root)))


def load_paths(paths: Iterable[Path]) -> Iterator[LoadResult]:
    """Load several files or folders lazily, each its own id root (see :func:`load_path`).

    Document ids are checked for duplicates across all the paths.
    """
    return _dedupe(result for path in paths for result in _iter_path(Path(path), None))


def load_bytes(
    data: bytes, *, filename: str, doc_id: str | None = None, source_uri: str | None = None
) -> list[LoadResult]:
    """Load an uploaded file that exists only in memory.

    Args:
        data: The file's bytes.
        filename: Its name; the suffix picks the format and the stem is the default id and title.
        doc_id: The id to use when the content names none (front matter or JSONL ``id`` win).
        source_uri: Where it came from; defaults to ``upload:<filename>``.

    Returns:
        The results, as :func:`load_path` gives them.
    """
    # The client names an upload: control characters and lone surrogates in it would reach the id, title and URI.
    name = " ".join(clean_text(PurePath(filename).name).split()) or "upload"
    path = Path(name)
    source = _Source(
        path=path,
        doc_id=doc_id or path_doc_id(PurePath(name)),
        stem=path.stem or name,
        uri=source_uri or f"upload:{name}",
    )
    if len(data) > MAX_FILE_BYTES and path.suffix.lower() != ".jsonl":
        return [_too_large(path, len(data))]
    return list(_dedupe(_load_source(source, lambda: io.BytesIO(data))))


def content_hash(doc: LoadedDocument) -> str:
    """A sha256 over title, text and metadata, to tell whether a re-import changed anything."""
    payload = json.dumps(
        {"title": doc.title, "text": doc.text, "metadata": doc.metadata},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def path_doc_id(relative: PurePath) -> str:
    """The document id of a file: its path below the import root, without suffix, as a lower-case slug.

    Only ``[a-z0-9._/-]`` survive (accents are folded, anything else becomes ``-``), so the id is the same on
    every machine. A name with nothing left (e.g. only non-Latin letters) gets a hash-based id.
    """
    raw = relative.with_suffix("").as_posix() if relative.suffix else relative.as_posix()
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii").lower()
    parts = [_SLUG_DROP.sub("-", part).strip("-") for part in folded.split("/") if part not in ("", ".", "..")]
    slug = "/".join(part for part in parts if part)
    digest = hashlib.sha1(raw.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()[:12]
    if not re.search(r"[a-z0-9]", slug):
        return f"doc-{digest}"
    if len(slug) > _MAX_ID_CHARS:
        return f"{slug[: _MAX_ID_CHARS - 13]}-{digest}"
    return slug


# ---------------------------------------------------------------------------------------------- walking


class _Source:
    """One file to load and the names derived from it."""

    def __init__(self, *, path: Path, doc_id: str, stem: str, uri: str) -> None:
        self.path = path
        self.doc_id = doc_id
        self.stem = stem
        self.uri = uri

    def failure(self, code: ErrorCode, detail: str, line: int | None = None) -> LoadResult:
        return LoadResult(path=self.path, error=LoadFailure(path=self.path, code=code, detail=detail, line=line))


def _fail(path: Path, code: ErrorCode, detail: str) -> LoadResult:
    return LoadResult(path=path, error=LoadFailure(path=path, code=code, detail=detail))


def _too_large(path: Path, size: int) -> LoadResult:
    return _fail(path, ErrorCode.FILE_TOO_LARGE, f"the file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes")


def _iter_path(path: Path, root: Path | None) -> Iterator[LoadResult]:
    if path.is_dir():
        yield from _iter_folder(path, root or path)
    elif path.is_file():
        yield from _iter_file(path, root or path.parent)
    elif path.exists():
        yield _fail(path, ErrorCode.UNSUPPORTED_FORMAT, "not a regular file or folder")
    else:
        yield _fail(path, ErrorCode.FILE_NOT_FOUND, f"no such file or folder: {path}")


def _iter_folder(folder: Path, root: Path) -> Iterator[LoadResult]:
    walk_errors: list[OSError] = []
    found: list[tuple[str, Path]] = []
    for current, dirs, files in os.walk(folder, onerror=walk_errors.append):
        dirs[:] = [name for name in dirs if not _hidden(name)]
        base = Path(current)
        for name in files:
            if not _hidden(name):
                file = base / name
                found.append((file.relative_to(folder).as_posix(), file))
    for error in walk_errors:
        yield _fail(Path(error.filename or folder), ErrorCode.CORRUPT_FILE, f"cannot read the folder: {error}")
    for _, file in sorted(found):
        if file.is_file():
            yield from _iter_file(file, root)
        elif not file.exists():
            yield _fail(file, ErrorCode.FILE_NOT_FOUND, "a broken symbolic link")
        # sockets, FIFOs and links to folders are not documents and are skipped silently


def _hidden(name: str) -> bool:
    return name.startswith((".", "~$"))  # '~$' are Office lock files


def _iter_file(path: Path, root: Path) -> Iterator[LoadResult]:
    absolute = Path(os.path.abspath(path))
    try:
        relative: PurePath = absolute.relative_to(os.path.abspath(root))
    except ValueError:
        relative = PurePath(path.name)
    source = _Source(path=path, doc_id=path_doc_id(relative), stem=path.stem, uri=absolute.as_uri())
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_SUFFIXES and suffix != ".jsonl":
        try:
            size = path.stat().st_size
        except OSError as exc:
            yield _fail(path, ErrorCode.CORRUPT_FILE, f"cannot read the file: {exc}")
            return
        if size > MAX_FILE_BYTES:
            yield _too_large(path, size)
            return
    yield from _load_source(source, lambda: path.open("rb"))


def _load_source(source: _Source, opener: Callable[[], BinaryIO]) -> Iterator[LoadResult]:
    suffix = source.path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{suffix}' files" if suffix else "files without a suffix"
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        yield source.failure(ErrorCode.UNSUPPORTED_FORMAT, f"{kind} are not supported (supported: {supported})")
        return
    try:
        with opener() as stream:
            if suffix == ".jsonl":
                yield from _load_jsonl(source, stream)
                return
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        yield source.failure(ErrorCode.CORRUPT_FILE, f"cannot read the file: {exc}")
        return
    if len(data) > MAX_FILE_BYTES:
        yield _too_large(source.path, len(data))
        return
    yield _load_document(source, suffix, data)


def _load_document(source: _Source, suffix: str, data: bytes) -> LoadResult:
    media_type, parse = PARSERS[suffix]
    try:
        parsed = parse(data)
        text = parsed.text
        if not text.strip():
            raise LoaderError("the file holds no text", code=ErrorCode.EMPTY_DOCUMENT)
        doc_id = _check_id(parsed.doc_id) if parsed.doc_id is not None else source.doc_id
        document = LoadedDocument(
            doc_id=doc_id,
            title=parsed.title or first_heading(text) or source.stem,
            text=text,
            source_uri=source.uri,
            media_type=media_type,
            metadata=parsed.metadata,
        )
    except LoaderError as exc:
        return source.failure(exc.code, exc.detail)
    except Exception as exc:  # a parser library choked on bad bytes: that is a corrupt file, never a crash
        logger.debug("parser failure", extra={"path": str(source.path), "error": type(exc).__name__})
        return source.failure(ErrorCode.CORRUPT_FILE, f"cannot parse the {suffix} file ({type(exc).__name__})")
    return LoadResult(path=source.path, document=document)


def _check_id(raw: str) -> str:
    doc_id = clean_text(raw).strip()
    if not doc_id or len(doc_id) > _MAX_ID_CHARS or "\n" in doc_id:
        raise LoaderError(
            f"the document id must be one line of 1 to {_MAX_ID_CHARS} characters", code=ErrorCode.INVALID_RECORD
        )
    return doc_id


def _dedupe(results: Iterable[LoadResult]) -> Iterator[LoadResult]:
    first_seen: dict[str, str] = {}
    for result in results:
        document = result.document
        if document is None:
            yield result
            continue
        where = document.source_uri
        if document.doc_id in first_seen:
            detail = f"duplicate document id '{document.doc_id}' (first loaded from {first_seen[document.doc_id]})"
            failure = LoadFailure(path=result.path, code=ErrorCode.INVALID_RECORD, detail=detail, line=_line_of(where))
            yield LoadResult(path=result.path, error=failure)
            continue
        first_seen[document.doc_id] = where
        yield result


def _line_of(uri: str) -> int | None:
    match = re.search(r"#L(\d+)$", uri)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------------------------- JSONL


def _load_jsonl(source: _Source, stream: BinaryIO) -> Iterator[LoadResult]:
    records = 0
    for line_no, line in _jsonl_lines(stream):
        if isinstance(line, LoaderError):
            records += 1
            yield source.failure(line.code, line.detail, line=line_no)
            continue
        if not line.strip():
            continue
        records += 1
        try:
            document = _jsonl_record(source, line, line_no)
        except LoaderError as exc:
            yield source.failure(exc.code, exc.detail, line=line_no)
        except Exception as exc:
            yield source.failure(ErrorCode.INVALID_RECORD, f"invalid record ({type(exc).__name__})", line=line_no)
        else:
            yield LoadResult(path=source.path, document=document)
    if records == 0:
        yield source.failure(ErrorCode.EMPTY_DOCUMENT, "the JSONL file holds no records")


def _jsonl_lines(stream: BinaryIO) -> Iterator[tuple[int, str | LoaderError]]:
    head = stream.read(4)
    if head.startswith(_WIDE_BOMS):
        # UTF-16/32 JSONL cannot be split on b"\n"; such files are decoded whole (within the size limit).
        data = head + stream.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            yield 1, LoaderError("a UTF-16/32 JSONL file larger than 50 MiB", code=ErrorCode.INVALID_RECORD)
            return
        try:
            text = decode_text(data)
        except LoaderError as exc:
            yield 1, exc
            return
        yield from enumerate(text.split("\n"), start=1)
        return
    stream.seek(0)
    line_no = 0
    while raw := stream.readline(MAX_FILE_BYTES + 1):
        line_no += 1
        if len(raw) > MAX_FILE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(1 << 20)
            yield line_no, LoaderError("the line is longer than 50 MiB", code=ErrorCode.INVALID_RECORD)
            continue
        if line_no == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield line_no, raw.decode("utf-8")
        except UnicodeDecodeError:
            yield line_no, LoaderError("the line is not valid UTF-8", code=ErrorCode.INVALID_RECORD)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def _jsonl_record(source: _Source, line: str, line_no: int) -> LoadedDocument:
    try:
        record = json.loads(line, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise LoaderError(f"not valid JSON: {str(exc)[:200]}", code=ErrorCode.INVALID_RECORD) from exc
    if not isinstance(record, dict):
        raise LoaderError("a record must be a JSON object", code=ErrorCode.INVALID_RECORD)
    content = next((record[key] for key in _JSONL_CONTENT_KEYS if key in record), None)
    if not isinstance(content, str):
        raise LoaderError("a record needs a string 'content'", code=ErrorCode.INVALID_RECORD)
    text = normalise_markdown(content)
    if not text.strip():
        raise LoaderError("the record's content is empty", code=ErrorCode.EMPTY_DOCUMENT)
    raw_id = record.get("id", record.get("doc_id"))
    if raw_id is None:
        doc_id = f"{source.doc_id}-l{line_no}"[-_MAX_ID_CHARS:]
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
        doc_id = _check_id(str(raw_id))
    else:
        raise LoaderError("'id' must be a string or an integer", code=ErrorCode.INVALID_RECORD)
    raw_title = record.get("title")
    if raw_title is not None and not isinstance(raw_title, str):
        raise LoaderError("'title' must be a string", code=ErrorCode.INVALID_RECORD)
    title = clean_text(raw_title or "").replace("\n", " ").strip()
    metadata: dict[str, MetadataValue] = {}
    for key, raw in record.items():
        if key not in _JSONL_RESERVED and (value := metadata_value(raw)) is not None:
            metadata[clean_text(key) or "_"] = value
    return LoadedDocument(
        doc_id=doc_id,
        title=title or first_heading(text) or doc_id,
        text=text,
        source_uri=f"{source.uri}#L{line_no}",
        media_type=JSONL_MEDIA_TYPE,
        metadata=metadata,
    )
