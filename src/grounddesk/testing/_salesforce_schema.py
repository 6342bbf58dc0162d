"""The emulated org's objects (Account, Contact, Case, CaseComment), their fields, ids and describe results.

Fields follow the standard objects of a real org plus the custom fields grounddesk expects an admin to add:
``Contact.Customer_Number__c`` (external id, the company's customer number), ``Account.Tier__c`` and
``Account.Status__c``, ``Case.Grounddesk_Key__c`` (unique external id used for idempotent case creation) and
``CaseComment.Grounddesk_Key__c``. Real orgs cannot add custom fields to CaseComment; the emulator has it so
both of the connector's comment-idempotency strategies can be exercised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCHEMAS", "FieldSpec", "ObjectSpec", "SalesforceApiError", "make_id", "to_18"]


class SalesforceApiError(Exception):
    """An error the emulator answers with Salesforce's ``[{"message", "errorCode", "fields"}]`` body."""

    def __init__(self, status: int, error_code: str, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        """The JSON body Salesforce sends for this error."""
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields:
            item["fields"] = list(self.fields)
        return [item]


@dataclass(frozen=True)
class FieldSpec:
    """One field of an object, with what describe reports about it."""

    name: str
    type: str
    label: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    required: bool = False
    external_id: bool = False
    unique: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    reference_to: str | None = None
    relationship_name: str | None = None

    def describe(self) -> dict[str, Any]:
        """This field as in a describe result."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "length": self.length,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.default is not None or not self.createable,
            "externalId": self.external_id,
            "unique": self.unique,
            "custom": self.name.endswith("__c"),
            "filterable": self.type not in ("textarea",) or self.length <= 255,
            "sortable": self.type != "textarea",
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {"active": True, "defaultValue": value == self.default, "label": value, "value": value}
                for value in self.picklist
            ],
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
        }


def _id() -> FieldSpec:
    return FieldSpec("Id", "id", "Record ID", 18, nillable=False, createable=False, updateable=False)


def _system() -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("IsDeleted", "boolean", "Deleted", nillable=False, createable=False, updateable=False),
        FieldSpec("CreatedDate", "datetime", "Created Date", nillable=False, createable=False, updateable=False),
        FieldSpec(
            "LastModifiedDate", "datetime", "Last Modified Date", nillable=False, createable=False, updateable=False
        ),
        FieldSpec("SystemModstamp", "datetime", "System Modstamp", nillable=False, createable=False, updateable=False),
    )


def _key(label: str) -> FieldSpec:
    return FieldSpec("Grounddesk_Key__c", "string", label, 80, external_id=True, unique=True)


@dataclass(frozen=True)
class ObjectSpec:
    """An sObject type."""

    name: str
    label: str
    key_prefix: str
    fields: tuple[FieldSpec, ...]
    _by_lower: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower", {spec.name.lower(): spec for spec in self.fields})

    def field(self, name: str) -> FieldSpec | None:
        """The field called ``name`` (case-insensitive, as in SOQL), or None."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldSpec | None:
        """The lookup field whose relationship is called ``name`` (``Account`` for ``AccountId``), or None."""
        lowered = name.lower()
        return next((f for f in self.fields if f.relationship_name and f.relationship_name.lower() == lowered), None)

    def describe(self, api_version: str) -> dict[str, Any]:
        """The ``sobjects/{name}/describe`` result."""
        base = f"/services/data/v{api_version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": f"{self.label}s",
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "queryable": True,
            "fields": [spec.describe() for spec in self.fields],
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


_CASE_STATUSES = ("New", "Working", "Waiting on Customer", "Escalated", "Closed")
_PRIORITIES = ("Low", "Medium", "High", "Urgent")

SCHEMAS: dict[str, ObjectSpec] = {
    spec.name: spec
    for spec in (
        ObjectSpec(
            "Account",
            "Account",
            "001",
            (
                _id(),
                FieldSpec("Name", "string", "Account Name", 255, nillable=False, required=True),
                FieldSpec("AccountNumber", "string", "Account Number", 40),
                FieldSpec("Tier__c", "picklist", "Tier", 255, picklist=("Standard", "Premium", "Enterprise")),
                FieldSpec("Status__c", "picklist", "Status", 255, picklist=("Active", "Suspended", "Closed")),
                *_system(),
            ),
        ),
        ObjectSpec(
            "Contact",
            "Contact",
            "003",
            (
                _id(),
                FieldSpec("FirstName", "string", "First Name", 40),
                FieldSpec("LastName", "string", "Last Name", 80, nillable=False, required=True),
                FieldSpec("Name", "string", "Full Name", 121, nillable=False, createable=False, updateable=False),
                FieldSpec("Email", "email", "Email", 80),
                FieldSpec("Phone", "phone", "Business Phone", 40),
                FieldSpec(
                    "AccountId", "reference", "Account ID", 18, reference_to="Account", relationship_name="Account"
                ),
                FieldSpec("Customer_Number__c", "string", "Customer Number", 40, external_id=True, unique=True),
                *_system(),
            ),
        ),
        ObjectSpec(
            "Case",
            "Case",
            "500",
            (
                _id(),
                FieldSpec(
                    "CaseNumber", "string", "Case Number", 30, nillable=False, createable=False, updateable=False
                ),
                FieldSpec("Subject", "string", "Subject", 255),
                FieldSpec("Description", "textarea", "Description", 32000),
                FieldSpec("Status", "picklist", "Status", 255, picklist=_CASE_STATUSES, restricted=True, default="New"),
                FieldSpec(
                    "Priority", "picklist", "Priority", 255, picklist=_PRIORITIES, restricted=True, default="Medium"
                ),
                FieldSpec("Origin", "picklist", "Case Origin", 255, picklist=("Phone", "Email", "Web", "Chat")),
                FieldSpec("IsClosed", "boolean", "Closed", nillable=False, createable=False, updateable=False),
                FieldSpec(
                    "ContactId", "reference", "Contact ID", 18, reference_to="Contact", relationship_name="Contact"
                ),
                FieldSpec(
                    "AccountId", "reference", "Account ID", 18, reference_to="Account", relationship_name="Account"
                ),
                _key("Grounddesk Key"),
                *_system(),
            ),
        ),
        ObjectSpec(
            "CaseComment",
            "Case Comment",
            "00a",
            (
                _id(),
                FieldSpec(
                    "ParentId",
                    "reference",
                    "Parent ID",
                    18,
                    nillable=False,
                    required=True,
                    updateable=False,
                    reference_to="Case",
                    relationship_name="Parent",
                ),
                FieldSpec("CommentBody", "textarea", "Body", 4000),
                FieldSpec("IsPublished", "boolean", "Published", nillable=False, default=False),
                _key("Grounddesk Key"),
                *_system(),
            ),
        ),
    )
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def to_18(id15: str) -> str:
    """Salesforce's case-safe 18-character form of a 15-character id (the 3-character checksum suffix)."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]) if "A" <= char <= "Z")
        suffix += _SUFFIX[bits]
    return id15 + suffix


def make_id(key_prefix: str, number: int) -> str:
    """The ``number``-th id of an object (deterministic): key prefix, pod ``Gd``, base-62 counter, checksum."""
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return to_18(f"{key_prefix}Gd{digits.rjust(10, '0')}")
