"""Settings, reports and seams of erasure and retention."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

__all__ = [
    "CRM_NOTE",
    "CorrectionStore",
    "ErasureReport",
    "PrivacySettings",
    "PurgeReport",
    "StoreCounts",
]

#: What erasure does not touch, said in every report.
CRM_NOTE = (
    "The CRM and ERP (Salesforce, the ERP, or the demo back-end) are the company's systems of record, not "
    "grounddesk's: erase the customer there with their own tools."
)


class PrivacySettings(BaseModel):
    """Erasure and retention (nested in Settings as ``privacy``: ``GROUNDDESK_PRIVACY_RETENTION_DAYS``...)."""

    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="'grounddesk maintenance purge' deletes conversations (with their tickets, checkpoints and "
        "audit payloads) whose last activity is older than this many days; unset: keep them",
    )
    keep_ticket_stats: bool = Field(
        default=False,
        description="Anonymise an erased customer's tickets (reason, priority, timings kept for statistics; every "
        "text, contact and identity removed) instead of deleting them",
    )
    vacuum_sqlite: bool = Field(
        default=True,
        description="On SQLite, VACUUM after an erasure or purge: old copies of rows left in free space are "
        "overwritten too (PostgreSQL: run VACUUM yourself; dead rows stay on disk until it runs)",
    )
    purge_batch: int = Field(default=200, ge=1, le=5000, description="Conversations purged per transaction")


class StoreCounts(BaseModel):
    """Rows (or threads, documents) removed per store."""

    conversations: int = 0
    conversation_events: int = 0
    feedback: int = 0
    tickets_deleted: int = 0
    tickets_anonymised: int = 0
    ticket_events: int = 0
    checkpoint_threads: int = 0
    audit_events_erased: int = 0
    connector_ledger: int = 0
    knowledge_corrections: int = 0

    def add(self, other: StoreCounts) -> None:
        """Add ``other``'s counts to these."""
        for name in type(self).model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class ErasureReport(BaseModel):
    """What ``grounddesk erase --json`` and ``POST /v1/admin/erasures`` return."""

    requested_by: Literal["customer", "email"]
    customer_ids: list[str] = Field(description="The customer ids erased (given, or found by email in the CRM)")
    conversations_found: int
    counts: StoreCounts
    audit_seq: int | None = Field(description="The 'privacy.erased' audit event that vouches for the tombstones")
    corrections_to_review: list[str] = Field(
        default_factory=list,
        description="Approved knowledge (doc_id@version) drafted from the customer's tickets: review and edit by hand",
    )
    not_covered: list[str] = Field(default_factory=lambda: [CRM_NOTE])


class PurgeReport(BaseModel):
    """What ``grounddesk maintenance purge --json`` prints."""

    retention_days: int | None
    cutoff: datetime | None = Field(description="Conversations last active before this moment were purged")
    conversations_purged: int = 0
    skipped_active: int = Field(default=0, description="Old conversations kept because a ticket is still open")
    counts: StoreCounts = Field(default_factory=StoreCounts)
    audit_seqs: list[int] = Field(default_factory=list)


@runtime_checkable
class CorrectionStore(Protocol):
    """Knowledge corrections drafted from tickets, as erasure needs them."""

    def versions(self, doc_id: str) -> dict[int, str]:
        """The document's versions and their statuses; empty when it does not exist."""
        ...

    def delete(self, doc_id: str, actor: str) -> None:
        """Erase the document from every store."""
        ...

    def compact(self) -> None:
        """Called once after the deletions: clear what the stores still keep of deleted documents in their files."""
        ...
