"""What the document registry returns: versions, documents, history events, plans and reports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from grounddesk.knowledge.types import DocumentStatus, MetadataValue

__all__ = [
    "DeleteReport",
    "DocumentInfo",
    "DocumentVersionInfo",
    "HistoryAction",
    "HistoryDetailValue",
    "HistoryEvent",
    "ImportPlan",
    "Publication",
    "RegistryCounts",
    "Retirement",
]

HistoryDetailValue = str | int | float | bool | None


class HistoryAction(StrEnum):
    """What a history event records."""

    IMPORTED = "imported"
    SUBMITTED = "submitted_for_review"
    APPROVED = "approved"
    SUPERSEDED = "superseded"
    RETIRED = "retired"


class DocumentVersionInfo(BaseModel):
    """One version of a document as the registry holds it. Datetimes are aware and in UTC."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    version: int
    status: DocumentStatus
    title: str
    owner: str | None
    audiences: list[str]
    effective_from: datetime | None = Field(description="Not in force before this moment; None: always was.")
    effective_until: datetime | None = Field(description="Not in force from this moment; None: for ever.")
    source_uri: str
    media_type: str
    content_hash: str
    metadata: dict[str, MetadataValue]
    stored_file: str | None = Field(description="Path of the kept original file, if one was kept.")
    chunk_count: int
    created_at: datetime
    updated_at: datetime

    @property
    def ref(self) -> str:
        """The citation form, ``doc_id@version``."""
        return f"{self.doc_id}@{self.version}"


class DocumentInfo(BaseModel):
    """A document with every one of its versions, oldest first."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    title: str = Field(description="The title of the latest version.")
    created_at: datetime
    versions: list[DocumentVersionInfo] = Field(min_length=1)

    @property
    def latest(self) -> DocumentVersionInfo:
        """The newest version, whatever its status."""
        return self.versions[-1]

    @property
    def approved(self) -> DocumentVersionInfo | None:
        """The version searches see, if any."""
        return next((v for v in self.versions if v.status is DocumentStatus.APPROVED), None)


class HistoryEvent(BaseModel):
    """One entry of a document's append-only history."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(description="Increases with every event; orders the history.")
    doc_id: str
    version: int | None
    action: HistoryAction
    actor: str
    at: datetime
    detail: dict[str, HistoryDetailValue]


class ImportPlan(BaseModel):
    """What importing content with a given hash would do (see ``DocumentRegistry.plan_import``)."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    unchanged: bool = Field(description="The latest version already has this content and is not retired.")
    existing_version: int | None = Field(description="The latest version; None for a new document.")
    next_version: int = Field(description="The version number a new import would get.")


class Publication(BaseModel):
    """Yielded by ``DocumentRegistry.publish``: what the caller must make visible, and from when."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    version: int = Field(description="The version being approved: its chunks get visible_from = new_generation.")
    previous_version: int | None = Field(
        description="The approved version it replaces: its chunks get visible_until = new_generation."
    )
    generation: int = Field(description="The generation searches read until the publication commits.")
    new_generation: int


class Retirement(BaseModel):
    """Yielded by ``DocumentRegistry.unpublish``: the approved version being withdrawn."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    version: int = Field(description="Its chunks get visible_until = new_generation.")
    generation: int
    new_generation: int


class DeleteReport(BaseModel):
    """What ``DocumentRegistry.delete_document`` erased."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    rows_deleted: dict[str, int] = Field(description="Rows removed, by table name.")
    stored_files: list[str] = Field(description="Kept original files of the document, for the caller to delete.")


class RegistryCounts(BaseModel):
    """Totals for an admin overview."""

    model_config = ConfigDict(frozen=True)

    documents: int
    versions: dict[DocumentStatus, int] = Field(description="Versions per status; every status is present.")
    generation: int
