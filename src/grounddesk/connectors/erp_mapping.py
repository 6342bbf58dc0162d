"""The mapping file of the REST ERP connector: where each call goes and how the ERP's JSON becomes our records.

A customer describes their ERP in one YAML file instead of writing code: the base URL, how to authenticate, one
HTTP endpoint per :class:`~grounddesk.connectors.types.ERPConnector` operation, and, per record, which dotted
path of the ERP's JSON holds each of our fields. The file shipped next to this module
(``grounddesk/connectors/erp_mapping.yaml``) maps the bundled ERP emulator and documents every key; copy it.

:func:`load_mapping` checks the whole file before anything is sent: unknown keys, a record that misses a
required field, a status map that points at a status we do not have, a path template with a placeholder the
operation cannot fill. Each problem is reported with its location in the file, all at once, as a
:class:`~grounddesk.errors.ConfigurationError`.

Example:
    >>> mapping = load_mapping()  # the bundled mapping of the emulator
    >>> mapping.operations.get_order.path
    '/orders/{order_id}'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from grounddesk.connectors.types import Invoice, Order, OrderLine, ReturnRequest, Shipment, TrackingEvent
from grounddesk.errors import ConfigurationError, ErrorCode

__all__ = [
    "ApiKeyAuth",
    "AuthSpec",
    "BasicAuth",
    "BearerAuth",
    "BodyField",
    "ErpMapping",
    "ErrorSpec",
    "FieldSpec",
    "NoAuth",
    "OAuth2ClientCredentials",
    "Operation",
    "Operations",
    "RecordKind",
    "Records",
    "default_mapping_path",
    "load_mapping",
    "parse_mapping",
    "value_key",
]

RecordKind = Literal["order", "order_line", "shipment", "tracking_event", "invoice", "return_request"]

#: Our model behind each record kind of the mapping file.
RECORD_MODELS: dict[str, type[BaseModel]] = {
    "order": Order,
    "order_line": OrderLine,
    "shipment": Shipment,
    "tracking_event": TrackingEvent,
    "invoice": Invoice,
    "return_request": ReturnRequest,
}
#: Fields that hold a list of other records: (record, field) -> the record kind of the items.
NESTED: dict[tuple[str, str], str] = {
    ("order", "lines"): "order_line",
    ("order", "shipments"): "shipment",
    ("shipment", "events"): "tracking_event",
}
#: Fields that hold a list of plain values (``each`` reads one value out of every item).
SCALAR_LISTS = frozenset({("return_request", "skus")})
#: The placeholders each operation can fill in its path, query and header templates.
OPERATION_ARGS: dict[str, frozenset[str]] = {
    "get_order": frozenset({"order_id"}),
    "list_orders": frozenset({"customer_id", "limit"}),
    "track_shipment": frozenset({"order_id"}),
    "get_invoice": frozenset({"order_id"}),
    "create_return": frozenset({"order_id", "customer_id"}),
    "health": frozenset(),
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def value_key(value: Any) -> str:
    """The key a value-map entry is looked up by, so ``SHP``, ``10`` and ``true`` match whatever YAML made of them.

    Args:
        value: A code from the ERP's JSON or a key of a ``values`` map in the file.

    Returns:
        ``"true"``/``"false"`` for booleans, ``str(value)`` otherwise.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _path_shorthand(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


def _field_shorthand(value: Any) -> Any:
    return {"field": value} if isinstance(value, str) else value


def _keys_as_codes(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {value_key(key): item for key, item in value.items()}
    return value


class FieldSpec(_Spec):
    """Where one of our fields comes from. A plain string in the file is shorthand for ``{path: ...}``.

    Exactly one of ``path``, ``context`` and ``const`` is set.
    """

    path: str | None = Field(default=None, description="Dotted path in the ERP's record, e.g. totals.grandTotal")
    context: Literal["order_id", "customer_id"] | None = Field(
        default=None, description="Take the value from the call or the enclosing record instead of the JSON"
    )
    const: Any = Field(default=None, description="A fixed value (set it to use it; null is a value)")
    values: Annotated[dict[str, Any] | None, BeforeValidator(_keys_as_codes)] = Field(
        default=None, description="ERP code -> our value, e.g. {SHP: shipped}"
    )
    other: Any = Field(default=None, description="Our value for codes missing from `values` (default: an error)")
    each: str | None = Field(default=None, description="For lists of plain values: dotted path inside each item")

    @property
    def source(self) -> str:
        """Where the value comes from, as error messages show it."""
        if self.path is not None:
            return self.path
        if self.context is not None:
            return f"context:{self.context}"
        return "const"


RecordMap = dict[str, Annotated[FieldSpec, BeforeValidator(_path_shorthand)]]


class BodyField(_Spec):
    """One value of a request body. A plain string is shorthand for ``{field: ...}`` (a field of NewReturn)."""

    field: Literal["order_id", "customer_id", "kind", "reason", "skus"] | None = None
    const: Any = None
    values: dict[str, Any] | None = Field(default=None, description="Our value -> ERP code, e.g. {refund: RFD}")
    each: str | None = Field(default=None, description="For lists: wrap every item as {<each>: item}")


class Operation(_Spec):
    """One HTTP endpoint. ``{placeholders}`` in ``path``, ``query`` and ``headers`` are filled per call."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(description="Appended to base_url, starting with /")
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    result: str = Field(default="", description="Dotted path of the record (or list) in the response; '' = body")
    body: dict[str, Annotated[BodyField, BeforeValidator(_field_shorthand)]] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with / (it is appended to base_url)")
        return value

    @field_validator("query", "headers", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: value_key(item) for key, item in value.items()}
        return value


class Operations(_Spec):
    """The endpoint of every ERP operation."""

    get_order: Operation
    list_orders: Operation
    track_shipment: Operation | None = None
    get_invoice: Operation
    create_return: Operation
    health: Operation | None = None


class Records(_Spec):
    """Per record kind, our field -> where it is in the ERP's JSON."""

    order: RecordMap
    order_line: RecordMap
    shipment: RecordMap
    tracking_event: RecordMap
    invoice: RecordMap
    return_request: RecordMap


class NoAuth(_Spec):
    """No credentials (an ERP behind a private network or a gateway that adds them)."""

    type: Literal["none"]


class BearerAuth(_Spec):
    """A long-lived token sent as ``Authorization: Bearer``; the token is ``HttpERPSettings.token``."""

    type: Literal["bearer"]


class ApiKeyAuth(_Spec):
    """A key sent in a header; the key is ``HttpERPSettings.api_key``."""

    type: Literal["api_key"]
    header: str = "X-API-Key"
    prefix: str = Field(default="", description="Put before the key, e.g. 'ApiKey '")


class BasicAuth(_Spec):
    """HTTP Basic; the password is ``HttpERPSettings.password``."""

    type: Literal["basic"]
    username: str | None = Field(default=None, description="Or HttpERPSettings.username")


class OAuth2ClientCredentials(_Spec):
    """OAuth 2 client-credentials grant; the secret is ``HttpERPSettings.client_secret``."""

    type: Literal["oauth2_client_credentials"]
    token_url: str = Field(description="Absolute, or resolved against base_url like a link (/oauth/token)")
    client_id: str | None = Field(default=None, description="Or HttpERPSettings.client_id")
    scope: str | None = None
    client_auth: Literal["body", "basic"] = "body"
    extra_params: dict[str, str] = Field(default_factory=dict, description="Sent with the grant, e.g. audience")
    refresh_leeway_s: float = Field(default=30.0, ge=0)
    default_expires_in_s: float = Field(default=3600.0, gt=0, description="When the answer has no expires_in")


AuthSpec = Annotated[
    NoAuth | BearerAuth | ApiKeyAuth | BasicAuth | OAuth2ClientCredentials, Field(discriminator="type")
]


class ErrorSpec(_Spec):
    """Where an ERP error body keeps its human message and its code (first path that has a value wins)."""

    message: list[str] = Field(default_factory=lambda: ["error.message", "message", "detail", "error_description"])
    code: list[str] = Field(default_factory=lambda: ["error.code", "code", "error"])

    @field_validator("message", "code", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ErpMapping(_Spec):
    """A whole mapping file. Build it with :func:`load_mapping`, which also runs the cross-checks."""

    version: Literal[1] = 1
    base_url: str | None = None
    auth: AuthSpec = Field(default_factory=lambda: NoAuth(type="none"))
    idempotency_header: str = "Idempotency-Key"
    headers: dict[str, str] = Field(default_factory=dict)
    assume_timezone: str = Field(default="UTC", description="Zone of datetimes the ERP sends without an offset")
    errors: ErrorSpec = Field(default_factory=ErrorSpec)
    operations: Operations
    records: Records

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("assume_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


def default_mapping_path() -> Path:
    """The mapping file shipped with grounddesk (the ERP emulator's API), the template to copy."""
    return Path(str(resources.files("grounddesk.connectors").joinpath("erp_mapping.yaml")))


def load_mapping(path: Path | None = None) -> ErpMapping:
    """Read and check a mapping file.

    Args:
        path: The YAML file; ``None`` loads the bundled mapping of the ERP emulator.

    Returns:
        The checked mapping.

    Raises:
        ConfigurationError: The file is missing, is not YAML, or breaks a rule; ``fields["errors"]`` lists
            every problem as ``"<location>: <message>"``.
    """
    path = path or default_mapping_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"ERP mapping file {path} does not exist", code=ErrorCode.FILE_NOT_FOUND, path=str(path)
        ) from exc
    return parse_mapping(text, source=str(path))


def parse_mapping(text: str, *, source: str = "<string>") -> ErpMapping:
    """Check a mapping given as YAML text (see :func:`load_mapping`)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"ERP mapping {source} is not valid YAML: {exc}", path=source) from exc
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"ERP mapping {source} must be a YAML mapping at the top level", path=source)
    try:
        mapping = ErpMapping.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_location(error['loc'])}: {error['msg']}" for error in exc.errors()]
        raise _invalid(source, problems) from None
    problems = _cross_check(mapping)
    if problems:
        raise _invalid(source, problems)
    return mapping


def _invalid(source: str, problems: list[str]) -> ConfigurationError:
    listing = "\n  ".join(problems)
    return ConfigurationError(f"ERP mapping {source} is invalid:\n  {listing}", path=source, errors=problems)


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _cross_check(mapping: ErpMapping) -> list[str]:
    problems: list[str] = []
    for name, allowed in OPERATION_ARGS.items():
        operation: Operation | None = getattr(mapping.operations, name)
        if operation is not None:
            problems += _check_operation(name, operation, allowed)
    for kind, model in RECORD_MODELS.items():
        record: dict[str, FieldSpec] = getattr(mapping.records, kind)
        problems += _check_record(kind, model, record)
    return problems


def _check_operation(name: str, operation: Operation, allowed: frozenset[str]) -> list[str]:
    problems: list[str] = []
    where = f"operations.{name}"
    templates = {"path": operation.path}
    templates |= {f"query.{key}": value for key, value in operation.query.items()}
    templates |= {f"headers.{key}": value for key, value in operation.headers.items()}
    for location, template in templates.items():
        for placeholder in _PLACEHOLDER.findall(template):
            if placeholder not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                problems.append(f"{where}.{location}: unknown placeholder {{{placeholder}}} (this one has: {known})")
    if operation.body and name != "create_return":
        problems.append(f"{where}.body: only create_return sends a body")
    for target, spec in operation.body.items():
        if (spec.field is None) == ("const" not in spec.model_fields_set):
            problems.append(f"{where}.body.{target}: set exactly one of field and const")
        if spec.each is not None and spec.field != "skus":
            problems.append(f"{where}.body.{target}: each only applies to the list field skus")
        clash = next((other for other in operation.body if target.startswith(f"{other}.")), None)
        if clash is not None:
            problems.append(f"{where}.body.{target}: {clash} already holds a value, it cannot also hold {target}")
    return problems


def _check_record(kind: str, model: type[BaseModel], record: Mapping[str, FieldSpec]) -> list[str]:
    problems: list[str] = []
    where = f"records.{kind}"
    for name, info in model.model_fields.items():
        if info.is_required() and name not in record:
            problems.append(f"{where}: required field {name!r} is not mapped")
    for name, spec in record.items():
        if name not in model.model_fields:
            known = ", ".join(model.model_fields)
            problems.append(f"{where}.{name}: {kind} has no field {name!r} (fields: {known})")
            continue
        problems += _check_field(kind, name, spec, model)
    return problems


def _check_field(kind: str, name: str, spec: FieldSpec, model: type[BaseModel]) -> list[str]:
    where = f"records.{kind}.{name}"
    sources = [spec.path is not None, spec.context is not None, "const" in spec.model_fields_set]
    if sum(sources) != 1:
        return [f"{where}: set exactly one of path, context and const"]
    problems: list[str] = []
    nested = (kind, name) in NESTED
    if nested and spec.path is None:
        problems.append(f"{where}: a list of {NESTED[kind, name]} records needs a path")
    if nested and (spec.values is not None or spec.each is not None):
        problems.append(f"{where}: values/each do not apply to a list of records")
    if spec.each is not None and (kind, name) not in SCALAR_LISTS:
        problems.append(f"{where}.each: only applies to list fields of plain values ({kind}.{name} is not one)")
    if spec.values is not None and not nested:
        annotation: Any = model.model_fields[name].annotation
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        targets = {**spec.values, "(other)": spec.other} if "other" in spec.model_fields_set else spec.values
        for code, target in targets.items():
            try:
                adapter.validate_python(target)
            except ValidationError as exc:
                problems.append(f"{where}.values.{code}: {target!r} is not a valid {name}: {_first_message(exc)}")
    return problems


def _first_message(exc: ValidationError) -> str:
    return str(exc.errors()[0]["msg"])
