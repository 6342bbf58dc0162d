from __future__ import annotations

import json
import os
import random
from pathlib import Path, PurePath

import docx
import pytest
from fpdf import FPDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from grounddesk.errors import ErrorCode, LoaderError
from grounddesk.knowledge import loaders
from grounddesk.knowledge.loaders import (
    SUPPORTED_SUFFIXES,
    LoadFailure,
    LoadResult,
    content_hash,
    load_bytes,
    load_path,
    load_paths,
    path_doc_id,
)
from grounddesk.knowledge.types import LoadedDocument


def _only_document(results: list[LoadResult]) -> LoadedDocument:
    assert [r.error for r in results if r.error is not None] == []
    assert len(results) == 1
    document = results[0].document
    assert document is not None
    return document


def _make_pdf(path: Path, pages: list[str], *, title: str | None = None) -> Path:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    path.write_bytes(bytes(pdf.output()))
    return path


def _make_docx(path: Path) -> Path:
    document = docx.Document()
    document.core_properties.title = "Refund Handbook"
    document.add_heading("Refund Handbook", level=0)
    document.add_heading("Eligibility", level=1)
    document.add_paragraph("Customers may ask for a refund within 30 days.")
    document.add_paragraph("Keep the receipt", style="List Bullet")
    document.add_paragraph("Use the original card", style="List Bullet")
    document.add_heading("Fees", level=2)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Plan"
    table.cell(0, 1).text = "Fee"
    table.cell(1, 0).text = "Gold"
    table.cell(1, 1).text = "$0"
    document.add_paragraph("# not a heading, just text")
    document.save(str(path))
    return path


# ---------------------------------------------------------------------------------------------- Markdown


def test_markdown_front_matter_gives_id_title_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "refunds.md"
    path.write_text(
        "---\n"
        "id: policy-refunds\n"
        "title: Refund policy\n"
        "audience: [agents, customers]\n"
        "effective: 2024-05-01\n"
        "priority: 3\n"
        "nested: {a: 1}\n"
        "empty: null\n"
        "---\n"
        "Refunds\n"
        "=======\n\n"
        "Ask within   30 days.  \n\n\n\n"
        "  ## Cards ##\n\n"
        "Card refunds take 5 days.\n",
        encoding="utf-8",
    )
    doc = _only_document(load_path(path))
    assert doc.doc_id == "policy-refunds"
    assert doc.title == "Refund policy"
    assert doc.media_type == "text/markdown"
    assert doc.source_uri == path.resolve().as_uri()
    assert doc.metadata == {
        "audience": ["agents", "customers"],
        "effective": "2024-05-01",
        "priority": 3,
        "nested": '{"a":1}',
    }
    # front matter gone, setext and closed headings rewritten, blank runs squeezed, trailing spaces dropped
    assert doc.text == "# Refunds\n\nAsk within   30 days.\n\n## Cards\n\nCard refunds take 5 days."


def test_markdown_without_front_matter_uses_path_slug_and_first_heading(tmp_path: Path) -> None:
    folder = tmp_path / "Guides" / "Getting Started"
    folder.mkdir(parents=True)
    (folder / "Café Setup (v2).MD").write_text("Intro line.\n\n## Install\n\nRun it.\n", encoding="utf-8")
    doc = _only_document(load_path(tmp_path))
    assert doc.doc_id == "guides/getting-started/cafe-setup-v2"
    assert doc.title == "Install"
    # the same file loaded on its own is identified relative to its folder
    assert _only_document(load_path(folder / "Café Setup (v2).MD")).doc_id == "cafe-setup-v2"
    assert _only_document(load_path(folder / "Café Setup (v2).MD", root=tmp_path / "Guides")).doc_id == (
        "getting-started/cafe-setup-v2"
    )


def test_markdown_title_falls_back_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "plain-notes.markdown"
    path.write_text("Just a paragraph, no heading.", encoding="utf-8")
    doc = _only_document(load_path(path))
    assert doc.title == "plain-notes"
    assert doc.doc_id == "plain-notes"


