"""The knowledge base: import, review, approve, retire, delete and search documents.

This is the one object the CLI, the API and the agent talk to; it keeps the SQL registry, the stored files
and the vector store in step. Every operation either completes in all three or leaves them as they were.

Example:
    >>> kb = build_knowledge_base(Settings(home=Path("/tmp/gd")))  # from grounddesk.wiring
    >>> report = kb.import_paths([Path("docs/")], audiences=["public"], approve=True)
    >>> kb.search("how do I return an item?", audiences=["public"]).hits[0].citation
    'returns-policy@1'
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from grounddesk.audit.hooks import safe_record
from grounddesk.audit.types import AuditKind, AuditSink
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.knowledge.chunking import Chunk, Chunker
from grounddesk.knowledge.loaders import LoadResult, content_hash, load_paths
from grounddesk.knowledge.registry import DocumentRegistry
from grounddesk.knowledge.search import HybridSearcher, SearchMode, SearchResult
from grounddesk.knowledge.sparse import BM25Encoder
from grounddesk.knowledge.types import (
    NEVER,
    ChunkPayload,
    ChunkPoint,
    Embedder,
    LoadedDocument,
    Optimizable,
    VectorStore,
    utc_timestamp,
)

__all__ = [
    "DeleteResult",
    "ImportError_",
    "ImportReport",
    "ImportedItem",
    "KnowledgeBase",
    "ProgressFn",
    "document_audiences",
]

logger = logging.getLogger(__name__)

#: ``progress(done, total, what)``: called as long work advances (the CLI draws a bar on stderr).
ProgressFn = Callable[[int, int, str], None]

_EMBED_GROUP = 4096  # chunks embedded together across documents (sorted by length), then registered per document
_EMBED_CALL = 256  # texts per embedding call: progress advances between calls


class ImportedItem(BaseModel):
    """A document version that the import created (or found unchanged)."""

    doc_id: str
    version: int
    status: str
    chunks: int


class ImportError_(BaseModel):
    """One file or record that could not be imported."""

    path: str
    code: str
    detail: str


class ImportReport(BaseModel):
    """What ``kb import`` did: the ``--json`` document of the command-line contract."""

    imported: list[ImportedItem] = Field(default_factory=list)
    unchanged: list[ImportedItem] = Field(default_factory=list)
    errors: list[ImportError_] = Field(default_factory=list)


class DeleteResult(BaseModel):
    """What a delete erased, per store."""

    doc_id: str
    sql_rows: dict[str, int]
    chunks: int
    files: int


class _Pending(BaseModel):
    document: LoadedDocument
    content_hash: str
    version: int
    chunks: list[Chunk]


class KnowledgeBase:
    """Documents, their approval workflow and hybrid search over the approved ones.

    Args:
        registry: Documents, versions and history in SQL.
        store: Chunks and vectors.
        embedder: Dense embeddings.
        chunker: Cuts documents into chunks.
        sparse: BM25 term weights.
        searcher: Hybrid search over ``store``.
        files_dir: Where each version's normalised text and original file are kept.
        audit: Where approvals, retirements and deletions are recorded; None: nowhere.
        prepare_chunks: Called with the texts of each import's new chunks (and the progress callback), in a
            background thread once the import has returned: the wiring embeds their answer sentences there, so
            turns do not. The documents are searchable (and can be approved) before it finishes; a turn that
            meets a sentence not prepared yet embeds it itself. :meth:`wait_prepared` waits for it, and
            :meth:`close` does too.
    """

    def __init__(
        self,
        registry: DocumentRegistry,
        store: VectorStore,
        embedder: Embedder,
        chunker: Chunker,
        sparse: BM25Encoder,
        searcher: HybridSearcher,
        files_dir: Path,
        *,
        audit: AuditSink | None = None,
        prepare_chunks: Callable[[Sequence[str], ProgressFn | None], None] | None = None,
    ) -> None:
        self.audit = audit
        self.prepare_chunks = prepare_chunks
        self._prepare_lock = threading.Lock()
        self._prepare_pool: ThreadPoolExecutor | None = None
        self._prepare_jobs: list[Future[None]] = []
        self.registry = registry
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.sparse = sparse
        self.searcher = searcher
        self.files_dir = files_dir

    # ------------------------------------------------------------------ import
    def import_paths(
        self,
        paths: Iterable[Path],
        *,
        audiences: Sequence[str] = ("public",),
        owner: str | None = None,
        approve: bool = False,
        actor: str = "system",
        effective_from: datetime | None = None,
        effective_until: datetime | None = None,
        progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Load files and folders and register every document in them.

        Unchanged documents are left alone; changed ones get a new draft version (approved at once with
        ``approve``). A file that fails is reported in ``errors`` and does not stop the others.
        """
        return self.import_results(
            load_paths(paths),
            audiences=audiences,
            owner=owner,
            approve=approve,
            actor=actor,
            effective_from=effective_from,
            effective_until=effective_until,
            progress=progress,
        )

    def import_results(
        self,
        results: Iterable[LoadResult],
        *,
        audiences: Sequence[str] = ("public",),
        owner: str | None = None,
        approve: bool = False,
        actor: str = "system",
        effective_from: datetime | None = None,
        effective_until: datetime | None = None,
        progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Like :meth:`import_paths` for documents already loaded (API uploads, evals)."""
        report = ImportReport()
        pending = self._plan(results, report)
        total_chunks = sum(len(p.chunks) for p in pending)
        done = 0
        if progress:
            progress(0, total_chunks, "embedding")
        for group in _groups(pending, _EMBED_GROUP):
            vectors: dict[tuple[int, int], list[float]] = {}
            # Texts of similar length embed together: far less padding than document order (~1.4x faster).
            order = sorted(
                ((i, j) for i, item in enumerate(group) for j in range(len(item.chunks))),
                key=lambda ij: group[ij[0]].chunks[ij[1]].embed_token_count,
            )
            for start in range(0, len(order), _EMBED_CALL):
                keys = order[start : start + _EMBED_CALL]
                texts = [group[i].chunks[j].embed_text for i, j in keys]
                vectors.update(zip(keys, self.embedder.embed_documents(texts), strict=True))
                done += len(keys)
                if progress:
                    progress(done, total_chunks, "embedding")
            for i, item in enumerate(group):
                item_vectors = [vectors[(i, j)] for j in range(len(item.chunks))]
                self._register(item, item_vectors, report, audiences, owner, actor, effective_from, effective_until)
        if report.imported and isinstance(self.store, Optimizable):
            if progress:
                progress(0, 1, "indexing")
            self.store.optimize()
            if progress:
                progress(1, 1, "indexing")
        if approve:
            for imported in report.imported:
                self.approve(imported.doc_id, imported.version, actor=actor)
                imported.status = "approved"
        if report.imported and self.prepare_chunks is not None:
            # Work the agent would otherwise do in every turn (sentence vectors), done once, off the import's path
            # (started last, so it never competes with the import's own index build).
            new_docs = {item.doc_id for item in report.imported}
            texts = [c.text for item in pending if item.document.doc_id in new_docs for c in item.chunks]
            self._prepare_later(self.prepare_chunks, texts, progress)
        return report

    def _plan(self, results: Iterable[LoadResult], report: ImportReport) -> list[_Pending]:
        pending: list[_Pending] = []
        seen: set[str] = set()
        for result in results:
            if result.document is None:
                report.errors.append(
                    ImportError_(path=str(result.path), code=result.code or "", detail=result.detail or "")
                )
                continue
            doc = result.document
            if doc.doc_id in seen:
                report.errors.append(
                    ImportError_(
                        path=str(result.path),
                        code=ErrorCode.INVALID_RECORD,
                        detail=f"document id {doc.doc_id!r} appears twice in this import; the first was kept",
                    )
                )
                continue
            seen.add(doc.doc_id)
            digest = content_hash(doc)
            plan = self.registry.plan_import(doc.doc_id, digest)
            if plan.unchanged and plan.existing_version is not None:
                info = self.registry.get_version(doc.doc_id, plan.existing_version)
                report.unchanged.append(
                    ImportedItem(doc_id=doc.doc_id, version=info.version, status=info.status, chunks=info.chunk_count)
                )
                continue
            chunks = self.chunker.chunk(doc)
            if not chunks:
                report.errors.append(
                    ImportError_(
                        path=str(result.path), code=ErrorCode.EMPTY_DOCUMENT, detail="the document has no text"
                    )
                )
                continue
            pending.append(_Pending(document=doc, content_hash=digest, version=plan.next_version, chunks=chunks))
        return pending

    def _register(
        self,
        item: _Pending,
        vectors: list[list[float]],
        report: ImportReport,
        audiences: Sequence[str],
        owner: str | None,
        actor: str,
        effective_from: datetime | None,
        effective_until: datetime | None,
    ) -> None:
        doc = item.document
        audiences = document_audiences(doc, audiences)
        start = utc_timestamp(effective_from) or 0
        until = utc_timestamp(effective_until) or NEVER
        points = [
            ChunkPoint(
                payload=ChunkPayload(
                    chunk_id=f"{doc.doc_id}@{item.version}#{chunk.ordinal}",
                    doc_id=doc.doc_id,
                    version=item.version,
                    ordinal=chunk.ordinal,
                    title=doc.title,
                    heading_path=list(chunk.heading_path),
                    text=chunk.text,
                    audiences=list(audiences),
                    effective_from=start,
                    effective_until=until,
                    metadata=dict(doc.metadata),
                ),
                dense=vector,
                sparse=self.sparse.encode_document(chunk.embed_text),
            )
            for chunk, vector in zip(item.chunks, vectors, strict=True)
        ]
        folder = self._version_dir(doc.doc_id, item.version)
        try:
            self._keep_files(doc, folder)
            self.store.upsert(points)
            self.registry.add_version(
                doc,
                version=item.version,
                content_hash=item.content_hash,
                owner=owner,
                audiences=list(audiences),
                effective_from=effective_from,
                effective_until=effective_until,
                stored_file=str(folder),
                chunk_count=len(points),
                actor=actor,
            )
        except Exception as exc:  # undo this document only; the rest of the batch goes on
            self._undo_import(doc.doc_id, item.version, folder)
            code = exc.code if isinstance(exc, GrounddeskError) else ErrorCode.INTERNAL
            logger.warning("import failed", extra={"doc_id": doc.doc_id, "code": str(code)})
            report.errors.append(ImportError_(path=doc.source_uri, code=str(code), detail=str(exc)))
            return
        report.imported.append(
            ImportedItem(doc_id=doc.doc_id, version=item.version, status="draft", chunks=len(points))
        )

    def _undo_import(self, doc_id: str, version: int, folder: Path) -> None:
        try:
            self.store.delete(doc_id, version)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _version_dir(self, doc_id: str, version: int) -> Path:
        import hashlib

        safe = hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:24]
        return self.files_dir / safe / f"v{version}"

    @staticmethod
    def _keep_files(doc: LoadedDocument, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        first = doc.text.lstrip().split("\n", 1)[0].strip()
        # A Markdown source that opens with its title keeps it once; other formats get the title as a heading.
        heading = (
            "" if first.lstrip("#").strip() == doc.title.strip() and first.startswith("#") else f"# {doc.title}\n\n"
        )
        (folder / "text.md").write_text(f"{heading}{doc.text}", encoding="utf-8")
        if doc.source_uri.startswith("file://") and "#" not in doc.source_uri:
            source = Path(doc.source_uri.removeprefix("file://"))
            if source.is_file():
                shutil.copyfile(source, folder / f"original{source.suffix}")

    # ---------------------------------------------------------------- workflow
    def submit_for_review(self, doc_id: str, version: int, *, actor: str = "system") -> None:
        """Move a draft to review; it stays unsearchable until approved."""
        self.registry.submit_for_review(doc_id, version, actor)

    def approve(self, doc_id: str, version: int | None = None, *, actor: str = "system") -> int:
        """Approve a version: from the next search on it replaces the previously approved one, atomically.

        Returns:
            The approved version number.
        """
        published = None
        try:
            with self.registry.publish(doc_id, version, actor) as pub:
                published = pub
                self.store.set_visibility(doc_id, pub.version, visible_from=pub.new_generation)
                if pub.previous_version is not None:
                    self.store.set_visibility(doc_id, pub.previous_version, visible_until=pub.new_generation)
        except Exception:
            if published is not None:  # the generation was not committed: put the store back as it was
                self.store.set_visibility(doc_id, published.version, visible_from=NEVER)
                if published.previous_version is not None:
                    self.store.set_visibility(doc_id, published.previous_version, visible_until=NEVER)
            raise
        self.store.purge_hidden(published.new_generation - 1)
        event = {"doc_id": doc_id, "version": published.version, "previous_version": published.previous_version}
        safe_record(self.audit, AuditKind.KNOWLEDGE_APPROVED, event, actor=actor)
        return published.version

    def retire(self, doc_id: str, *, actor: str = "system") -> int:
        """Retire the approved version: it is no longer searchable. Returns the retired version."""
        retired = None
        try:
            with self.registry.unpublish(doc_id, actor) as pub:
                retired = pub
                self.store.set_visibility(doc_id, pub.version, visible_until=pub.new_generation)
        except Exception:
            if retired is not None:
                self.store.set_visibility(doc_id, retired.version, visible_until=NEVER)
            raise
        self.store.purge_hidden(retired.new_generation - 1)
        event = {"doc_id": doc_id, "version": retired.version}
        safe_record(self.audit, AuditKind.KNOWLEDGE_RETIRED, event, actor=actor)
        return retired.version

    def delete(self, doc_id: str, *, actor: str = "system") -> DeleteResult:
        """Erase a document and every version of it from every store (vectors, files, SQL rows).

        The order (vectors, files, then SQL) means an interrupted delete can simply be run again.
        """
        info = self.registry.get(doc_id)
        chunks = self.store.delete(doc_id)
        files = 0
        for version in info.versions:
            folder = self._version_dir(doc_id, version.version)
            if folder.exists():
                files += sum(1 for p in folder.rglob("*") if p.is_file())
                shutil.rmtree(folder)
        parent = self._version_dir(doc_id, 1).parent
        if parent.exists() and not any(parent.iterdir()):
            parent.rmdir()
        deleted = self.registry.delete_document(doc_id, actor)
        result = DeleteResult(doc_id=doc_id, sql_rows=deleted.rows_deleted, chunks=chunks, files=files)
        safe_record(self.audit, AuditKind.KNOWLEDGE_DELETED, result.model_dump(mode="json"), actor=actor)
        return result

    def version_text(self, doc_id: str, version: int) -> str:
        """The normalised text of a version, as it was imported."""
        self.registry.get_version(doc_id, version)
        path = self._version_dir(doc_id, version) / "text.md"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    # ------------------------------------------------------------------ search
    def search(
        self,
        query: str,
        *,
        audiences: Sequence[str] = ("public",),
        top_k: int | None = None,
        mode: SearchMode = "hybrid",
        metadata: dict[str, str | int | bool | list[str] | list[int]] | None = None,
    ) -> SearchResult:
        """Hybrid search over approved, effective chunks visible to ``audiences``."""
        return self.searcher.search(query, audiences=audiences, top_k=top_k, mode=mode, metadata=metadata)

    def _prepare_later(
        self, prepare: Callable[[Sequence[str], ProgressFn | None], None], texts: list[str], progress: ProgressFn | None
    ) -> None:
        def job() -> None:
            try:
                prepare(texts, progress)
            except Exception:  # derived data: turns embed what is missing themselves
                logger.exception("preparing answer sentences failed; turns will embed them as they need them")

        with self._prepare_lock:
            if self._prepare_pool is None:
                self._prepare_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grounddesk-prepare")
            self._prepare_jobs = [j for j in self._prepare_jobs if not j.done()]
            self._prepare_jobs.append(self._prepare_pool.submit(job))

    def wait_prepared(self) -> None:
        """Wait until the answer sentences of every import so far are prepared (see ``prepare_chunks``)."""
        with self._prepare_lock:
            jobs, self._prepare_jobs = self._prepare_jobs, []
        for job in jobs:
            job.result()

    def close(self) -> None:
        """Finish preparing imported sentences, then release the vector store and the SQL engine."""
        self.wait_prepared()
        with self._prepare_lock:
            if self._prepare_pool is not None:
                self._prepare_pool.shutdown(wait=True)
                self._prepare_pool = None
        self.store.close()
        self.registry.close()


def document_audiences(doc: LoadedDocument, default: Sequence[str]) -> list[str]:
    """The audiences a document declares itself (front matter or JSONL ``audience``/``audiences``), else ``default``.

    A comma-separated string or a list is accepted; tags are stripped and de-duplicated, order kept.
    """
    declared = doc.metadata.get("audiences", doc.metadata.get("audience"))
    if isinstance(declared, str):
        tags = [t.strip() for t in declared.split(",")]
    elif isinstance(declared, list):
        tags = [str(t).strip() for t in declared]
    else:
        tags = list(default)
    unique = list(dict.fromkeys(t for t in tags if t))
    return unique or list(default)


def _groups(items: list[_Pending], size: int) -> Iterable[list[_Pending]]:
    group: list[_Pending] = []
    count = 0
    for item in items:
        group.append(item)
        count += len(item.chunks)
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group
