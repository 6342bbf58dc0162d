"""The Salesforce CRM connector: customers are Contacts, accounts Accounts, cases Cases, through simple-salesforce.

The org needs a few custom fields (their API names are settings): ``Contact.Customer_Number__c`` (the company's
customer number, ``C-1001``), ``Account.Tier__c`` (Standard / Premium / Enterprise), optionally
``Account.Status__c``, and ``Case.Grounddesk_Key__c`` (text, unique, external id) for idempotent case creation.
Accounts are looked up by their standard ``AccountNumber`` (``ACC-1001``).

Every SOQL statement is built with ``simple_salesforce.format_soql``, which quotes and escapes bound values; field
names come only from validated settings. Customer text is never pasted into a query.

Idempotency:

* ``create_case`` looks the key up in ``Grounddesk_Key__c`` first and creates the case with the key set. The
  field is unique, so when two callers race, the loser gets ``DUPLICATE_VALUE`` and returns the winner's case.
* ``add_case_comment``: Salesforce does not allow custom fields on CaseComment, so by default the key's hash is
  appended to the comment body as a last line ``[gd-ref:<16 hex>]`` (customers see it on public comments) and the
  case's comments are searched for it before posting; the marker is stripped when comments are read back. This
  holds across restarts and replicas, but two processes racing on the same key can both post (CommentBody cannot
  be filtered or made unique); inside one process a lock serialises the check and the post, and the
  :class:`~grounddesk.connectors.resilience.ResilientCRM` ledger closes the gap between processes. An org that
  keeps comment keys in a field of its own can name it in ``comment_idempotency_field`` instead of the marker.
* ``update_case_status`` is idempotent by nature: setting a status it already has changes nothing.

Example:
    >>> settings = SalesforceSettings(auth="password", domain="login", username="bot@acme.example",
    ...                               password=SecretStr("..."), security_token=SecretStr("..."))
    >>> crm = SalesforceCRM(settings)
    >>> crm.find_customer(email="alex.morgan@example.com").id
    'C-1001'
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from grounddesk.connectors import _salesforce_mapping as m
from grounddesk.connectors.types import (
    Account,
    ApiUsage,
    Case,
    CaseComment,
    CaseStatus,
    ConnectorHealth,
    ConnectorValidationError,
    Customer,
    NewCase,
    RecordNotFound,
)
from grounddesk.errors import ConfigurationError, ErrorCode, GrounddeskError

if TYPE_CHECKING:
    import requests

    from grounddesk.connectors._salesforce_client import SalesforceClient

__all__ = ["SalesforceCRM", "SalesforceSettings"]

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CONNECTOR = "salesforce"


class SalesforceSettings(BaseModel):
    """How to reach and log in to a Salesforce org, and the API names of the org's grounddesk fields.

    ``auth`` picks the login flow and the fields it needs:

    * ``password``: ``username``, ``password`` and ``security_token`` (SOAP login; the token may be empty for
      trusted IP ranges); with ``consumer_key`` and ``consumer_secret`` it uses the OAuth password grant instead.
    * ``client_credentials``: ``consumer_key``, ``consumer_secret`` and a My Domain ``domain`` (``acme.my``).
    * ``jwt``: ``username``, ``consumer_key`` and ``privatekey_file`` (or ``private_key``), the RS256 key whose
      certificate is on the connected app.
    * ``session``: ``session_id`` and ``instance_url`` of an existing session (it cannot be renewed).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    auth: Literal["password", "client_credentials", "jwt", "session"] = "password"
    domain: str = Field(default="login", description="login, test, or a My Domain such as acme.my")
    instance_url: str | None = Field(default=None, description="https://acme.my.salesforce.com (session auth)")
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    privatekey_file: Path | None = None
    private_key: SecretStr | None = Field(default=None, description="PEM text, instead of privatekey_file")
    session_id: SecretStr | None = None
    api_version: str = "59.0"
    timeout_s: float = Field(default=10.0, gt=0)
    customer_number_field: str = "Customer_Number__c"
    idempotency_field: str = "Grounddesk_Key__c"
    account_number_field: str = "AccountNumber"
    tier_field: str = "Tier__c"
    account_status_field: str | None = "Status__c"
    comment_idempotency_field: str | None = None
    max_rate_limit_retries: int = Field(default=3, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)

    @field_validator(
        "customer_number_field",
        "idempotency_field",
        "account_number_field",
        "tier_field",
        "account_status_field",
        "comment_idempotency_field",
    )
    @classmethod
    def _api_name(cls, value: str | None) -> str | None:
        if value is not None and not _API_NAME.match(value):
            raise ValueError(f"{value!r} is not a Salesforce field API name")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().removeprefix("https://").removesuffix("/").removesuffix(".salesforce.com")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", value):
            raise ValueError("domain must be login, test or a My Domain name such as acme.my")
        return value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.fullmatch(r"\d{2}\.0", value):
            raise ValueError("api_version looks like 59.0 (no leading v)")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        needs: dict[str, tuple[str, ...]] = {
            "password": ("username", "password"),
            "client_credentials": ("consumer_key", "consumer_secret"),
            "jwt": ("username", "consumer_key"),
            "session": ("session_id", "instance_url"),
        }
        missing = [name for name in needs[self.auth] if getattr(self, name) in (None, "")]
        if self.auth == "jwt" and self.privatekey_file is None and self.private_key is None:
            missing.append("privatekey_file")
        if missing:
            raise ValueError(f"auth={self.auth!r} needs {', '.join(missing)}")
        if self.auth == "password" and bool(self.consumer_key) != bool(self.consumer_secret):
            raise ValueError("the OAuth password flow needs both consumer_key and consumer_secret")
        if self.auth == "client_credentials" and self.domain in ("login", "test"):
            raise ValueError("client_credentials needs the org's My Domain as domain (e.g. 'acme.my')")
        return self


