"""Administration endpoints (role ``admin``): erasure of a customer, the retention purge, audit verification.

``POST /v1/admin/erasures`` with ``{"customer_id": ...}`` or ``{"email": ...}`` erases everything grounddesk holds
about that customer (see :class:`grounddesk.privacy.Eraser`) and answers with the report, counts per store. It holds
the locks of the customer's conversations meanwhile, so no turn of theirs runs half-erased.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel, ConfigDict, Field, model_validator

from grounddesk.api.auth import Role, StaffUser
from grounddesk.api.deps import ServicesDep, require_staff
from grounddesk.api.services import Services
from grounddesk.audit import AuditTrail, VerifyReport
from grounddesk.privacy import Eraser, ErasureReport, KnowledgeCorrections, PurgeReport

__all__ = ["ErasureBody", "eraser_for", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/admin", tags=["admin"])

AdminUser = Annotated[StaffUser, Depends(require_staff(Role.ADMIN))]


class ErasureBody(BaseModel):
    """Whom to erase: exactly one of a customer id and an email address."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = Field(default=None, min_length=1, max_length=64, examples=["C-1001"])
    email: str | None = Field(default=None, min_length=3, max_length=320, examples=["alex.morgan@example.com"])

    @model_validator(mode="after")
    def _exactly_one(self) -> ErasureBody:
        if (self.customer_id is None) == (self.email is None):
            raise ValueError("give exactly one of customer_id and email")
        return self


def eraser_for(services: Services) -> Eraser:
    """The :class:`~grounddesk.privacy.Eraser` over the service's stores, holding its conversation locks."""
    saver = services.agent.graph.checkpointer
    return Eraser(
        services.engine,
        AuditTrail.from_settings(services.engine, services.settings.audit, clock=services.clock),
        checkpointer=saver if isinstance(saver, BaseCheckpointSaver) else None,
        crm=services.crm,
        corrections=KnowledgeCorrections(lambda: services.knowledge),
        settings=services.settings.privacy,
        clock=services.clock,
        hold=services.locks.hold,
    )


@router.post("/erasures", response_model=ErasureReport)
def erase(body: ErasureBody, user: AdminUser, services: ServicesDep) -> ErasureReport:
    """Erase a customer's conversations, checkpoints, tickets, feedback, ledger rows and audit payloads."""
    report = eraser_for(services).erase(customer_id=body.customer_id, email=body.email, actor=user.username)
    logger.info("erasure requested", extra={"user_id": user.id, "conversations": report.counts.conversations})
    return report


@router.post("/retention/purge", response_model=PurgeReport)
def purge(user: AdminUser, services: ServicesDep) -> PurgeReport:
    """Purge conversations older than ``privacy.retention_days`` now (as ``grounddesk maintenance purge`` does)."""
    return eraser_for(services).purge(actor=user.username)


@router.get("/audit/verify", response_model=VerifyReport)
def verify_audit(user: AdminUser, services: ServicesDep) -> dict[str, Any]:
    """Walk the audit chain: every edited, inserted or deleted event is reported with its seq."""
    report = AuditTrail.from_settings(services.engine, services.settings.audit).verify()
    return report.model_dump(mode="json")
