"""The knowledge console's endpoints (role ``knowledge_manager`` or ``admin``), and the public article page.

Uploads become draft versions: nothing is searchable until it is approved. The search preview shows what
retrieval finds for a question and what a customer with the chosen audiences would be answered, by running the
agent on a throwaway conversation.
"""

from __future__ import annotations

import difflib
import html
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from grounddesk.agent.types import ConversationContext
from grounddesk.api.auth import InvalidToken
from grounddesk.api.deps import KnowledgeUser, ServicesDep, bearer_token
from grounddesk.api.schemas import MAX_SQL_INT, ApproveBody, SearchBody
from grounddesk.api.services import Services
from grounddesk.api.storable import unstorable
from grounddesk.errors import DocumentNotFound, ErrorCode, GrounddeskError
from grounddesk.knowledge.loaders import load_bytes
from grounddesk.knowledge.models import DocumentInfo, DocumentVersionInfo
from grounddesk.knowledge.types import DocumentStatus

__all__ = ["public_router", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])
public_router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])

_MAX_DOCUMENTS = 10_000
_MAX_FILES = 100


def _version_json(v: DocumentVersionInfo) -> dict[str, Any]:
    return {
        "version": v.version,
        "status": v.status.value,
        "title": v.title,
        "created_at": v.created_at.isoformat(),
        "updated_at": v.updated_at.isoformat(),
        "audience": list(v.audiences),
        "chunk_count": v.chunk_count,
        "media_type": v.media_type,
    }


@router.post("/documents")
async def upload(
    user: KnowledgeUser,
    services: ServicesDep,
    files: Annotated[list[UploadFile], File(description="One or more documents")],
    audience: Annotated[str | None, Form(max_length=200)] = None,
) -> dict[str, Any]:
    """Import uploaded files as draft versions; each file that cannot be imported is reported in ``errors``."""
    if audience and (problem := unstorable(audience)):  # form fields are not JSON: StorableText does not see them
        raise GrounddeskError(f"audience contains {problem}", code=ErrorCode.INVALID_INPUT, field="audience")
    audiences = [a.strip() for a in (audience or "").split(",") if a.strip()] or ["public"]
    results = []
    errors: list[dict[str, Any]] = []
    for upload_file in files[:_MAX_FILES]:
        name = upload_file.filename or "upload"
        data = await upload_file.read()
        loaded = await run_in_threadpool(load_bytes, data, filename=name)
        results.extend(loaded)
    for extra in files[_MAX_FILES:]:
        errors.append({"filename": extra.filename, "code": "invalid_input", "detail": f"At most {_MAX_FILES} files"})
    report = await run_in_threadpool(
        lambda: services.knowledge.import_results(
            results, audiences=audiences, owner=user.username, actor=user.username
        )
    )
    errors.extend({"filename": str(e.path), "code": e.code, "detail": e.detail} for e in report.errors)
    logger.info("documents uploaded", extra={"imported": len(report.imported), "errors": len(errors)})
    return {
        "imported": [item.model_dump(include={"doc_id", "version", "status"}) for item in report.imported],
        "unchanged": [item.model_dump(include={"doc_id", "version", "status"}) for item in report.unchanged],
        "errors": errors,
    }


@router.get("/documents")
def list_documents(user: KnowledgeUser, services: ServicesDep, status: DocumentStatus | None = None) -> dict[str, Any]:
    """Every document (its latest version); with ``status``, those that have a version in that status."""
    registry = services.knowledge.registry
    latest = registry.list(None, limit=_MAX_DOCUMENTS)
    approved = {v.doc_id: v.version for v in registry.list(DocumentStatus.APPROVED, limit=_MAX_DOCUMENTS)}
    wanted = None if status is None else {v.doc_id for v in registry.list(status, limit=_MAX_DOCUMENTS)}
    documents = [
        {
            "doc_id": v.doc_id,
            "title": v.title,
            "latest_version": v.version,
            "status": v.status.value,
            "approved_version": approved.get(v.doc_id),
            "updated_at": v.updated_at.isoformat(),
            "audience": list(v.audiences),
        }
        for v in latest
        if wanted is None or v.doc_id in wanted
    ]
    return {"documents": documents}


@router.get("/documents/{doc_id:path}/diff")
def diff(
    doc_id: str,
    user: KnowledgeUser,
    services: ServicesDep,
    from_version: Annotated[int, Query(alias="from", ge=0, le=MAX_SQL_INT)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_SQL_INT)],
) -> dict[str, Any]:
    """A unified diff between two versions' texts (``from=0``: against an empty document)."""
    kb = services.knowledge
    old = kb.version_text(doc_id, from_version) if from_version else ""
    new = kb.version_text(doc_id, to_version)
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{doc_id}@{from_version}" if from_version else "/dev/null",
        tofile=f"{doc_id}@{to_version}",
    )
    return {"diff": "".join(line if line.endswith("\n") else line + "\n" for line in lines)}


