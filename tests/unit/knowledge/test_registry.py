from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from grounddesk.db import create_engine_for, upgrade
from grounddesk.errors import DocumentNotFound, ErrorCode, InvalidTransition, KnowledgeBaseError
from grounddesk.knowledge.models import HistoryAction
from grounddesk.knowledge.registry import DocumentRegistry, VersionConflict
from grounddesk.knowledge.types import DocumentStatus, LoadedDocument

DRAFT, IN_REVIEW, APPROVED, RETIRED = (
    DocumentStatus.DRAFT,
    DocumentStatus.IN_REVIEW,
    DocumentStatus.APPROVED,
    DocumentStatus.RETIRED,
)


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sql_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine: Engine) -> DocumentRegistry:
    return DocumentRegistry(engine)


def _doc(doc_id: str, title: str | None = None) -> LoadedDocument:
    return LoadedDocument(
        doc_id=doc_id,
        title=title or f"Title of {doc_id}",
        text="# Heading\n\nSome text.",
        source_uri=f"file:///kb/{doc_id}.md",
        media_type="text/markdown",
        metadata={"product": "router", "tags": ["wifi", "setup"], "priority": 2},
    )


def _import(registry: DocumentRegistry, doc_id: str, content_hash: str, **kwargs: object) -> int:
    """Import through the public protocol (plan, then add); returns the new version."""
    plan = registry.plan_import(doc_id, content_hash)
    assert not plan.unchanged
    registry.add_version(
        _doc(doc_id),
        version=plan.next_version,
        content_hash=content_hash,
        audiences=["public"],
        actor="importer",
        **kwargs,  # type: ignore[arg-type]
    )
    return plan.next_version


def _publish(registry: DocumentRegistry, doc_id: str, version: int | None = None) -> int:
    with registry.publish(doc_id, version, actor="approver") as publication:
        pass
    return publication.new_generation


def _status(registry: DocumentRegistry, doc_id: str, version: int) -> DocumentStatus:
    return registry.get_version(doc_id, version).status


