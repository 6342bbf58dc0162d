"""Salesforce records <-> grounddesk records: statuses, priorities, tiers, timestamps and comment markers."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from grounddesk.connectors.types import Account, Case, CaseComment, CaseStatus, Customer, CustomerTier

__all__ = [
    "FieldNames",
    "STATUS_TO_SF",
    "account_from",
    "case_from",
    "comment_from",
    "comment_marker",
    "customer_from",
    "external_key",
    "has_marker",
    "parse_datetime",
    "phone_digits",
    "priority_to_sf",
    "status_from_sf",
]

logger = logging.getLogger(__name__)

Priority = Literal["low", "medium", "high", "urgent"]

#: Our case statuses as the values of the standard Case.Status picklist.
STATUS_TO_SF: dict[CaseStatus, str] = {
    CaseStatus.NEW: "New",
    CaseStatus.WORKING: "Working",
    CaseStatus.WAITING_ON_CUSTOMER: "Waiting on Customer",
    CaseStatus.ESCALATED: "Escalated",
    CaseStatus.CLOSED: "Closed",
}
_SF_TO_STATUS = {value.casefold(): status for status, value in STATUS_TO_SF.items()}
_PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "urgent")
_MARKER = re.compile(r"\n*\[gd-ref:([0-9a-f]{16})\]\s*$")
_EXTERNAL_KEY_MAX = 80


class FieldNames:
    """The org-specific API names the connector reads and writes (from the settings)."""

    def __init__(
        self,
        *,
        customer_number: str,
        idempotency: str,
        account_number: str,
        tier: str,
        account_status: str | None,
        comment_idempotency: str | None,
    ) -> None:
        self.customer_number = customer_number
        self.idempotency = idempotency
        self.account_number = account_number
        self.tier = tier
        self.account_status = account_status
        self.comment_idempotency = comment_idempotency

    def contact_fields(self) -> str:
        """The SELECT list of a customer lookup."""
        return (
            f"Id, Name, Email, Phone, {self.customer_number}, Account.{self.account_number}, Account.{self.tier}, "
            "CreatedDate"
        )

    def account_fields(self) -> str:
        """The SELECT list of an account lookup."""
        status = f", {self.account_status}" if self.account_status else ""
        return f"Id, Name, {self.account_number}, {self.tier}{status}"

    def case_fields(self) -> str:
        """The SELECT list of a case lookup."""
        return (
            "Id, CaseNumber, Subject, Description, Status, Priority, IsClosed, CreatedDate, LastModifiedDate, "
            f"ContactId, AccountId, Contact.{self.customer_number}, {self.idempotency}"
        )

    def comment_fields(self) -> str:
        """The SELECT list of a comment lookup."""
        key = f", {self.comment_idempotency}" if self.comment_idempotency else ""
        return f"Id, ParentId, CommentBody, IsPublished, CreatedDate{key}"


def parse_datetime(value: str | None) -> datetime:
    """A Salesforce datetime (``2026-11-20T12:00:00.000+0000``) as an aware UTC datetime."""
    if not value:
        return datetime.fromtimestamp(0, UTC)
    text = value.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text).astimezone(UTC)


def status_from_sf(value: str | None, *, is_closed: bool | None = None) -> CaseStatus:
    """Our status for a Case.Status value; an org's own values fall back on IsClosed (closed, else working)."""
    status = _SF_TO_STATUS.get((value or "").casefold())
    if status is not None:
        return status
    logger.warning("unmapped salesforce case status", extra={"sf_status": value})
    return CaseStatus.CLOSED if is_closed else CaseStatus.WORKING


def priority_to_sf(priority: str) -> str:
    """Case.Priority picklist value for our priority (``high`` -> ``High``)."""
    return priority.title()


def _priority_from_sf(value: str | None) -> Priority:
    lowered = (value or "").casefold()
    return next((p for p in _PRIORITIES if p == lowered), "medium")


def _tier_from_sf(value: str | None) -> CustomerTier:
    try:
        return CustomerTier((value or "").casefold())
    except ValueError:
        return CustomerTier.STANDARD


def _related(record: Mapping[str, Any], relationship: str, field: str) -> Any:
    related = record.get(relationship)
    return related.get(field) if isinstance(related, Mapping) else None


def customer_from(record: Mapping[str, Any], names: FieldNames) -> Customer:
    """A Contact row (with its Account relationship fields) as a Customer."""
    return Customer(
        id=str(record[names.customer_number]),
        name=str(record.get("Name") or ""),
        email=record.get("Email"),
        phone=record.get("Phone"),
        account_id=_related(record, "Account", names.account_number),
        tier=_tier_from_sf(_related(record, "Account", names.tier)),
        record_id=record.get("Id"),
    )


def account_from(record: Mapping[str, Any], names: FieldNames) -> Account:
    """An Account row as an Account."""
    status = str(record.get(names.account_status) or "active").casefold() if names.account_status else "active"
    return Account(
        id=str(record[names.account_number]),
        name=str(record.get("Name") or ""),
        tier=_tier_from_sf(record.get(names.tier)),
        status=status if status in ("active", "suspended", "closed") else "active",
        record_id=record.get("Id"),
    )


def case_from(record: Mapping[str, Any], names: FieldNames, comments: tuple[CaseComment, ...] = ()) -> Case:
    """A Case row (with ``Contact.<customer number>``) as a Case."""
    return Case(
        number=str(record["CaseNumber"]),
        customer_id=str(_related(record, "Contact", names.customer_number) or ""),
        subject=str(record.get("Subject") or ""),
        description=str(record.get("Description") or ""),
        status=status_from_sf(record.get("Status"), is_closed=record.get("IsClosed")),
        priority=_priority_from_sf(record.get("Priority")),
        created_at=parse_datetime(record.get("CreatedDate")),
        updated_at=parse_datetime(record.get("LastModifiedDate")),
        comments=comments,
        record_id=record.get("Id"),
    )


def comment_from(record: Mapping[str, Any]) -> CaseComment:
    """A CaseComment row as a CaseComment, without grounddesk's idempotency marker."""
    body = _MARKER.sub("", str(record.get("CommentBody") or ""))
    return CaseComment(
        id=str(record["Id"]),
        body=body,
        created_at=parse_datetime(record.get("CreatedDate")),
        public=bool(record.get("IsPublished")),
    )


def comment_marker(idempotency_key: str) -> str:
    """The line appended to a comment's body that makes the comment findable by its idempotency key."""
    return f"\n\n[gd-ref:{hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]}]"


def has_marker(record: Mapping[str, Any], marker: str) -> bool:
    """Whether a CaseComment row carries ``marker``."""
    found = _MARKER.search(str(record.get("CommentBody") or ""))
    return found is not None and marker.endswith(f"[gd-ref:{found.group(1)}]")


def external_key(idempotency_key: str) -> str:
    """The value stored in the idempotency (external id) field: the key, or its SHA-256 when it is too long."""
    if len(idempotency_key) <= _EXTERNAL_KEY_MAX:
        return idempotency_key
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def phone_digits(phone: str) -> str:
    """The digits of a phone number, without a leading US country code (``+1 415 555 0101`` -> ``4155550101``)."""
    digits = re.sub(r"\D", "", phone)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