@router.post("/documents/{doc_id:path}/approve")
def approve(
    doc_id: str, user: KnowledgeUser, services: ServicesDep, body: Annotated[ApproveBody | None, Body()] = None
) -> dict[str, Any]:
    """Approve a version (the latest when none is given): from the next search on, it is the one answered from."""
    version = services.knowledge.approve(doc_id, body.version if body else None, actor=user.username)
    logger.info("document approved", extra={"doc_id": doc_id, "version": version})
    return {"doc_id": doc_id, "version": version, "status": DocumentStatus.APPROVED.value}


@router.post("/documents/{doc_id:path}/retire")
def retire(doc_id: str, user: KnowledgeUser, services: ServicesDep) -> dict[str, Any]:
    """Retire the approved version: it is no longer searchable."""
    version = services.knowledge.retire(doc_id, actor=user.username)
    return {"doc_id": doc_id, "version": version, "status": DocumentStatus.RETIRED.value}


@router.get("/documents/{doc_id:path}")
def get_document(doc_id: str, user: KnowledgeUser, services: ServicesDep) -> dict[str, Any]:
    """A document with all its versions, oldest first."""
    info: DocumentInfo = services.knowledge.registry.get(doc_id)
    return {
        "doc_id": info.doc_id,
        "title": info.title,
        "created_at": info.created_at.isoformat(),
        "versions": [_version_json(v) for v in info.versions],
    }


@router.delete("/documents/{doc_id:path}")
def delete_document(doc_id: str, user: KnowledgeUser, services: ServicesDep) -> dict[str, Any]:
    """Erase a document and every version of it from every store."""
    result = services.knowledge.delete(doc_id, actor=user.username)
    logger.info("document deleted", extra={"doc_id": doc_id})
    return result.model_dump()


@router.post("/search")
def search(body: SearchBody, user: KnowledgeUser, services: ServicesDep) -> dict[str, Any]:
    """What retrieval finds for ``query`` as a customer with ``audiences``, and the answer the agent would give."""
    result = services.knowledge.search(body.query, audiences=body.audiences, top_k=body.top_k)
    hits = [
        {"doc_id": h.doc_id, "version": h.version, "title": h.title, "text": h.text, "score": h.score}
        for h in result.hits
    ]
    return {"hits": hits, "took_ms": result.took_ms, "answer": _preview_answer(services, body)}


def _preview_answer(services: Services, body: SearchBody) -> dict[str, Any]:
    conversation_id = f"preview-{uuid.uuid4().hex}"
    context = ConversationContext(audiences=tuple(body.audiences), channel="preview")
    try:
        turn = services.agent.turn(conversation_id, body.query, context=context)
    finally:
        _forget(services, conversation_id)
    return {
        "decision": turn.decision,
        "answer": turn.answer,
        "citations": [c.model_dump() for c in turn.citations],
        "confidence": turn.confidence,
        "reasons": list(turn.reasons),
        "escalation_reason": turn.escalation_reason,
    }


def _forget(services: Services, conversation_id: str) -> None:
    """Drop the throwaway conversation's checkpoints (a preview leaves nothing behind)."""
    saver = services.agent.graph.checkpointer
    delete = getattr(saver, "delete_thread", None)
    if callable(delete):
        try:
            delete(conversation_id)
        except NotImplementedError:
            logger.debug("checkpointer cannot delete threads")


# -- the public article page ------------------------------------------------------------------------------------


@public_router.get("/public/{doc_id:path}", response_class=HTMLResponse)
def public_document(
    doc_id: str,
    request: Request,
    services: ServicesDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_SQL_INT)] = None,
) -> HTMLResponse:
    """The approved version of a document as a plain page (what a citation links to).

    Documents for the ``public`` audience are open to all; others need a conversation token whose audiences
    include theirs (``Authorization: Bearer`` or ``?token=``). Drafts and retired documents are never shown.
    """
    info = services.knowledge.registry.get(doc_id)
    current = info.approved
    if current is None or not _may_read(services, request, current.audiences):
        raise DocumentNotFound(f"No published article {doc_id!r}", doc_id=doc_id)
    text = services.knowledge.version_text(doc_id, current.version)
    note = ""
    if version is not None and version != current.version:
        note = f'<p class="note">This article was updated since version {version}; this is the current one.</p>'
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(current.title)}</title>"
        '<link rel="stylesheet" href="/static/site.css"></head>'
        f'<body><main class="article"><h1>{html.escape(current.title)}</h1>{note}'
        f'<pre class="article-text">{html.escape(text)}</pre>'
        f'<p class="article-meta">{html.escape(doc_id)} · version {current.version}</p></main></body></html>'
    )
    return HTMLResponse(page)


def _may_read(services: Services, request: Request, audiences: list[str]) -> bool:
    anonymous = set(services.auth.anonymous_audiences)
    if anonymous & set(audiences):
        return True
    token = bearer_token(request) or request.query_params.get("token")
    if not token:
        return False
    try:
        claims = services.tokens.decode(token)
    except InvalidToken:
        return False
    return bool(set(claims.audiences) & set(audiences))
