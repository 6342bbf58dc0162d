"""The document registry: documents, their versions and approval workflow, their history, the generation.

Every version moves ``draft -> in_review -> approved -> retired`` (``draft -> approved`` is allowed too).
At most one version of a document is approved; approving another retires it. The registry also holds the
*knowledge generation* that searches filter chunks on (see :mod:`grounddesk.knowledge.types`): publishing and
unpublishing bump it in the same SQL transaction that changes the statuses, while the caller updates the
chunks' generation windows in the vector store inside that transaction's ``with`` block.

Locking: every write transaction that changes what searches see (``publish``, ``unpublish``,
``delete_document``) first locks the single ``knowledge_state`` row. On PostgreSQL that is
``SELECT ... FOR UPDATE``; on SQLite the engine from :func:`grounddesk.db.create_engine_for` opens every write
transaction with ``BEGIN IMMEDIATE``, which takes the database's write lock. Either way two publications
take turns and get consecutive generations. Reads (``current_generation``, ``get``, ``list``...) never wait
for a publication in progress: they see the last committed state.

Example:
    >>> registry = DocumentRegistry(engine)
    >>> plan = registry.plan_import(doc.doc_id, content_hash)
    >>> if not plan.unchanged:
    ...     registry.add_version(doc, version=plan.next_version, content_hash=content_hash,
    ...                          audiences=["public"], actor="kim")
    >>> with registry.publish(doc.doc_id, None, actor="kim") as pub:
    ...     store.set_visibility(pub.doc_id, pub.version, visible_from=pub.new_generation)
    ...     if pub.previous_version is not None:
    ...         store.set_visibility(pub.doc_id, pub.previous_version, visible_until=pub.new_generation)
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from grounddesk.db.engine import assert_engine_configured, read_only
from grounddesk.db.types import utc_now
from grounddesk.errors import DocumentNotFound, ErrorCode, InvalidTransition, KnowledgeBaseError, VersionConflict
from grounddesk.knowledge.models import (
    DeleteReport,
    DocumentInfo,
    DocumentVersionInfo,
    HistoryAction,
    HistoryDetailValue,
    HistoryEvent,
    ImportPlan,
    Publication,
    RegistryCounts,
    Retirement,
)
from grounddesk.knowledge.tables import document_history, document_versions, documents, knowledge_state
from grounddesk.knowledge.types import DocumentStatus, LoadedDocument

__all__ = ["DocumentRegistry", "VersionConflict"]

logger = logging.getLogger(__name__)

_DOCS = documents.c
_VERSIONS = document_versions.c
_HISTORY = document_history.c
_STATE = knowledge_state.c
_PUBLISHABLE = (DocumentStatus.DRAFT, DocumentStatus.IN_REVIEW)


class DocumentRegistry:
    """Documents, versions, their approval workflow and history, and the knowledge generation, in SQL.

    Every method runs in its own transaction. ``publish`` and ``unpublish`` are context managers whose
    transaction spans the ``with`` block.

    Args:
        engine: An engine from :func:`grounddesk.db.create_engine_for` on a migrated database.

    Raises:
        ConfigurationError: A SQLite engine not built by ``create_engine_for``.
    """

    def __init__(self, engine: Engine) -> None:
        assert_engine_configured(engine)
        self._engine = engine
        self._reader = read_only(engine)

    def close(self) -> None:
        """Close the engine's pooled connections (the engine stays usable and reconnects on demand)."""
        self._engine.dispose()

    # -- reads -------------------------------------------------------------------------------------------

    def current_generation(self) -> int:
        """The knowledge generation searches must filter on (one primary-key read)."""
        with self._reader.connect() as conn:
            return int(conn.execute(select(_STATE.generation).where(_STATE.id == 1)).scalar_one())

    def plan_import(self, doc_id: str, content_hash: str) -> ImportPlan:
        """Decide whether content is new for a document, without writing anything.

        The content is unchanged when the latest version has the same hash and is not retired (re-importing
        a retired document's content makes a new draft, so it can be approved again).

        Args:
            doc_id: The document.
            content_hash: Hash of the content about to be imported.

        Returns:
            The plan; ``next_version`` is what :meth:`add_version` expects when the content is new.
        """
        with self._reader.connect() as conn:
            latest = conn.execute(
                select(_VERSIONS.version, _VERSIONS.status, _VERSIONS.content_hash)
                .where(_VERSIONS.doc_id == doc_id)
                .order_by(_VERSIONS.version.desc())
                .limit(1)
            ).first()
        if latest is None:
            return ImportPlan(doc_id=doc_id, unchanged=False, existing_version=None, next_version=1)
        unchanged = latest.content_hash == content_hash and latest.status != DocumentStatus.RETIRED
        return ImportPlan(
            doc_id=doc_id, unchanged=unchanged, existing_version=latest.version, next_version=latest.version + 1
        )

    def get(self, doc_id: str) -> DocumentInfo:
        """A document with all its versions, oldest first.

        Raises:
            DocumentNotFound: No such document.
        """
        with self._reader.connect() as conn:
            doc = conn.execute(select(documents).where(_DOCS.doc_id == doc_id)).first()
            if doc is None:
                raise _not_found(doc_id)
            rows = conn.execute(
                select(document_versions).where(_VERSIONS.doc_id == doc_id).order_by(_VERSIONS.version)
            ).all()
        return DocumentInfo(
            doc_id=doc.doc_id, title=doc.title, created_at=doc.created_at, versions=[_version_info(r) for r in rows]
        )

    def get_version(self, doc_id: str, version: int) -> DocumentVersionInfo:
        """One version of a document.

        Raises:
            DocumentNotFound: No such document (``DOCUMENT_NOT_FOUND``) or version (``VERSION_NOT_FOUND``).
        """
        with self._reader.connect() as conn:
            return _version_info(_version_row(conn, doc_id, version))

    def approved_version(self, doc_id: str) -> int | None:
        """The version of a document that searches see, or None when none is approved.

        Raises:
            DocumentNotFound: No such document.
        """
        with self._reader.connect() as conn:
            approved = _approved(conn, doc_id)
            if approved is None:
                _require_document(conn, doc_id)
        return approved

    def list(
        self, status: DocumentStatus | None = None, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[DocumentVersionInfo]:
        """Versions ordered by document id (then version).

        Args:
            status: None: the latest version of every document. A status: every version that has it.
            limit: At most this many.
            offset: Skip this many first.

        Returns:
            The versions.
        """
        query = select(document_versions)
        if status is None:
            latest = (
                select(_VERSIONS.doc_id, func.max(_VERSIONS.version).label("version"))
                .group_by(_VERSIONS.doc_id)
                .subquery()
            )
            query = query.join(latest, (_VERSIONS.doc_id == latest.c.doc_id) & (_VERSIONS.version == latest.c.version))
        else:
            query = query.where(_VERSIONS.status == DocumentStatus(status).value)
        query = query.order_by(_VERSIONS.doc_id, _VERSIONS.version).limit(limit).offset(offset)
        with self._reader.connect() as conn:
            return [_version_info(row) for row in conn.execute(query)]

    def history(self, doc_id: str) -> builtins.list[HistoryEvent]:
        """A document's history, oldest event first.

        Raises:
            DocumentNotFound: No such document.
        """
        with self._reader.connect() as conn:
            _require_document(conn, doc_id)
            rows = conn.execute(select(document_history).where(_HISTORY.doc_id == doc_id).order_by(_HISTORY.id)).all()
        return [
            HistoryEvent(
                id=r.id, doc_id=r.doc_id, version=r.version, action=r.action, actor=r.actor, at=r.at, detail=r.detail
            )
            for r in rows
        ]

    def counts(self) -> RegistryCounts:
        """How many documents, how many versions in each status, and the current generation."""
        with self._reader.connect() as conn:
            n_docs = conn.execute(select(func.count()).select_from(documents)).scalar_one()
            per_status = conn.execute(select(_VERSIONS.status, func.count()).group_by(_VERSIONS.status)).all()
            versions = dict.fromkeys(DocumentStatus, 0) | {DocumentStatus(s): int(n) for s, n in per_status}
            generation = conn.execute(select(_STATE.generation).where(_STATE.id == 1)).scalar_one()
        return RegistryCounts(documents=int(n_docs), versions=versions, generation=int(generation))

    # -- writes ------------------------------------------------------------------------------------------

    def add_version(
        self,
        doc: LoadedDocument,
        *,
        version: int,
        content_hash: str,
        audiences: Sequence[str],
        actor: str,
        owner: str | None = None,
        effective_from: datetime | None = None,
        effective_until: datetime | None = None,
        stored_file: str | None = None,
        chunk_count: int = 0,
    ) -> DocumentVersionInfo:
        """Register a new version of a document as a draft (creating the document if it is new).

        Args:
            doc: The loaded document (id, title, source, media type, metadata).
            version: Must be the ``next_version`` of :meth:`plan_import`.
            content_hash: Hash of the content, compared by later :meth:`plan_import` calls.
            audiences: Who may see the document once approved (at least one).
            actor: Who imports it, for the history.
            owner: Who is responsible for the content.
            effective_from: Not in force before this moment (aware; naive is taken as UTC).
            effective_until: Not in force from this moment.
            stored_file: Path of the kept original file, erased with the document.
            chunk_count: How many chunks the version was cut into.

        Returns:
            The new version.

        Raises:
            VersionConflict: ``version`` exists already or is not the next one (a concurrent import won);
                the caller discards what it prepared for this version.
            KnowledgeBaseError: ``INVALID_RECORD``: no audience, or an effective window that ends before it
                starts.
        """
        _check_new_version(doc.doc_id, audiences, effective_from, effective_until)
        now = utc_now()
        try:
            with self._engine.begin() as conn:
                latest = conn.execute(
                    select(func.max(_VERSIONS.version)).where(_VERSIONS.doc_id == doc.doc_id)
                ).scalar_one()
                if version != (latest or 0) + 1:
                    raise VersionConflict(
                        f"Cannot add version {version} of {doc.doc_id!r}: the latest version is {latest or 0}",
                        doc_id=doc.doc_id,
                        version=version,
                        latest_version=latest,
                    )
                if latest is None:
                    conn.execute(insert(documents).values(doc_id=doc.doc_id, title=doc.title, created_at=now))
                else:
                    conn.execute(update(documents).where(_DOCS.doc_id == doc.doc_id).values(title=doc.title))
                conn.execute(
                    insert(document_versions).values(
                        doc_id=doc.doc_id,
                        version=version,
                        status=DocumentStatus.DRAFT.value,
                        title=doc.title,
                        owner=owner,
                        audiences=list(audiences),
                        effective_from=effective_from,
                        effective_until=effective_until,
                        source_uri=doc.source_uri,
                        media_type=doc.media_type,
                        content_hash=content_hash,
                        metadata=dict(doc.metadata),
                        stored_file=stored_file,
                        chunk_count=chunk_count,
                        created_at=now,
                        updated_at=now,
                    )
                )
                _record(
                    conn,
                    doc.doc_id,
                    version,
                    HistoryAction.IMPORTED,
                    actor,
                    now,
                    content_hash=content_hash,
                    source_uri=doc.source_uri,
                )
                return _version_info(_version_row(conn, doc.doc_id, version))
        except IntegrityError as exc:
            # A concurrent import of the same document committed first (PostgreSQL; SQLite serialises them).
            raise VersionConflict(
                f"Version {version} of {doc.doc_id!r} was added concurrently", doc_id=doc.doc_id, version=version
            ) from exc

    def submit_for_review(self, doc_id: str, version: int, actor: str) -> DocumentVersionInfo:
        """Move a draft to review.

        Raises:
            DocumentNotFound: No such document or version.
            InvalidTransition: The version is not a draft.
        """
        now = utc_now()
        with self._engine.begin() as conn:
            row = _version_row(conn, doc_id, version, lock=True)
            _require_status(row, (DocumentStatus.DRAFT,), DocumentStatus.IN_REVIEW)
            _set_status(conn, doc_id, version, DocumentStatus.IN_REVIEW, now)
            _record(conn, doc_id, version, HistoryAction.SUBMITTED, actor, now)
            return _version_info(_version_row(conn, doc_id, version))

    @contextmanager
    def publish(self, doc_id: str, version: int | None, actor: str) -> Iterator[Publication]:
        """Approve a version; the caller makes its chunks visible inside the ``with`` block.

        The transaction opens and takes the generation lock before anything is yielded, so concurrent
        publications run one after the other and get consecutive generations. On normal exit the version
        becomes approved, the previously approved version (if any) retired, the generation
        ``new_generation``, and history records both, all in one commit. If the block raises, nothing is
        changed in SQL and the exception propagates: the caller must then undo its own vector-store changes
        (at least set ``visible_from = NEVER`` again on the new version's chunks), because a later
        publication commits the same ``new_generation`` and would otherwise expose them.

        Keep the block short: on SQLite every other writer waits for it. Reads are not blocked.

        Args:
            doc_id: The document.
            version: The version to approve; None: the latest version.
            actor: Who approves it, for the history.

        Yields:
            What to make visible: ``version`` from ``new_generation`` on, ``previous_version`` until then.

        Raises:
            DocumentNotFound: No such document or version.
            InvalidTransition: The version is already approved, or retired (import it again to get a new
                draft). Approving the approved version is refused rather than ignored so that a caller never
                reruns its vector-store changes for nothing.
        """
        with self._engine.begin() as conn:
            generation = _lock_generation(conn)
            if version is None:
                version = _latest_version(conn, doc_id)
            row = _version_row(conn, doc_id, version)
            _require_status(row, _PUBLISHABLE, DocumentStatus.APPROVED)
            previous = _approved(conn, doc_id)
            publication = Publication(
                doc_id=doc_id,
                version=version,
                previous_version=previous,
                generation=generation,
                new_generation=generation + 1,
            )
            yield publication
            now = utc_now()
            if previous is not None:
                _set_status(conn, doc_id, previous, DocumentStatus.RETIRED, now)
                _record(
                    conn,
                    doc_id,
                    previous,
                    HistoryAction.SUPERSEDED,
                    actor,
                    now,
                    superseded_by=version,
                    generation=publication.new_generation,
                )
            _set_status(conn, doc_id, version, DocumentStatus.APPROVED, now)
            _set_generation(conn, publication.new_generation)
            _record(
                conn,
                doc_id,
                version,
                HistoryAction.APPROVED,
                actor,
                now,
                previous_version=previous,
                generation=publication.new_generation,
            )
        logger.info(
            "document version approved",
            extra={"doc_id": doc_id, "version": version, "generation": publication.new_generation, "actor": actor},
        )

    @contextmanager
    def unpublish(self, doc_id: str, actor: str) -> Iterator[Retirement]:
        """Withdraw a document's approved version; the caller hides its chunks inside the ``with`` block.

        Same transaction and locking as :meth:`publish`. On normal exit the version is retired and the
        generation becomes ``new_generation``; if the block raises, nothing changes in SQL.

        Args:
            doc_id: The document.
            actor: Who withdraws it, for the history.

        Yields:
            The version to hide from ``new_generation`` on.

        Raises:
            DocumentNotFound: No such document.
            InvalidTransition: No version of the document is approved.
        """
        with self._engine.begin() as conn:
            generation = _lock_generation(conn)
            version = _approved(conn, doc_id)
            if version is None:
                _require_document(conn, doc_id)
                raise InvalidTransition(
                    f"{doc_id!r} has no approved version to unpublish", doc_id=doc_id, target=DocumentStatus.RETIRED
                )
            retirement = Retirement(
                doc_id=doc_id, version=version, generation=generation, new_generation=generation + 1
            )
            yield retirement
            now = utc_now()
            _set_status(conn, doc_id, version, DocumentStatus.RETIRED, now)
            _set_generation(conn, retirement.new_generation)
            _record(conn, doc_id, version, HistoryAction.RETIRED, actor, now, generation=retirement.new_generation)
        logger.info(
            "document version retired",
            extra={"doc_id": doc_id, "version": version, "generation": retirement.new_generation, "actor": actor},
        )

    def delete_document(self, doc_id: str, actor: str) -> DeleteReport:
        """Erase a document: every version, every history event, the document row (GDPR erasure).

        Nothing of the document remains in SQL, not even a tombstone. Runs under the generation lock, so it
        never interleaves with a publication of the same document. The caller then deletes the chunks from
        the vector store and the files listed in ``stored_files``.

        Args:
            doc_id: The document.
            actor: Who erases it (logged, not stored).

        Returns:
            Rows deleted per table, and the kept original files to delete.

        Raises:
            DocumentNotFound: No such document.
        """
        with self._engine.begin() as conn:
            _lock_generation(conn)
            _require_document(conn, doc_id)
            files = conn.execute(
                select(_VERSIONS.stored_file)
                .where(_VERSIONS.doc_id == doc_id, _VERSIONS.stored_file.is_not(None))
                .order_by(_VERSIONS.version)
            ).scalars()
            stored_files = [f for f in files if f is not None]
            rows_deleted: dict[str, int] = {}
            for table, doc_column in (
                (document_history, _HISTORY.doc_id),
                (document_versions, _VERSIONS.doc_id),
                (documents, _DOCS.doc_id),
            ):
                rows_deleted[table.name] = conn.execute(delete(table).where(doc_column == doc_id)).rowcount
        logger.info("document erased", extra={"doc_id": doc_id, "actor": actor, "rows_deleted": rows_deleted})
        return DeleteReport(doc_id=doc_id, rows_deleted=rows_deleted, stored_files=stored_files)


# -- helpers, each runs inside the caller's transaction ------------------------------------------------------


def _not_found(doc_id: str) -> DocumentNotFound:
    return DocumentNotFound(f"No document {doc_id!r}", doc_id=doc_id)


def _require_document(conn: Connection, doc_id: str) -> None:
    if conn.execute(select(_DOCS.doc_id).where(_DOCS.doc_id == doc_id)).first() is None:
        raise _not_found(doc_id)


def _version_row(conn: Connection, doc_id: str, version: int, *, lock: bool = False) -> Row[Any]:
    query = select(document_versions).where(_VERSIONS.doc_id == doc_id, _VERSIONS.version == version)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        _require_document(conn, doc_id)
        raise DocumentNotFound(
            f"Document {doc_id!r} has no version {version}",
            code=ErrorCode.VERSION_NOT_FOUND,
            doc_id=doc_id,
            version=version,
        )
    return row


def _latest_version(conn: Connection, doc_id: str) -> int:
    latest = conn.execute(select(func.max(_VERSIONS.version)).where(_VERSIONS.doc_id == doc_id)).scalar_one()
    if latest is None:
        raise _not_found(doc_id)
    return int(latest)


def _approved(conn: Connection, doc_id: str) -> int | None:
    approved = conn.execute(
        select(_VERSIONS.version).where(_VERSIONS.doc_id == doc_id, _VERSIONS.status == DocumentStatus.APPROVED.value)
    ).scalar_one_or_none()
    return None if approved is None else int(approved)


def _require_status(row: Row[Any], allowed: Sequence[DocumentStatus], target: DocumentStatus) -> None:
    status = DocumentStatus(row.status)
    if status not in allowed:
        raise InvalidTransition(
            f"{row.doc_id}@{row.version} is {status.value}: it cannot become {target.value}",
            doc_id=row.doc_id,
            version=row.version,
            status=status.value,
            target=target.value,
        )


def _lock_generation(conn: Connection) -> int:
    # FOR UPDATE on PostgreSQL; SQLite renders nothing and relies on the engine's BEGIN IMMEDIATE.
    query = select(_STATE.generation).where(_STATE.id == 1).with_for_update()
    return int(conn.execute(query).scalar_one())


def _set_generation(conn: Connection, generation: int) -> None:
    conn.execute(update(knowledge_state).where(_STATE.id == 1).values(generation=generation))


def _set_status(conn: Connection, doc_id: str, version: int, status: DocumentStatus, now: datetime) -> None:
    conn.execute(
        update(document_versions)
        .where(_VERSIONS.doc_id == doc_id, _VERSIONS.version == version)
        .values(status=status.value, updated_at=now)
    )


def _record(
    conn: Connection,
    doc_id: str,
    version: int | None,
    action: HistoryAction,
    actor: str,
    at: datetime,
    **detail: HistoryDetailValue,
) -> None:
    conn.execute(
        insert(document_history).values(
            doc_id=doc_id, version=version, action=action.value, actor=actor, at=at, detail=detail
        )
    )


def _check_new_version(
    doc_id: str,
    audiences: Sequence[str],
    effective_from: datetime | None,
    effective_until: datetime | None,
) -> None:
    if isinstance(audiences, str) or not audiences:
        raise KnowledgeBaseError(
            f"{doc_id!r} needs at least one audience (a list of names)", code=ErrorCode.INVALID_INPUT, doc_id=doc_id
        )
    if effective_from is not None and effective_until is not None and _aware(effective_until) <= _aware(effective_from):
        raise KnowledgeBaseError(
            f"{doc_id!r}: effective_until must be later than effective_from",
            code=ErrorCode.INVALID_INPUT,
            doc_id=doc_id,
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _version_info(row: Row[Any]) -> DocumentVersionInfo:
    return DocumentVersionInfo.model_validate(dict(row._mapping))
