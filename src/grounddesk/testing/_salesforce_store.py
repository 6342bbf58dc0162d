"""The emulated org's records: create, read, update, delete and SOQL queries, with Salesforce's validation errors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from grounddesk.testing._salesforce_schema import SCHEMAS, FieldSpec, ObjectSpec, SalesforceApiError, make_id, to_18
from grounddesk.testing._soql import Resolver, SoqlError, matches, parse_soql, sort_records

if TYPE_CHECKING:
    from grounddesk.demo.seed import SeedData

__all__ = ["SalesforceStore", "sf_datetime"]

_STATUS = {
    "new": "New",
    "working": "Working",
    "waiting_on_customer": "Waiting on Customer",
    "escalated": "Escalated",
    "closed": "Closed",
}
_TEXT_TYPES = ("string", "textarea", "picklist", "email", "phone")


def sf_datetime(moment: datetime) -> str:
    """A datetime as Salesforce writes it in JSON: ``2026-11-20T12:00:00.000+0000``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _no_column(spec: ObjectSpec, name: str) -> SalesforceApiError:
    return SalesforceApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}")


def _not_found() -> SalesforceApiError:
    return SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")


class SalesforceStore:
    """Records of Account, Contact, Case and CaseComment, guarded by one lock.

    Args:
        clock: Gives the time stamped on created and modified records (timezone-aware).
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SCHEMAS}
        self._counters: dict[str, int] = dict.fromkeys(SCHEMAS, 0)
        self._case_number = 1000

    # --- lookups -------------------------------------------------------------------------------------------

    @staticmethod
    def spec(sobject: str) -> ObjectSpec:
        """The schema of ``sobject`` (case-insensitive)."""
        spec = next((s for name, s in SCHEMAS.items() if name.lower() == sobject.lower()), None)
        if spec is None:
            raise SalesforceApiError(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        return spec

    def _find(self, spec: ObjectSpec, record_id: str) -> dict[str, Any]:
        if len(record_id) == 15:
            record_id = to_18(record_id)
        record = self._records[spec.name].get(record_id)
        if record is None or record["IsDeleted"]:
            raise _not_found()
        return record

    def _lookup(self, record_id: str | None) -> tuple[ObjectSpec, dict[str, Any]] | None:
        if not record_id:
            return None
        for spec in SCHEMAS.values():
            if record_id.startswith(spec.key_prefix) and record_id in self._records[spec.name]:
                return spec, self._records[spec.name][record_id]
        return None

    # --- reads ---------------------------------------------------------------------------------------------

    def get(self, sobject: str, record_id: str, version: str, fields: Iterable[str] | None = None) -> dict[str, Any]:
        """One record with all (or the named) fields, as ``GET sobjects/{name}/{id}`` returns it."""
        with self._lock:
            spec = self.spec(sobject)
            record = self._find(spec, record_id)
            names = list(fields) if fields else [f.name for f in spec.fields]
            for name in names:
                if spec.field(name) is None:
                    raise SalesforceApiError(
                        400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}"
                    )
            return self._project(spec, record, names, version)

    def get_by_external_id(self, sobject: str, field: str, value: str, version: str) -> dict[str, Any]:
        """The record whose external-id ``field`` equals ``value``."""
        with self._lock:
            spec = self.spec(sobject)
            spec_field = spec.field(field)
            if spec_field is None or not spec_field.external_id:
                raise _not_found()
            hits = [r for r in self._records[spec.name].values() if not r["IsDeleted"] and r[spec_field.name] == value]
            if not hits:
                raise _not_found()
            return self._project(spec, hits[0], [f.name for f in spec.fields], version)

    def query(self, soql: str, *, include_deleted: bool, version: str) -> list[dict[str, Any]]:
        """Run a query of the supported SOQL subset and return every matching row (the caller pages them)."""
        try:
            parsed = parse_soql(soql)
        except SoqlError as exc:
            raise SalesforceApiError(400, exc.error_code, exc.message) from exc
        with self._lock:
            spec = self.spec(parsed.sobject)
            for path in parsed.referenced_fields():
                self._check_path(spec, path)
            rows = [r for r in self._records[spec.name].values() if include_deleted or not r["IsDeleted"]]
            try:
                rows = [r for r in rows if matches(parsed.where, self._resolver(spec, r))]
                rows = sort_records(rows, parsed.order_by, lambda r: self._resolver(spec, r))
            except SoqlError as exc:
                raise SalesforceApiError(400, exc.error_code, exc.message) from exc
            start = parsed.offset or 0
            rows = rows[start : start + parsed.limit] if parsed.limit is not None else rows[start:]
            return [self._project(spec, r, parsed.fields, version) for r in rows]

    def _check_path(self, spec: ObjectSpec, path: str) -> None:
        current = spec
        *relationships, last = path.split(".")
        for name in relationships:
            lookup = current.relationship(name)
            if lookup is None or lookup.reference_to is None:
                raise SalesforceApiError(
                    400, "INVALID_FIELD", f"Didn't understand relationship '{name}' in field path."
                )
            current = SCHEMAS[lookup.reference_to]
        if current.field(last) is None:
            raise SalesforceApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{last}' on entity '{current.name}'. If you are attempting to use a custom field, "
                "be sure to append the '__c' after the custom field name.",
            )

    def _resolver(self, spec: ObjectSpec, record: dict[str, Any]) -> Resolver:
        def resolve(path: str) -> Any:
            current_spec, current = spec, record
            *relationships, last = path.split(".")
            for name in relationships:
                lookup = current_spec.relationship(name)
                found = self._lookup(current.get(lookup.name) if lookup else None)
                if found is None:
                    return None
                current_spec, current = found
            field = current_spec.field(last)
            return current.get(field.name) if field else None

        return resolve

    def _project(self, spec: ObjectSpec, record: dict[str, Any], paths: Iterable[str], version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": self._attributes(spec, record["Id"], version)}
        for path in paths:
            self._place(out, spec, record, path.split("."), version)
        return out

    def _place(
        self, out: dict[str, Any], spec: ObjectSpec, record: dict[str, Any], parts: list[str], version: str
    ) -> None:
        if len(parts) == 1:
            field = spec.field(parts[0])
            if field is not None:
                out[field.name] = record.get(field.name)
            return
        lookup = spec.relationship(parts[0])
        if lookup is None or lookup.relationship_name is None:
            return
        found = self._lookup(record.get(lookup.name))
        if found is None:
            out[lookup.relationship_name] = None
            return
        child_spec, child = found
        nested = out.get(lookup.relationship_name) or {"attributes": self._attributes(child_spec, child["Id"], version)}
        out[lookup.relationship_name] = nested
        self._place(nested, child_spec, child, parts[1:], version)

    @staticmethod
    def _attributes(spec: ObjectSpec, record_id: str, version: str) -> dict[str, str]:
        return {"type": spec.name, "url": f"/services/data/v{version}/sobjects/{spec.name}/{record_id}"}

    # --- writes --------------------------------------------------------------------------------------------

    def create(self, sobject: str, data: Mapping[str, Any]) -> str:
        """Validate and insert a record; return its id."""
        with self._lock:
            spec = self.spec(sobject)
            values = self._validated(spec, data, creating=True)
            missing = [f.name for f in spec.fields if f.required and values.get(f.name) in (None, "")]
            if missing:
                raise SalesforceApiError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    tuple(missing),
                )
            self._check_unique(spec, values, exclude=None)
            return self._insert(spec, values)

    def update(self, sobject: str, record_id: str, data: Mapping[str, Any]) -> None:
        """Validate and apply a partial update."""
        with self._lock:
            spec = self.spec(sobject)
            record = self._find(spec, record_id)
            values = self._validated(spec, data, creating=False)
            self._check_unique(spec, values, exclude=record["Id"])
            record.update(values)
            self._touch(spec, record)

    def delete(self, sobject: str, record_id: str) -> None:
        """Move a record (and a case's comments) to the recycle bin: ``queryAll`` still sees it."""
        with self._lock:
            spec = self.spec(sobject)
            record = self._find(spec, record_id)
            record["IsDeleted"] = True
            if spec.name == "Case":
                for comment in self._records["CaseComment"].values():
                    if comment["ParentId"] == record["Id"]:
                        comment["IsDeleted"] = True

    def _validated(self, spec: ObjectSpec, data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in data.items():
            field = spec.field(name)
            if field is None:
                raise SalesforceApiError(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}"
                )
            if not (field.createable if creating else field.updateable):
                raise SalesforceApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {field.name}. Please check the security settings of this field "
                    "and verify that it is read/write for your profile or permission set.",
                    (field.name,),
                )
            values[field.name] = self._checked_value(field, value)
        return values

    def _checked_value(self, field: FieldSpec, value: Any) -> Any:
        if value is None or value == "":
            if not field.nillable or field.required:
                raise SalesforceApiError(
                    400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{field.name}]", (field.name,)
                )
            return None
        if field.type == "boolean":
            if not isinstance(value, bool):
                raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"Cannot deserialize {field.name} as a boolean")
            return value
        if field.type in _TEXT_TYPES:
            if not isinstance(value, str):
                raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"Cannot deserialize {field.name} as text")
            if len(value) > field.length:
                raise SalesforceApiError(
                    400, "STRING_TOO_LONG", f"{field.label}: data value too large: {value[:40]!r}", (field.name,)
                )
            if field.restricted and value not in field.picklist:
                raise SalesforceApiError(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{field.label}: bad value for restricted picklist field: {value}",
                    (field.name,),
                )
            return value
        if field.type == "reference":
            found = self._lookup(to_18(value) if isinstance(value, str) and len(value) == 15 else value)
            if found is None or found[0].name != field.reference_to or found[1]["IsDeleted"]:
                raise SalesforceApiError(
                    400, "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {value}", (field.name,)
                )
            return found[1]["Id"]
        return value

    def _check_unique(self, spec: ObjectSpec, values: Mapping[str, Any], *, exclude: str | None) -> None:
        for field in spec.fields:
            value = values.get(field.name)
            if not field.unique or value is None:
                continue
            for other in self._records[spec.name].values():
                if other["Id"] != exclude and not other["IsDeleted"] and other.get(field.name) == value:
                    raise SalesforceApiError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {field.name} duplicates value on record with id: {other['Id']}",
                        (field.name,),
                    )

    def _insert(self, spec: ObjectSpec, values: Mapping[str, Any], created: datetime | None = None) -> str:
        self._counters[spec.name] += 1
        record_id = make_id(spec.key_prefix, self._counters[spec.name])
        record: dict[str, Any] = {f.name: f.default for f in spec.fields}
        record.update({f.name: False for f in spec.fields if f.type == "boolean" and f.default is None})
        record.update(values)
        record["Id"] = record_id
        stamp = sf_datetime(created or self._clock())
        record["CreatedDate"] = stamp
        if spec.name == "Case":
            if record.get("CaseNumber") is None:
                self._case_number += 1
                record["CaseNumber"] = f"{self._case_number:08d}"
            else:
                self._case_number = max(self._case_number, int(record["CaseNumber"]))
            if record.get("AccountId") is None and record.get("ContactId"):
                record["AccountId"] = self._records["Contact"][record["ContactId"]].get("AccountId")
        self._records[spec.name][record_id] = record
        self._touch(spec, record, at=stamp)
        return record_id

    def _touch(self, spec: ObjectSpec, record: dict[str, Any], at: str | None = None) -> None:
        stamp = at or sf_datetime(self._clock())
        record["LastModifiedDate"] = record["SystemModstamp"] = stamp
        if spec.name == "Contact":
            record["Name"] = " ".join(part for part in (record.get("FirstName"), record.get("LastName")) if part)
        if spec.name == "Case":
            record["IsClosed"] = record.get("Status") == "Closed"

    # --- seed ----------------------------------------------------------------------------------------------

    def load_seed(self, seed: SeedData) -> None:
        """Load grounddesk's demo data: accounts, contacts (with customer numbers), cases and their comments."""
        with self._lock:
            accounts: dict[str, str] = {}
            for account in seed.accounts:
                values: dict[str, Any] = {
                    "Name": account.name,
                    "AccountNumber": account.id,
                    "Tier__c": account.tier.value.title(),
                    "Status__c": account.status.title(),
                }
                accounts[account.id] = self._insert(SCHEMAS["Account"], values)
            contacts: dict[str, str] = {}
            for customer in seed.customers:
                first, _, last = customer.name.partition(" ")
                values = {
                    "FirstName": first if last else None,
                    "LastName": last or first,
                    "Email": customer.email,
                    "Phone": customer.phone,
                    "AccountId": accounts.get(customer.account_id or ""),
                    "Customer_Number__c": customer.id,
                }
                contacts[customer.id] = self._insert(SCHEMAS["Contact"], values)
            for case in seed.cases:
                values = {
                    "CaseNumber": case.number,
                    "Subject": case.subject,
                    "Description": case.description or None,
                    "Status": _STATUS[case.status.value],
                    "Priority": case.priority.title(),
                    "Origin": "Web",
                    "ContactId": contacts[case.customer_id],
                }
                case_id = self._insert(SCHEMAS["Case"], values, created=case.created_at)
                self._records["Case"][case_id]["LastModifiedDate"] = sf_datetime(case.updated_at)
                for comment in case.comments:
                    values = {"ParentId": case_id, "CommentBody": comment.body, "IsPublished": comment.public}
                    self._insert(SCHEMAS["CaseComment"], values, created=comment.created_at)