def _new_client(
    settings: SalesforceSettings, session: requests.Session | None, sleep: Callable[[float], None]
) -> SalesforceClient:
    try:
        from grounddesk.connectors._salesforce_client import SalesforceClient
    except ImportError as exc:
        raise ConfigurationError(
            'The Salesforce connector needs simple-salesforce: pip install "grounddesk[salesforce]"',
            code=ErrorCode.MISSING_EXTRA,
            extra="salesforce",
        ) from exc
    return SalesforceClient(settings, session=session, sleep=sleep)


class SalesforceCRM:
    """:class:`~grounddesk.connectors.types.CRMConnector` over a Salesforce org, through simple-salesforce.

    The first call logs in (nothing is sent at construction). The client is safe to share between threads.

    Args:
        settings: Org, credentials and field names.
        session: The ``requests.Session`` simple-salesforce sends through (its ``session=`` argument); tests pass
            one routed to :class:`~grounddesk.testing.salesforce_emulator.SalesforceEmulator`.
        sleep: Sleeps between request-limit retries.

    Raises:
        ConfigurationError: simple-salesforce is not installed (code ``missing_extra``).
    """

    name = _CONNECTOR

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._client = _new_client(settings, session, sleep)
        from simple_salesforce.format import format_soql

        self._soql = format_soql
        self._names = m.FieldNames(
            customer_number=settings.customer_number_field,
            idempotency=settings.idempotency_field,
            account_number=settings.account_number_field,
            tier=settings.tier_field,
            account_status=settings.account_status_field,
            comment_idempotency=settings.comment_idempotency_field,
        )
        self._write_lock = threading.Lock()

    @property
    def api_usage(self) -> ApiUsage | None:
        """API calls used and allowed per the latest ``Sforce-Limit-Info`` (None before the first call)."""
        return self._client.api_usage

    @property
    def logins(self) -> int:
        """How many times this connector has logged in."""
        return self._client.logins

    def _query(self, template: str, *values: Any, operation: str, **named: Any) -> list[dict[str, Any]]:
        """Run a query built by ``format_soql`` (values are quoted and escaped there, never pasted in)."""
        return self._client.query_all(self._soql(template, *values, **named), operation=operation)

    # --- customers and accounts ----------------------------------------------------------------------------

    def find_customer(
        self, *, email: str | None = None, phone: str | None = None, customer_id: str | None = None
    ) -> Customer | None:
        """The customer with this email (case-insensitive), phone number or customer number, or None."""
        given = [value for value in (email, phone, customer_id) if value is not None]
        if len(given) != 1:
            raise ConnectorValidationError(
                "find_customer takes exactly one of email, phone, customer_id", connector=_CONNECTOR
            )
        names = self._names
        base = f"SELECT {names.contact_fields()} FROM Contact WHERE {{cn:literal}} != null AND "
        if email is not None:
            rows = self._query(base + "Email = {}", email.strip(), cn=names.customer_number, operation="find_customer")
        elif customer_id is not None:
            rows = self._query(
                base + "{cn:literal} = {}", customer_id.strip(), cn=names.customer_number, operation="find_customer"
            )
        else:
            wanted = m.phone_digits(phone or "")
            if len(wanted) < 4:
                return None
            rows = self._query(
                base + "Phone LIKE '%{:like}'", wanted[-4:], cn=names.customer_number, operation="find_customer"
            )
            rows = [row for row in rows if m.phone_digits(str(row.get("Phone") or "")) == wanted]
        rows.sort(key=lambda row: str(row.get("CreatedDate") or ""))
        return m.customer_from(rows[0], names) if rows else None

    def get_account(self, account_id: str) -> Account:
        """An account by its number (``ACC-1001``)."""
        names = self._names
        rows = self._query(
            f"SELECT {names.account_fields()} FROM Account WHERE {{an:literal}} = {{}} LIMIT 1",
            account_id,
            an=names.account_number,
            operation="get_account",
        )
        if not rows:
            raise RecordNotFound(f"No account {account_id!r}", connector=_CONNECTOR, kind="account", key=account_id)
        return m.account_from(rows[0], names)

    # --- cases ---------------------------------------------------------------------------------------------

    def list_cases(
        self, customer_id: str, *, statuses: Sequence[CaseStatus] | None = None, limit: int = 20
    ) -> list[Case]:
        """A customer's cases, newest first, without comments."""
        if statuses is not None and not statuses:
            return []
        names = self._names
        template = f"SELECT {names.case_fields()} FROM Case WHERE Contact.{{cn:literal}} = {{cid}}"
        values: dict[str, Any] = {"cn": names.customer_number, "cid": customer_id, "limit": max(int(limit), 0)}
        if statuses is not None:
            template += " AND Status IN {statuses}"
            values["statuses"] = sorted({m.STATUS_TO_SF[CaseStatus(s)] for s in statuses})
        template += " ORDER BY CreatedDate DESC, CaseNumber DESC LIMIT {limit}"
        rows = self._query(template, **values, operation="list_cases")
        return [m.case_from(row, names) for row in rows]

    def _case_row(self, number: str, operation: str) -> dict[str, Any]:
        rows = self._query(
            f"SELECT {self._names.case_fields()} FROM Case WHERE CaseNumber = {{}} LIMIT 1", number, operation=operation
        )
        if not rows:
            raise RecordNotFound(f"No case {number!r}", connector=_CONNECTOR, kind="case", key=number)
        return rows[0]

    def _comment_rows(self, case_id: str, operation: str) -> list[dict[str, Any]]:
        return self._query(
            f"SELECT {self._names.comment_fields()} FROM CaseComment WHERE ParentId = {{}} ORDER BY CreatedDate ASC",
            case_id,
            operation=operation,
        )

    def get_case(self, number: str) -> Case:
        """A case by its number, with its comments oldest first."""
        row = self._case_row(number, "get_case")
        comments = tuple(m.comment_from(c) for c in self._comment_rows(row["Id"], "get_case"))
        return m.case_from(row, self._names, comments)

    def _case_by_key(self, key: str) -> Case | None:
        names = self._names
        rows = self._query(
            f"SELECT {names.case_fields()} FROM Case WHERE {{key_field:literal}} = {{}} LIMIT 1",
            key,
            key_field=names.idempotency,
            operation="create_case",
        )
        return m.case_from(rows[0], names) if rows else None

    def create_case(self, case: NewCase, *, idempotency_key: str) -> Case:
        """Open a case for the customer; the same key again returns the case the first call opened."""
        names = self._names
        key = m.external_key(idempotency_key)
        existing = self._case_by_key(key)
        if existing is not None:
            return existing
        contacts = self._query(
            "SELECT Id, AccountId FROM Contact WHERE {cn:literal} = {} LIMIT 1",
            case.customer_id,
            cn=names.customer_number,
            operation="create_case",
        )
        if not contacts:
            raise RecordNotFound(
                f"No customer {case.customer_id!r}", connector=_CONNECTOR, kind="customer", key=case.customer_id
            )
        data: dict[str, Any] = {
            "Subject": case.subject,
            "Priority": m.priority_to_sf(case.priority),
            "Origin": case.origin.strip().title() or None,
            "Status": m.STATUS_TO_SF[CaseStatus.NEW],
            "ContactId": contacts[0]["Id"],
            names.idempotency: key,
        }
        if case.description:
            data["Description"] = case.description
        try:
            record_id = self._client.create("Case", data, operation="create_case")
        except ConnectorValidationError as exc:
            if exc.fields.get("sf_error_code") != "DUPLICATE_VALUE":
                raise
            winner = self._case_by_key(key)  # a concurrent call with the same key got there first
            if winner is None:
                raise
            return winner
        rows = self._query(
            f"SELECT {names.case_fields()} FROM Case WHERE Id = {{}}", record_id, operation="create_case"
        )
        return m.case_from(rows[0], names)

    def add_case_comment(self, number: str, body: str, *, idempotency_key: str, public: bool = True) -> CaseComment:
        """Comment on a case; the same key again returns the first comment (see the module docstring)."""
        if not body.strip():
            raise ConnectorValidationError("A case comment needs a body", connector=_CONNECTOR)
        case_id = self._case_row(number, "add_case_comment")["Id"]
        key_field = self._names.comment_idempotency
        data: dict[str, Any] = {"ParentId": case_id, "IsPublished": public}
        with self._write_lock:
            if key_field:
                key = m.external_key(idempotency_key)
                found = self._query(
                    f"SELECT {self._names.comment_fields()} FROM CaseComment "
                    "WHERE ParentId = {} AND {kf:literal} = {} LIMIT 1",
                    case_id,
                    key,
                    kf=key_field,
                    operation="add_case_comment",
                )
                data |= {"CommentBody": body, key_field: key}
            else:
                marker = m.comment_marker(idempotency_key)
                found = [c for c in self._comment_rows(case_id, "add_case_comment") if m.has_marker(c, marker)]
                data["CommentBody"] = body + marker
            if found:
                return m.comment_from(found[0])
            comment_id = self._client.create("CaseComment", data, operation="add_case_comment")
        row = self._client.get(
            f"sobjects/CaseComment/{comment_id}", operation="add_case_comment", not_found=("comment", comment_id)
        )
        return m.comment_from(row)

    def update_case_status(self, number: str, status: CaseStatus, *, idempotency_key: str) -> Case:
        """Move a case to ``status`` (naturally idempotent: an unchanged status is not written)."""
        row = self._case_row(number, "update_case_status")
        target = m.STATUS_TO_SF[CaseStatus(status)]
        if row.get("Status") != target:
            self._client.update("Case", row["Id"], {"Status": target}, operation="update_case_status", key=number)
            row = self._case_row(number, "update_case_status")
        return m.case_from(row, self._names)

    # --- lifecycle -----------------------------------------------------------------------------------------

    def health(self) -> ConnectorHealth:
        """Log in if needed and read the org's limits once; never raises."""
        started = time.perf_counter()
        try:
            limits = self._client.limits()
        except GrounddeskError as exc:
            return ConnectorHealth(
                name=self.name, kind="crm", ok=False, detail=f"{exc.code}: {exc.detail}", api_usage=self.api_usage
            )
        except Exception as exc:  # health must report, not raise
            return ConnectorHealth(name=self.name, kind="crm", ok=False, detail=f"{type(exc).__name__}: {exc}")
        latency_ms = (time.perf_counter() - started) * 1000
        usage = self.api_usage
        daily = limits.get("DailyApiRequests") if isinstance(limits, dict) else None
        if isinstance(daily, dict) and "Max" in daily and "Remaining" in daily:
            usage = ApiUsage(used=int(daily["Max"]) - int(daily["Remaining"]), limit=int(daily["Max"]))
        return ConnectorHealth(name=self.name, kind="crm", ok=True, latency_ms=latency_ms, api_usage=usage)

    def close(self) -> None:
        """Close the HTTP session if the connector made it."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