def test_thematic_break_at_top_is_not_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "rule.md"
    path.write_text("---\nSome text between rules\n---\nMore text.\n", encoding="utf-8")
    doc = _only_document(load_path(path))
    assert "Some text between rules" in doc.text
    assert doc.metadata == {}


def test_invalid_front_matter_is_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\nBody.\n", encoding="utf-8")
    (result,) = load_path(path)
    assert result.code == ErrorCode.CORRUPT_FILE
    assert "front matter" in (result.detail or "")


def test_front_matter_id_must_be_a_scalar(tmp_path: Path) -> None:
    path = tmp_path / "odd-id.md"
    path.write_text("---\nid: {a: 1}\n---\nBody.\n", encoding="utf-8")
    (result,) = load_path(path)
    assert result.code == ErrorCode.INVALID_RECORD


# ---------------------------------------------------------------------------------------------- HTML


def test_html_drops_scripts_and_chrome_and_keeps_structure(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        """<!DOCTYPE html><html lang="en"><head><title>Shipping FAQ</title>
        <meta name="description" content="How shipping works">
        <meta name="keywords" content="shipping, delivery">
        <style>body { color: red }</style><script>var secret = "tracking-pixel";</script></head>
        <body><nav><a href="/">Home</a> | <a href="/faq">FAQ</a></nav>
        <h1>Shipping</h1><p>We ship <b>worldwide</b>.<br>Orders leave in 2 days.</p>
        <h2>Costs</h2><ul><li>Standard: free</li><li>Express: <i>$9</i><ul><li>Next day</li></ul></li></ul>
        <table><tr><th>Zone</th><th>Days</th></tr><tr><td>EU</td><td>3</td></tr></table>
        <p># hashtag-looking text</p><pre>line 1
# not a heading</pre><!-- a comment -->
        <footer>Copyright 2024</footer><script>alert(1)</script></body></html>""",
        encoding="utf-8",
    )
    doc = _only_document(load_path(path))
    assert doc.title == "Shipping FAQ"
    assert doc.media_type == "text/html"
    assert doc.metadata == {"description": "How shipping works", "keywords": ["shipping", "delivery"], "lang": "en"}
    for absent in ("secret", "tracking-pixel", "alert", "Copyright", "Home", "color: red", "a comment"):
        assert absent not in doc.text
    assert doc.text == (
        "# Shipping\n\n"
        "We ship worldwide. Orders leave in 2 days.\n\n"
        "## Costs\n\n"
        "- Standard: free\n- Express: $9\n  - Next day\n\n"
        "Zone | Days\nEU | 3\n\n"
        "\\# hashtag-looking text\n\n"
        "```\nline 1\n# not a heading\n```"
    )


def test_html_title_falls_back_to_first_h1(tmp_path: Path) -> None:
    path = tmp_path / "nohead.htm"
    path.write_text("<h2>Second</h2><h1>Main title</h1><p>Body</p>", encoding="utf-8")
    assert _only_document(load_path(path)).title == "Main title"


@pytest.mark.parametrize(
    "markup",
    [
        "<?xml version='1.0'?><root><p>XML served as HTML</p></root>",
        "index.html",  # looks like a file name to BeautifulSoup
        "https://example.com/x",  # looks like a URL to BeautifulSoup
    ],
)
def test_html_that_bs4_would_warn_about_loads_without_warnings(tmp_path: Path, markup: str) -> None:
    # warnings are errors in this suite: a warning escaping from BeautifulSoup would fail the load
    path = tmp_path / "odd.html"
    path.write_text(markup, encoding="utf-8")
    doc = _only_document(load_path(path))
    assert doc.text.replace("\\", "") in markup


def test_html_declared_charset_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "latin.html"
    path.write_bytes('<meta charset="iso-8859-15"><p>Prix: 5 €</p>'.encode("iso-8859-15"))
    assert _only_document(load_path(path)).text == "Prix: 5 €"