def _run_in_threads(*targets: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # re-raised in the test's thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


# -- import ------------------------------------------------------------------------------------------------


def test_a_new_document_is_imported_as_draft_version_1(registry: DocumentRegistry) -> None:
    plan = registry.plan_import("faq", "h1")
    assert (plan.unchanged, plan.existing_version, plan.next_version) == (False, None, 1)

    info = registry.add_version(
        _doc("faq"), version=1, content_hash="h1", audiences=["public", "partners"], actor="kim", owner="support"
    )

    assert (info.doc_id, info.version, info.status) == ("faq", 1, DRAFT)
    assert info.audiences == ["public", "partners"]
    assert info.metadata == {"product": "router", "tags": ["wifi", "setup"], "priority": 2}
    assert (info.owner, info.content_hash, info.ref) == ("support", "h1", "faq@1")
    assert registry.get("faq").versions == [info]


def test_reimporting_unchanged_content_is_detected(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")

    plan = registry.plan_import("faq", "h1")

    assert (plan.unchanged, plan.existing_version, plan.next_version) == (True, 1, 2)


def test_changed_content_becomes_the_next_version_as_draft(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    _publish(registry, "faq")

    plan = registry.plan_import("faq", "h2")
    assert (plan.unchanged, plan.existing_version, plan.next_version) == (False, 1, 2)
    assert _import(registry, "faq", "h2") == 2

    doc = registry.get("faq")
    assert [(v.version, v.status) for v in doc.versions] == [(1, APPROVED), (2, DRAFT)]
    assert doc.latest.version == 2
    assert doc.approved is not None and doc.approved.version == 1


def test_content_of_a_retired_latest_version_makes_a_new_version(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    _publish(registry, "faq")
    with registry.unpublish("faq", actor="kim"):
        pass

    plan = registry.plan_import("faq", "h1")

    assert (plan.unchanged, plan.next_version) == (False, 2)


def test_adding_a_version_that_is_not_the_next_one_conflicts(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")

    for version in (1, 3):
        with pytest.raises(VersionConflict) as info:
            registry.add_version(_doc("faq"), version=version, content_hash="h2", audiences=["public"], actor="kim")
        assert info.value.fields["version"] == version

    assert [v.version for v in registry.get("faq").versions] == [1]


def test_concurrent_imports_of_the_same_version_let_exactly_one_win(registry: DocumentRegistry) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def importer(content_hash: str) -> Callable[[], None]:
        def run() -> None:
            barrier.wait(10)
            try:
                registry.add_version(
                    _doc("faq"), version=1, content_hash=content_hash, audiences=["public"], actor=content_hash
                )
                outcomes.append("added")
            except VersionConflict:
                outcomes.append("conflict")

        return run

    _run_in_threads(importer("a"), importer("b"))

    assert sorted(outcomes) == ["added", "conflict"]
    assert [v.version for v in registry.get("faq").versions] == [1]
    assert len(registry.history("faq")) == 1


def test_bad_import_input_is_refused_with_a_code(registry: DocumentRegistry) -> None:
    now = datetime.now(UTC)
    with pytest.raises(KnowledgeBaseError) as info:
        registry.add_version(_doc("faq"), version=1, content_hash="h", audiences=[], actor="kim")
    assert info.value.code == ErrorCode.INVALID_INPUT
    with pytest.raises(KnowledgeBaseError) as info:
        registry.add_version(
            _doc("faq"),
            version=1,
            content_hash="h",
            audiences=["public"],
            actor="kim",
            effective_from=now,
            effective_until=now - timedelta(days=1),
        )
    assert info.value.code == ErrorCode.INVALID_INPUT
    assert registry.list() == []


# -- publish / unpublish ------------------------------------------------------------------------------------


def test_publish_bumps_the_generation_and_retires_the_previous_version(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    g0 = registry.current_generation()
    assert g0 == 1

    with registry.publish("faq", None, actor="kim") as first:
        assert (first.version, first.previous_version, first.generation, first.new_generation) == (1, None, g0, g0 + 1)
    assert registry.current_generation() == g0 + 1
    assert registry.approved_version("faq") == 1

    _import(registry, "faq", "h2")
    registry.submit_for_review("faq", 2, actor="kim")
    with registry.publish("faq", 2, actor="lee") as second:
        assert (second.version, second.previous_version, second.new_generation) == (2, 1, g0 + 2)

    assert registry.current_generation() == g0 + 2
    assert (_status(registry, "faq", 1), _status(registry, "faq", 2)) == (RETIRED, APPROVED)
    assert registry.approved_version("faq") == 2
    superseded = [e for e in registry.history("faq") if e.action is HistoryAction.SUPERSEDED]
    assert [(e.version, e.detail["superseded_by"], e.actor) for e in superseded] == [(1, 2, "lee")]


def test_publish_without_a_version_approves_the_latest(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    _import(registry, "faq", "h2")

    with registry.publish("faq", None, actor="kim") as publication:
        assert publication.version == 2

    assert (_status(registry, "faq", 1), _status(registry, "faq", 2)) == (DRAFT, APPROVED)


def test_an_exception_inside_publish_rolls_everything_back(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    _publish(registry, "faq")
    _import(registry, "faq", "h2")
    generation = registry.current_generation()
    history = registry.history("faq")

    with pytest.raises(RuntimeError, match="vector store down"), registry.publish("faq", 2, actor="kim"):
        raise RuntimeError("vector store down")

    assert registry.current_generation() == generation
    assert (_status(registry, "faq", 1), _status(registry, "faq", 2)) == (APPROVED, DRAFT)
    assert registry.history("faq") == history
    # The lock was released: the next publication goes through with the generation that was not used.
    assert _publish(registry, "faq", 2) == generation + 1


def test_unpublish_retires_the_approved_version(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    generation = _publish(registry, "faq")

    with registry.unpublish("faq", actor="kim") as retirement:
        assert (retirement.version, retirement.generation, retirement.new_generation) == (
            1,
            generation,
            generation + 1,
        )

    assert registry.current_generation() == generation + 1
    assert _status(registry, "faq", 1) == RETIRED
    assert registry.approved_version("faq") is None
    assert registry.history("faq")[-1].action is HistoryAction.RETIRED


def test_an_exception_inside_unpublish_rolls_back(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    generation = _publish(registry, "faq")

    with pytest.raises(RuntimeError), registry.unpublish("faq", actor="kim"):
        raise RuntimeError("boom")

    assert registry.current_generation() == generation
    assert registry.approved_version("faq") == 1


def test_concurrent_publishes_serialize_with_consecutive_generations(registry: DocumentRegistry) -> None:
    _import(registry, "a", "ha")
    _import(registry, "b", "hb")
    g = registry.current_generation()
    a_inside, release_a = threading.Event(), threading.Event()
    events: list[str] = []
    generations: dict[str, int] = {}

    def publish_a() -> None:
        with registry.publish("a", None, actor="x") as publication:
            a_inside.set()
            assert release_a.wait(30)
            generations["a"] = publication.new_generation
            events.append("a leaves")

    def publish_b() -> None:
        assert a_inside.wait(30)
        with registry.publish("b", None, actor="y") as publication:
            events.append("b enters")
            generations["b"] = publication.new_generation

    def observe_then_release() -> None:
        assert a_inside.wait(30)
        time.sleep(0.3)  # give b time to reach the lock
        # b waits for a's transaction; readers do not and still see the committed generation.
        assert events == []
        assert registry.current_generation() == g
        release_a.set()

    _run_in_threads(publish_a, publish_b, observe_then_release)

    assert events == ["a leaves", "b enters"]
    assert generations == {"a": g + 1, "b": g + 2}
    assert registry.current_generation() == g + 2


def test_many_concurrent_publishes_each_get_their_own_generation(registry: DocumentRegistry) -> None:
    doc_ids = [f"doc-{i}" for i in range(6)]
    for doc_id in doc_ids:
        _import(registry, doc_id, "h")
    g = registry.current_generation()
    generations: list[int] = []
    barrier = threading.Barrier(len(doc_ids))

    def publisher(doc_id: str) -> Callable[[], None]:
        def run() -> None:
            barrier.wait(10)
            with registry.publish(doc_id, None, actor="x") as publication:
                time.sleep(0.01)
            generations.append(publication.new_generation)

        return run

    _run_in_threads(*(publisher(d) for d in doc_ids))

    assert sorted(generations) == list(range(g + 1, g + 1 + len(doc_ids)))
    assert registry.current_generation() == g + len(doc_ids)
    assert all(registry.approved_version(d) == 1 for d in doc_ids)


# -- invalid transitions and missing documents ---------------------------------------------------------------


def test_invalid_transitions_raise_with_their_code(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    _publish(registry, "faq")
    _import(registry, "faq", "h2")
    _publish(registry, "faq", 2)  # version 1 is now retired
    generation = registry.current_generation()

    cases: list[Callable[[], object]] = [
        lambda: registry.publish("faq", 2, actor="kim").__enter__(),  # already approved
        lambda: registry.publish("faq", 1, actor="kim").__enter__(),  # retired
        lambda: registry.submit_for_review("faq", 2, actor="kim"),  # approved, not a draft
        lambda: registry.submit_for_review("faq", 1, actor="kim"),  # retired
    ]
    for case in cases:
        with pytest.raises(InvalidTransition) as info:
            case()
        assert info.value.code == ErrorCode.INVALID_TRANSITION

    with registry.unpublish("faq", actor="kim"):
        pass
    with pytest.raises(InvalidTransition) as info, registry.unpublish("faq", actor="kim"):
        pass
    assert info.value.code == ErrorCode.INVALID_TRANSITION
    assert registry.current_generation() == generation + 1


def test_submitting_twice_is_an_invalid_transition(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    info = registry.submit_for_review("faq", 1, actor="kim")
    assert info.status == IN_REVIEW

    with pytest.raises(InvalidTransition) as error:
        registry.submit_for_review("faq", 1, actor="kim")
    assert error.value.fields["status"] == "in_review"


def test_missing_documents_and_versions_have_distinct_codes(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")

    missing_doc: list[Callable[[], object]] = [
        lambda: registry.get("nope"),
        lambda: registry.get_version("nope", 1),
        lambda: registry.history("nope"),
        lambda: registry.approved_version("nope"),
        lambda: registry.submit_for_review("nope", 1, actor="kim"),
        lambda: registry.publish("nope", None, actor="kim").__enter__(),
        lambda: registry.unpublish("nope", actor="kim").__enter__(),
        lambda: registry.delete_document("nope", actor="kim"),
    ]
    for case in missing_doc:
        with pytest.raises(DocumentNotFound) as info:
            case()
        assert info.value.code == ErrorCode.DOCUMENT_NOT_FOUND

    missing_version: list[Callable[[], object]] = [
        lambda: registry.get_version("faq", 9),
        lambda: registry.submit_for_review("faq", 9, actor="kim"),
        lambda: registry.publish("faq", 9, actor="kim").__enter__(),
    ]
    for case in missing_version:
        with pytest.raises(DocumentNotFound) as info:
            case()
        assert info.value.code == ErrorCode.VERSION_NOT_FOUND
        assert info.value.fields == {"doc_id": "faq", "version": 9}


# -- delete ----------------------------------------------------------------------------------------------------


def _rows(engine: Engine, table: str, doc_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE doc_id = :d"), {"d": doc_id}).scalar_one())


def test_delete_removes_every_row_of_the_document_and_nothing_else(registry: DocumentRegistry, engine: Engine) -> None:
    _import(registry, "gone", "h1", stored_file="/files/gone-1.pdf")
    _publish(registry, "gone")
    _import(registry, "gone", "h2")
    _import(registry, "gone", "h3", stored_file="/files/gone-3.pdf")
    _import(registry, "kept", "k1", stored_file="/files/kept-1.pdf")
    _publish(registry, "kept")
    tables = ("documents", "document_versions", "document_history")
    kept_before = {t: _rows(engine, t, "kept") for t in tables}
    generation = registry.current_generation()

    report = registry.delete_document("gone", actor="dpo")

    assert report.rows_deleted == {"document_history": 4, "document_versions": 3, "documents": 1}
    assert report.stored_files == ["/files/gone-1.pdf", "/files/gone-3.pdf"]
    assert {t: _rows(engine, t, "gone") for t in tables} == dict.fromkeys(tables, 0)
    assert {t: _rows(engine, t, "kept") for t in tables} == kept_before
    assert registry.approved_version("kept") == 1
    assert registry.current_generation() == generation
    with pytest.raises(DocumentNotFound):
        registry.get("gone")
    # Its id is free again: a new import starts over at version 1.
    assert registry.plan_import("gone", "h1").next_version == 1


# -- history, listing, timestamps ------------------------------------------------------------------------------


def test_history_is_append_only_and_ordered(registry: DocumentRegistry) -> None:
    _import(registry, "faq", "h1")
    registry.submit_for_review("faq", 1, actor="rev")
    _publish(registry, "faq")
    first_three = registry.history("faq")
    _import(registry, "faq", "h2")
    _publish(registry, "faq", 2)
    with registry.unpublish("faq", actor="kim"):
        pass

    events = registry.history("faq")

    assert events[:3] == first_three  # earlier events never change
    assert [(e.action, e.version) for e in events] == [
        (HistoryAction.IMPORTED, 1),
        (HistoryAction.SUBMITTED, 1),
        (HistoryAction.APPROVED, 1),
        (HistoryAction.IMPORTED, 2),
        (HistoryAction.SUPERSEDED, 1),
        (HistoryAction.APPROVED, 2),
        (HistoryAction.RETIRED, 2),
    ]
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    moments = [e.at for e in events]
    assert moments == sorted(moments)
    assert events[2].detail == {"previous_version": None, "generation": 2}
    assert events[5].detail == {"previous_version": 1, "generation": 3}
    assert not any(hasattr(registry, name) for name in ("update_history", "delete_history", "edit_history"))


def test_timestamps_are_aware_utc(registry: DocumentRegistry) -> None:
    paris = timezone(timedelta(hours=2))
    start = datetime(2025, 6, 1, 9, 30, 15, 123456, tzinfo=paris)
    end = datetime(2026, 1, 1)  # naive: taken as UTC
    before = datetime.now(UTC)
    _import(registry, "faq", "h1", effective_from=start, effective_until=end)
    _publish(registry, "faq")

    version = registry.get_version("faq", 1)
    doc = registry.get("faq")
    events = registry.history("faq")

    assert version.effective_from == start and version.effective_from.tzinfo is UTC
    assert version.effective_until == end.replace(tzinfo=UTC)
    moments = [version.created_at, version.updated_at, doc.created_at, *(e.at for e in events)]
    for moment in [*moments, version.effective_until]:
        assert moment is not None and moment.utcoffset() == timedelta(0)
    assert all(before <= m <= datetime.now(UTC) for m in moments)
    assert version.updated_at > version.created_at


def test_list_gives_latest_versions_or_every_version_with_a_status(registry: DocumentRegistry) -> None:
    _import(registry, "b", "h1")
    _publish(registry, "b")
    _import(registry, "b", "h2")
    _import(registry, "a", "h1")
    _import(registry, "c", "h1")
    _publish(registry, "c")

    assert [v.ref for v in registry.list()] == ["a@1", "b@2", "c@1"]
    assert [v.ref for v in registry.list(APPROVED)] == ["b@1", "c@1"]
    assert [v.ref for v in registry.list(DRAFT)] == ["a@1", "b@2"]
    assert registry.list(RETIRED) == []
    assert [v.ref for v in registry.list(limit=2)] == ["a@1", "b@2"]
    assert [v.ref for v in registry.list(limit=2, offset=2)] == ["c@1"]


def test_counts(registry: DocumentRegistry) -> None:
    _import(registry, "a", "h1")
    _publish(registry, "a")
    _import(registry, "a", "h2")
    _publish(registry, "a")
    _import(registry, "b", "h1")
    registry.submit_for_review("b", 1, actor="kim")

    counts = registry.counts()

    assert counts.documents == 2
    assert counts.versions == {DRAFT: 0, IN_REVIEW: 1, APPROVED: 1, RETIRED: 1}
    assert counts.generation == registry.current_generation() == 3


def test_the_database_refuses_two_approved_versions_of_one_document(engine: Engine) -> None:
    registry = DocumentRegistry(engine)
    _import(registry, "faq", "h1")
    _import(registry, "faq", "h2")
    _publish(registry, "faq", 1)

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE document_versions SET status = 'approved' WHERE doc_id = 'faq' AND version = 2"))
