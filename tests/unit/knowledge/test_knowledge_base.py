"""The knowledge base's promises, on SQLite and PostgreSQL, with the reference store and Qdrant edge."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from grounddesk.errors import DocumentNotFound, ErrorCode, InvalidTransition
from grounddesk.knowledge.loaders import LoadResult
from grounddesk.knowledge.retriever import GrounddeskRetriever
from grounddesk.knowledge.service import KnowledgeBase
from grounddesk.knowledge.types import LoadedDocument

RETURNS_V1 = "# Returns\n\nYou can return unworn items within 30 days of delivery for a full refund.\n"
RETURNS_V2 = "# Returns\n\nYou can return unworn items within 60 days of delivery for a full refund.\n"


def _write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def _doc(doc_id: str, body: str, **metadata: str) -> LoadResult:
    document = LoadedDocument(
        doc_id=doc_id,
        title=doc_id,
        text=body,
        source_uri=f"test://{doc_id}",
        media_type="text/markdown",
        metadata=metadata,
    )
    return LoadResult(path=document.source_uri, document=document)


def _doc_ids(kb: KnowledgeBase, query: str, audiences: list[str] | None = None, k: int = 50) -> set[str]:
    return {h.doc_id for h in kb.search(query, audiences=audiences or ["public"], top_k=k).hits}


def test_a_draft_is_never_returned_until_approved(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = _write(tmp_path / "docs", "returns.md", "---\nid: returns\n---\n" + RETURNS_V1)
    report = kb.import_paths([path])
    assert [(i.doc_id, i.version, i.status) for i in report.imported] == [("returns", 1, "draft")]
    for mode in ("hybrid", "dense", "sparse"):
        assert kb.search("return unworn items refund", audiences=["public"], mode=mode).hits == []  # type: ignore[arg-type]
    kb.submit_for_review("returns", 1)
    assert kb.search("return unworn items refund", audiences=["public"]).hits == []
    kb.approve("returns")
    hits = kb.search("return unworn items refund", audiences=["public"]).hits
    assert hits and {h.citation for h in hits} == {"returns@1"}
    assert "30 days" in hits[0].text


def test_audience_filter_never_leaks(kb: KnowledgeBase) -> None:
    secret = "Refunds above 500 dollars need supervisor approval and a fraud check by the agent."
    kb.import_results(
        [
            _doc("agent-playbook", f"# Playbook\n\n{secret}", audience="internal"),
            _doc(
                "premium-perks",
                "# Summit\n\nSummit members get free express shipping and 60 day returns.",
                audience="customer:premium",
            ),
            _doc("refunds", "# Refunds\n\nRefunds reach your card within 5 to 10 business days."),
        ],
        approve=True,
    )
    for mode in ("hybrid", "dense", "sparse"):
        for query in (secret, "supervisor approval refunds", "fraud check", "express shipping summit"):
            public = {h.doc_id for h in kb.search(query, audiences=["public"], top_k=50, mode=mode).hits}  # type: ignore[arg-type]
            assert "agent-playbook" not in public
            assert "premium-perks" not in public
    assert "agent-playbook" in _doc_ids(kb, secret, ["internal"])
    assert "premium-perks" in _doc_ids(kb, "express shipping summit", ["public", "customer:premium"])
    assert "agent-playbook" not in _doc_ids(kb, secret, ["public", "customer:premium"])


def test_effective_dates_are_respected(kb: KnowledgeBase, clock: object) -> None:
    now = datetime.fromtimestamp(clock(), tz=UTC)  # type: ignore[operator]
    kb.import_results(
        [_doc("winter-sale", "# Winter sale\n\nEvery jacket is 20 percent off.")],
        approve=True,
        effective_from=now + timedelta(days=1),
        effective_until=now + timedelta(days=8),
    )
    kb.import_results(
        [_doc("old-promo", "# Old promo\n\nEvery jacket ships free.")],
        approve=True,
        effective_until=now - timedelta(seconds=1),
    )
    assert _doc_ids(kb, "jacket") == set()
    clock.now += 2 * 86_400  # type: ignore[attr-defined]
    assert _doc_ids(kb, "jacket") == {"winter-sale"}
    clock.now += 7 * 86_400  # type: ignore[attr-defined]
    assert _doc_ids(kb, "jacket") == set()


def test_approving_version_2_makes_version_1_unsearchable(kb: KnowledgeBase) -> None:
    kb.import_results([_doc("returns", RETURNS_V1)], approve=True)
    report = kb.import_results([_doc("returns", RETURNS_V2)])
    assert [(i.version, i.status) for i in report.imported] == [(2, "draft")]
    assert {h.citation for h in kb.search("return unworn items", top_k=20).hits} == {"returns@1"}
    kb.approve("returns", 2)
    hits = kb.search("return unworn items", top_k=20).hits
    assert {h.citation for h in hits} == {"returns@2"}
    assert all("60 days" in h.text for h in hits)
    statuses = {v.version: v.status for v in kb.registry.get("returns").versions}
    assert statuses == {1: "retired", 2: "approved"}
    with pytest.raises(InvalidTransition) as err:
        kb.approve("returns", 1)
    assert err.value.code == ErrorCode.INVALID_TRANSITION


def test_no_search_sees_both_versions_or_neither_while_approving(make_kb: object) -> None:
    kb: KnowledgeBase = make_kb()  # type: ignore[operator]
    kb.import_results([_doc("returns", RETURNS_V1)], approve=True)
    seen: list[set[int]] = []
    stop = threading.Event()

    def searcher() -> None:
        while not stop.is_set():
            hits = kb.search("return unworn items delivery refund", top_k=50).hits
            seen.append({h.version for h in hits if h.doc_id == "returns"})

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        for version in range(2, 12):
            body = RETURNS_V1.replace("30 days", f"{30 + version} days")
            kb.import_results([_doc("returns", body)])
            kb.approve("returns", version)
    finally:
        stop.set()
        thread.join()
    assert seen, "the searcher thread ran no search"
    assert all(len(versions) == 1 for versions in seen), [v for v in seen if len(v) != 1][:5]


def test_retire_removes_from_search(kb: KnowledgeBase) -> None:
    kb.import_results([_doc("returns", RETURNS_V1)], approve=True)
    assert kb.retire("returns") == 1
    assert _doc_ids(kb, "return unworn items") == set()
    with pytest.raises(InvalidTransition):
        kb.retire("returns")


def test_delete_leaves_nothing_in_any_store(kb: KnowledgeBase, tmp_path: Path, sql_url: str) -> None:
    path = _write(tmp_path / "docs", "returns.md", "---\nid: returns\n---\n" + RETURNS_V1)
    kb.import_paths([path], approve=True)
    _write(tmp_path / "docs", "returns.md", "---\nid: returns\n---\n" + RETURNS_V2)
    kb.import_paths([path])
    kb.import_results([_doc("shipping", "# Shipping\n\nOrders over 75 dollars ship free.")], approve=True)
    before = kb.store.count()
    folder = kb.files_dir
    assert any(folder.rglob("original.md"))

    result = kb.delete("returns")

    assert result.chunks > 0 and result.files >= 2 and sum(result.sql_rows.values()) >= 3
    assert kb.store.chunks("returns") == []
    assert kb.store.count() == before - result.chunks
    with pytest.raises(DocumentNotFound):
        kb.registry.get("returns")
    engine = create_engine(sql_url)
    try:
        with engine.connect() as conn:
            for table in ("documents", "document_versions", "document_history"):
                count = conn.execute(text(f"SELECT count(*) FROM {table} WHERE doc_id = 'returns'")).scalar_one()
                assert count == 0, table
    finally:
        engine.dispose()
    assert not list(folder.rglob("original.md")) or all("returns" not in p.read_text() for p in folder.rglob("*.md"))
    assert _doc_ids(kb, "return unworn items refund shipping") == {"shipping"}
    assert kb.registry.get("shipping").versions


def test_unchanged_reimport_changes_nothing(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = _write(tmp_path / "docs", "returns.md", RETURNS_V1)
    first = kb.import_paths([tmp_path / "docs"], approve=True)
    generation = kb.registry.current_generation()
    count = kb.store.count()
    history = kb.registry.history(first.imported[0].doc_id)
    second = kb.import_paths([path])
    assert second.imported == [] and second.errors == []
    assert [(i.doc_id, i.version, i.status) for i in second.unchanged] == [(first.imported[0].doc_id, 1, "approved")]
    assert kb.registry.current_generation() == generation
    assert kb.store.count() == count
    assert kb.registry.history(first.imported[0].doc_id) == history


def test_one_corrupt_pdf_in_a_folder_fails_alone(kb: KnowledgeBase, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _write(docs, "returns.md", RETURNS_V1)
    _write(docs, "shipping.txt", "Orders over 75 dollars ship free to the US and Canada.")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n\x00\xff garbage that is not a pdf at all")
    report = kb.import_paths([docs], approve=True)
    assert sorted(i.doc_id for i in report.imported) == ["returns", "shipping"]
    assert len(report.errors) == 1
    error = report.errors[0]
    assert error.path.endswith("broken.pdf") and error.code == ErrorCode.CORRUPT_FILE and error.detail
    assert [d.doc_id for d in kb.registry.list()] == ["returns", "shipping"]


def test_a_failure_while_registering_leaves_nothing_half_written(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add = kb.registry.add_version

    def flaky_add(doc: LoadedDocument, **kwargs: object) -> object:
        if doc.doc_id == "bad":
            raise RuntimeError("disk full")
        return real_add(doc, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kb.registry, "add_version", flaky_add)
    report = kb.import_results([_doc("good", "# Good\n\nShipping is free."), _doc("bad", "# Bad\n\nReturns are free.")])
    assert [i.doc_id for i in report.imported] == ["good"]
    assert [e.code for e in report.errors] == [ErrorCode.INTERNAL]
    assert kb.store.chunks("bad") == []
    assert not any("Returns are free" in p.read_text() for p in kb.files_dir.rglob("*.md"))


def test_retriever_returns_cited_langchain_documents(kb: KnowledgeBase) -> None:
    kb.import_results([_doc("returns", RETURNS_V1)], approve=True)
    retriever = GrounddeskRetriever(searcher=kb.searcher, audiences=["public"], top_k=3)
    docs = retriever.invoke("return unworn items")
    assert docs and docs[0].metadata["citation"] == "returns@1"
    assert docs[0].page_content and docs[0].metadata["title"] == "returns"


def test_the_kept_text_of_a_version_carries_its_title_once(kb: KnowledgeBase, tmp_path: Path) -> None:
    titled = _write(
        tmp_path / "docs", "kite.md", "# Zephyr kite warranty\n\nThe Zephyr kite warranty lasts 17 months.\n"
    )
    plain = _write(tmp_path / "docs", "tents.txt", "Tents are covered for five years.\n")
    report = kb.import_paths([titled, plain])
    texts = {item.doc_id: kb.version_text(item.doc_id, item.version) for item in report.imported}
    kite = next(t for d, t in texts.items() if d.startswith("kite"))
    assert kite.count("Zephyr kite warranty\n") == 1 and "17 months" in kite
    tents = next(t for d, t in texts.items() if d.startswith("tents"))
    assert tents.startswith("# ") and tents.count("# ") == 1 and "five years" in tents


def test_answer_sentences_are_prepared_in_the_background_and_waited_for(kb: KnowledgeBase) -> None:
    release = threading.Event()
    started = threading.Event()
    prepared: list[str] = []

    def prepare(texts: object, _progress: object) -> None:
        started.set()
        assert release.wait(30)
        prepared.extend(texts)  # type: ignore[call-overload]

    kb.prepare_chunks = prepare
    report = kb.import_results([_doc("returns", RETURNS_V1)], approve=True)
    # The import has returned while the preparation is still held: the document is already searchable.
    assert started.wait(30) and not prepared
    assert [i.status for i in report.imported] == ["approved"]
    assert _doc_ids(kb, "return unworn items refund") == {"returns"}
    release.set()
    kb.wait_prepared()
    assert any("30 days" in t for t in prepared)


def test_a_failed_preparation_never_fails_the_import_or_close(kb: KnowledgeBase) -> None:
    def prepare(_texts: object, _progress: object) -> None:
        raise RuntimeError("model gone")

    kb.prepare_chunks = prepare
    report = kb.import_results([_doc("returns", RETURNS_V1)], approve=True)
    kb.wait_prepared()
    assert [i.status for i in report.imported] == ["approved"]
    assert _doc_ids(kb, "return unworn items refund") == {"returns"}