# ---------------------------------------------------------------------------------------------- text and encodings


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Café crème\r\nligne 2".encode(), "Café crème\nligne 2"),
        ("\ufeffBOM café".encode(), "BOM café"),
        ("UTF-16 café".encode("utf-16"), "UTF-16 café"),
        ("UTF-16 BE café".encode("utf-16-be").join([b"\xfe\xff", b""]), "UTF-16 BE café"),
        ("no BOM utf-16le text".encode("utf-16-le"), "no BOM utf-16le text"),
        ("Windows “quotes” café".encode("cp1252"), "Windows “quotes” café"),
    ],
)
def test_text_encodings_are_detected(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(data)
    doc = _only_document(load_path(path))
    assert doc.text == expected
    assert doc.media_type == "text/plain"
    assert doc.title == "note"


def test_binary_garbage_in_a_text_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(random.Random(1).randbytes(2000))
    (result,) = load_path(path)
    assert result.code == ErrorCode.CORRUPT_FILE


def test_empty_and_whitespace_files_are_empty_documents(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("  \n\n\t ", encoding="utf-8")
    (tmp_path / "b.md").write_text("---\ntitle: Only front matter\n---\n", encoding="utf-8")
    codes = [r.code for r in load_path(tmp_path)]
    assert codes == [ErrorCode.EMPTY_DOCUMENT, ErrorCode.EMPTY_DOCUMENT]


# ---------------------------------------------------------------------------------------------- PDF and DOCX


def test_pdf_pages_are_extracted(tmp_path: Path) -> None:
    path = _make_pdf(
        tmp_path / "manual.pdf",
        ["Warranty terms apply for two years.", "Returns are accepted within 30 days."],
        title="Product Manual",
    )
    doc = _only_document(load_path(path))
    assert doc.title == "Product Manual"
    assert doc.media_type == "application/pdf"
    assert doc.metadata == {"page_count": 2}
    assert "Warranty terms apply for two years." in doc.text
    assert doc.text.index("Warranty") < doc.text.index("Returns are accepted")


def test_pdf_without_text_is_empty(tmp_path: Path) -> None:
    (result,) = load_path(_make_pdf(tmp_path / "scan.pdf", [""]))
    assert result.code == ErrorCode.EMPTY_DOCUMENT
    assert "OCR" in (result.detail or "")


def test_docx_headings_lists_and_tables(tmp_path: Path) -> None:
    doc = _only_document(load_path(_make_docx(tmp_path / "handbook.docx")))
    assert doc.title == "Refund Handbook"
    assert doc.media_type.endswith("wordprocessingml.document")
    assert doc.text == (
        "# Eligibility\n\n"
        "Customers may ask for a refund within 30 days.\n\n"
        "- Keep the receipt\n- Use the original card\n\n"
        "## Fees\n\n"
        "Plan | Fee\nGold | $0\n\n"
        "\\# not a heading, just text"
    )


# ---------------------------------------------------------------------------------------------- JSONL


def _line_of(result: LoadResult) -> int:
    if result.error is not None:
        assert result.error.line is not None
        return result.error.line
    assert result.document is not None
    return int(result.document.source_uri.rsplit("#L", 1)[1])


def test_jsonl_bad_lines_fail_alone(tmp_path: Path) -> None:
    path = tmp_path / "bulk.jsonl"
    lines = [
        json.dumps({"id": "faq-1", "title": "Reset password", "content": "## Steps\n\nClick reset.", "tags": ["a"]}),
        "",
        '{"id": "faq-2", "content": "broken',
        json.dumps({"id": "faq-3", "content": "   "}),
        json.dumps({"id": "faq-4", "title": 5, "content": "x"}),
        json.dumps(["not", "an", "object"]),
        '{"id": "faq-5", "content": "nan metadata", "score": NaN}',
        json.dumps({"id": 6, "content": "# Numeric id\n\nBody.", "rank": 2, "nested": {"k": [1]}, "none": None}),
        json.dumps({"content": "No id here."}),
        json.dumps({"id": "faq-1", "content": "duplicate"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = load_path(path)
    by_line = {_line_of(r): r for r in results}
    assert sorted(by_line) == [1, 3, 4, 5, 6, 7, 8, 9, 10]
    first = by_line[1].document
    assert first is not None
    assert (first.doc_id, first.title, first.text, first.metadata) == (
        "faq-1",
        "Reset password",
        "## Steps\n\nClick reset.",
        {"tags": ["a"]},
    )
    assert first.source_uri == f"{path.resolve().as_uri()}#L1"
    assert first.media_type == "application/jsonl"
    assert by_line[3].code == ErrorCode.INVALID_RECORD
    assert by_line[4].code == ErrorCode.EMPTY_DOCUMENT
    assert by_line[5].code == ErrorCode.INVALID_RECORD
    assert by_line[6].code == ErrorCode.INVALID_RECORD
    assert by_line[7].code == ErrorCode.INVALID_RECORD
    numeric = by_line[8].document
    assert numeric is not None
    assert (numeric.doc_id, numeric.title, numeric.metadata) == ("6", "Numeric id", {"rank": 2, "nested": '{"k":[1]}'})
    no_id = by_line[9].document
    assert no_id is not None and no_id.doc_id == "bulk-l9"
    assert by_line[10].code == ErrorCode.INVALID_RECORD
    assert "duplicate" in (by_line[10].detail or "")
    assert all(r.path == path for r in results)


def test_jsonl_invalid_utf8_line_and_utf16_file(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b'\xef\xbb\xbf{"id": "a", "content": "ok"}\n{"id": "b", "content": "\xff\xfe"}\n')
    results = load_path(mixed)
    assert [r.ok for r in results] == [True, False]
    assert results[1].error is not None and results[1].error.line == 2
    wide = tmp_path / "wide.jsonl"
    wide.write_bytes('{"id": "w", "content": "wide café"}\n'.encode("utf-16"))
    assert _only_document(load_path(wide)).text == "wide café"


def test_jsonl_without_records_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    (result,) = load_path(path)
    assert result.code == ErrorCode.EMPTY_DOCUMENT


def test_jsonl_over_long_line_fails_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "MAX_FILE_BYTES", 64)
    path = tmp_path / "long.jsonl"
    path.write_text(
        json.dumps({"id": "long", "content": "x" * 200}) + "\n" + json.dumps({"id": "ok", "content": "y"}) + "\n",
        encoding="utf-8",
    )
    results = load_path(path)
    assert [r.code for r in results] == [ErrorCode.INVALID_RECORD, None]
    assert results[1].document is not None and results[1].document.doc_id == "ok"


# ---------------------------------------------------------------------------------------------- folders


def test_folder_walk_isolates_failures(tmp_path: Path) -> None:
    (tmp_path / "a-guide.md").write_text("# Guide\n\nHello.", encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(random.Random(7).randbytes(3000))
    (tmp_path / "data.xyz").write_text("whatever", encoding="utf-8")
    (tmp_path / "LICENSE").write_text("MIT", encoding="utf-8")
    (tmp_path / ".hidden.md").write_text("# secret", encoding="utf-8")
    (tmp_path / "~$lock.docx").write_bytes(b"lock")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.txt").write_text("x", encoding="utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    _make_pdf(sub / "manual.pdf", ["Manual text."])
    _make_docx(sub / "handbook.docx")
    (sub / "notes.txt").write_text("Plain notes.", encoding="utf-8")
    (sub / "bulk.jsonl").write_text(json.dumps({"id": "j1", "content": "Record."}) + "\n", encoding="utf-8")

    results = load_path(tmp_path)
    summary = [(r.path.relative_to(tmp_path).as_posix(), r.code) for r in results]
    assert summary == [
        ("LICENSE", ErrorCode.UNSUPPORTED_FORMAT),
        ("a-guide.md", None),
        ("broken.pdf", ErrorCode.CORRUPT_FILE),
        ("data.xyz", ErrorCode.UNSUPPORTED_FORMAT),
        ("sub/bulk.jsonl", None),
        ("sub/handbook.docx", None),
        ("sub/manual.pdf", None),
        ("sub/notes.txt", None),
    ]
    ids = [r.document.doc_id for r in results if r.document is not None]
    assert ids == ["a-guide", "j1", "sub/handbook", "sub/manual", "sub/notes"]
    assert load_path(tmp_path) == results  # deterministic


def test_missing_path_and_explicit_unsupported_file(tmp_path: Path) -> None:
    (missing,) = load_path(tmp_path / "nope.md")
    assert missing.code == ErrorCode.FILE_NOT_FOUND
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    (unsupported,) = load_path(tmp_path / "sheet.xlsx")
    assert unsupported.code == ErrorCode.UNSUPPORTED_FORMAT
    assert ".xlsx" in (unsupported.detail or "")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_and_broken_links(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.md")  # reading it would block for ever
    (tmp_path / "dangling.md").symlink_to(tmp_path / "gone.md")
    (tmp_path / "ok.md").write_text("fine", encoding="utf-8")
    results = load_path(tmp_path)
    assert [(r.path.name, r.code) for r in results] == [("dangling.md", ErrorCode.FILE_NOT_FOUND), ("ok.md", None)]
    (direct,) = load_path(tmp_path / "pipe.md")
    assert direct.code == ErrorCode.UNSUPPORTED_FORMAT


def test_load_paths_checks_duplicate_ids_across_paths(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "faq.md").write_text("First.", encoding="utf-8")
    (two / "faq.txt").write_text("Second.", encoding="utf-8")
    results = list(load_paths([one, two, tmp_path / "missing"]))
    assert [r.code for r in results] == [None, ErrorCode.INVALID_RECORD, ErrorCode.FILE_NOT_FOUND]
    assert "faq" in (results[1].detail or "")


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "MAX_FILE_BYTES", 10)
    (tmp_path / "big.txt").write_text("x" * 11, encoding="utf-8")
    (result,) = load_path(tmp_path / "big.txt")
    assert result.code == ErrorCode.FILE_TOO_LARGE
    assert "limit" in (result.detail or "")


def test_load_bytes_for_uploads() -> None:
    (result,) = load_bytes(b"# Upload\n\nText.", filename="../../etc/My Upload.md")
    assert result.document is not None
    assert result.document.doc_id == "my-upload"
    assert result.document.source_uri == "upload:My Upload.md"
    (named,) = load_bytes(b"Text.", filename="x.txt", doc_id="kb-7", source_uri="s3://bucket/x.txt")
    assert named.document is not None and (named.document.doc_id, named.document.source_uri) == (
        "kb-7",
        "s3://bucket/x.txt",
    )
    bulk = load_bytes(b'{"id": "r", "content": "c"}\n{bad\n', filename="bulk.jsonl")
    assert [r.code for r in bulk] == [None, ErrorCode.INVALID_RECORD]
    (bad,) = load_bytes(b"data", filename="x.exe")
    assert bad.code == ErrorCode.UNSUPPORTED_FORMAT


# ---------------------------------------------------------------------------------------------- ids, hashes, results


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("FAQ/Refunds & Returns.md", "faq/refunds-returns"),
        ("a.b.c.txt", "a.b.c"),
        ("naïve résumé.md", "naive-resume"),
        ("README", "readme"),
    ],
)
def test_path_doc_id(relative: str, expected: str) -> None:
    assert path_doc_id(PurePath(relative)) == expected


def test_path_doc_id_without_latin_letters_and_very_long() -> None:
    assert path_doc_id(PurePath("日本語.md")).startswith("doc-")
    assert path_doc_id(PurePath("日本語.md")) != path_doc_id(PurePath("中文.md"))
    long_id = path_doc_id(PurePath("x" * 400 + ".md"))
    assert len(long_id) <= 300
    assert long_id != path_doc_id(PurePath("x" * 401 + ".md"))


def test_content_hash_tracks_content_not_key_order() -> None:
    base = LoadedDocument(
        doc_id="d", title="T", text="Body", source_uri="file:///d", media_type="text/plain", metadata={"a": 1, "b": "x"}
    )
    same = base.model_copy(update={"metadata": {"b": "x", "a": 1}, "source_uri": "file:///elsewhere"})
    assert content_hash(base) == content_hash(same)
    assert len(content_hash(base)) == 64
    for change in ({"text": "Body!"}, {"title": "T2"}, {"metadata": {"a": 2, "b": "x"}}):
        assert content_hash(base.model_copy(update=change)) != content_hash(base)


def test_load_result_holds_exactly_one_outcome(tmp_path: Path) -> None:
    failure = LoadFailure(path=tmp_path, code=ErrorCode.CORRUPT_FILE, detail="bad", line=3)
    with pytest.raises(ValidationError):
        LoadResult(path=tmp_path)
    document = LoadedDocument(doc_id="d", title="t", text="x", source_uri="u", media_type="text/plain")
    with pytest.raises(ValidationError):
        LoadResult(path=tmp_path, document=document, error=failure)
    error = failure.to_error()
    assert isinstance(error, LoaderError)
    assert error.to_dict() == {"code": "corrupt_file", "detail": "bad", "path": str(tmp_path), "line": 3}


def test_supported_suffixes() -> None:
    assert {".md", ".markdown", ".html", ".htm", ".txt", ".pdf", ".docx", ".jsonl"} == SUPPORTED_SUFFIXES


# ---------------------------------------------------------------------------------------------- robustness


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # hypothesis re-runs the test body many times; a module-level folder avoids the function-scoped tmp_path
    return tmp_path_factory.mktemp("loader-fuzz")


class _Samples(dict[str, bytes]):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example; keep it short
        return f"<valid samples of {sorted(self)}>"


@pytest.fixture(scope="module")
def valid_samples(fuzz_dir: Path) -> dict[str, bytes]:
    pdf = _make_pdf(fuzz_dir / "seed.pdf", ["Seed text for mutations.", "Second page."])
    docx_path = _make_docx(fuzz_dir / "seed.docx")
    return _Samples(
        {
            ".pdf": pdf.read_bytes(),
            ".docx": docx_path.read_bytes(),
            ".html": b"<html><head><title>T</title></head><body><h1>H</h1><p>P</p><ul><li>I</li></ul></body></html>",
            ".md": b"---\ntitle: T\nid: x\n---\n# H\n\nText.\n",
            ".txt": b"Plain text.\n",
            ".jsonl": b'{"id": "a", "content": "x"}\n{"id": "b", "title": "t", "content": "# h\\n\\ny"}\n',
        }
    )


def _check_results(results: list[LoadResult]) -> None:
    assert results
    for result in results:
        if result.error is not None:
            assert isinstance(result.error.code, ErrorCode)
        else:
            assert result.document is not None and result.document.text.strip()


_ANY_SUFFIX = st.sampled_from(sorted(SUPPORTED_SUFFIXES))
_FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(suffix=_ANY_SUFFIX, data=st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(fuzz_dir: Path, suffix: str, data: bytes) -> None:
    path = fuzz_dir / f"random{suffix}"
    path.write_bytes(data)
    _check_results(load_path(path))


@_FUZZ
@given(
    suffix=st.sampled_from([".docx", ".html", ".jsonl", ".md", ".pdf", ".txt"]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    flips=st.integers(min_value=1, max_value=40),
    truncate=st.floats(min_value=0.0, max_value=1.0),
)
def test_mutated_valid_files_never_raise(
    fuzz_dir: Path, valid_samples: dict[str, bytes], suffix: str, seed: int, flips: int, truncate: float
) -> None:
    rng = random.Random(seed)
    data = bytearray(valid_samples[suffix])
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    if truncate < 0.3:
        data = data[: int(len(data) * truncate / 0.3)]
    path = fuzz_dir / f"mutated{suffix}"
    path.write_bytes(bytes(data))
    _check_results(load_path(path))


@_FUZZ
@given(suffix=_ANY_SUFFIX, text=st.text(max_size=2000))
def test_arbitrary_text_never_raises(fuzz_dir: Path, suffix: str, text: str) -> None:
    path = fuzz_dir / f"text{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    results = load_path(path)
    _check_results(results)
    for result in results:
        if result.document is not None:
            result.document.text.encode("utf-8")  # no lone surrogates reach the store
            content_hash(result.document)
