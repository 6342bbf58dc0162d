"""Turn the ERP's JSON into our records, and our return request into the ERP's body, as a mapping file says.

Every way the JSON can disagree with the mapping (a missing field, a code the value map does not know, a value of
the wrong type) ends as a :class:`ConnectorError` with code ``connector_error`` whose fields name the dotted
``path`` in the ERP's answer, the ``record`` and our ``field``. Nothing here raises ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from grounddesk.connectors.erp_mapping import NESTED, RECORD_MODELS, ErpMapping, FieldSpec, value_key
from grounddesk.connectors.types import ConnectorError, Invoice, NewReturn, Order, ReturnRequest, Shipment

__all__ = ["MISSING", "RecordMapper", "join_path", "read_path"]

_M = TypeVar("_M", bound=BaseModel)


class _Missing:
    """Marks a path that is not in the document (as opposed to one holding ``null``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def read_path(document: Any, path: str) -> Any:
    """The value at a dotted path (``data.order.lines.0.qty``), or :data:`MISSING`.

    Args:
        document: Parsed JSON.
        path: Keys separated by dots; an integer part indexes a list; ``""`` is the document itself.

    Returns:
        The value, or :data:`MISSING` when a key or index is absent or a part meets a plain value.
    """
    current = document
    for part in path.split(".") if path else ():
        if isinstance(current, Mapping):
            if part not in current:
                return MISSING
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def join_path(base: str, path: str) -> str:
    """``base.path``, leaving out empty parts."""
    return ".".join(part for part in (base, path) if part)


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        document = document.setdefault(part, {})
    document[leaf] = value


class RecordMapper:
    """Builds records from ERP JSON with the ``records`` section of a mapping.

    Args:
        mapping: The checked mapping file.
        connector: The connector name put on errors.
    """

    def __init__(self, mapping: ErpMapping, *, connector: str = "erp") -> None:
        self._mapping = mapping
        self._connector = connector
        self._zone = ZoneInfo(mapping.assume_timezone)

    def order(self, raw: Any, *, at: str, context: Mapping[str, str]) -> Order:
        """An order (with lines and shipments) from the ERP's JSON found at ``at``."""
        return self._build(Order, "order", raw, at=at, context=context)

    def shipment(self, raw: Any, *, at: str, context: Mapping[str, str]) -> Shipment:
        """A shipment with its events."""
        return self._build(Shipment, "shipment", raw, at=at, context=context)

    def invoice(self, raw: Any, *, at: str, context: Mapping[str, str]) -> Invoice:
        """An invoice."""
        return self._build(Invoice, "invoice", raw, at=at, context=context)

    def return_request(self, raw: Any, *, at: str, context: Mapping[str, str]) -> ReturnRequest:
        """A return request as the ERP recorded it."""
        return self._build(ReturnRequest, "return_request", raw, at=at, context=context)

    def return_body(self, request: NewReturn) -> dict[str, Any]:
        """The JSON body of ``create_return`` for ``request``, built from ``operations.create_return.body``."""
        body: dict[str, Any] = {}
        for target, spec in self._mapping.operations.create_return.body.items():
            value: Any = getattr(request, spec.field) if spec.field is not None else spec.const
            items = list(value) if isinstance(value, tuple) else None
            if spec.values is not None:
                if items is None:
                    value = self._encode(value, spec.values, target)
                else:
                    items = [self._encode(item, spec.values, target) for item in items]
            if items is not None:
                value = [self._wrap(spec.each, item) for item in items] if spec.each else items
            _set_path(body, target, value)
        return body

    # --- building ------------------------------------------------------------------------------------------

    def _build(self, model: type[_M], kind: str, raw: Any, *, at: str, context: Mapping[str, str]) -> _M:
        if not isinstance(raw, Mapping):
            raise self._error(
                f"expected a JSON object for {kind} at {at or 'the body'}, got {type(raw).__name__}",
                path=at,
                record=kind,
            )
        fields: dict[str, FieldSpec] = getattr(self._mapping.records, kind)
        values: dict[str, Any] = {}
        for name, spec in fields.items():
            if (kind, name) not in NESTED:
                value = self._value(model, kind, name, spec, raw, at=at, context=context)
                if value is not MISSING:
                    values[name] = value
        inner = dict(context)
        if kind == "order":
            inner.update({key: str(values[src]) for key, src in (("order_id", "id"), ("customer_id", "customer_id"))})
        for name, spec in fields.items():
            if (kind, name) in NESTED and spec.path is not None:
                values[name] = self._children(NESTED[kind, name], raw, join_path(at, spec.path), spec.path, inner)
        try:
            record = model.model_validate(values)
        except ValidationError as exc:
            raise self._invalid(exc, kind, fields, at) from None
        return self._aware(record)

    def _children(self, kind: str, raw: Mapping[str, Any], where: str, path: str, context: dict[str, str]) -> Any:
        items = read_path(raw, path)
        if items is MISSING or items is None:
            return ()
        if not isinstance(items, list):
            raise self._error(f"expected a list of {kind} at {where}", path=where, record=kind)
        model = RECORD_MODELS[kind]
        return tuple(
            self._build(model, kind, item, at=f"{where}.{index}", context=context) for index, item in enumerate(items)
        )

    def _value(
        self,
        model: type[BaseModel],
        kind: str,
        name: str,
        spec: FieldSpec,
        raw: Mapping[str, Any],
        *,
        at: str,
        context: Mapping[str, str],
    ) -> Any:
        if spec.context is not None:
            value: Any = context.get(spec.context, MISSING)
        elif spec.path is not None:
            value = read_path(raw, spec.path)
        else:
            value = spec.const
        source = join_path(at, spec.path) if spec.path is not None else spec.source
        if value is MISSING or value is None:
            if model.model_fields[name].is_required():
                state = "has no value" if value is MISSING else "holds null"
                raise self._error(
                    f"ERP response {state} at {source} (needed for {kind}.{name})", path=source, record=kind, field=name
                )
            return MISSING
        if spec.each is not None:
            value = self._each(value, spec.each, source, kind, name)
        if spec.values is not None:
            if isinstance(value, list):
                return [self._decode(item, spec, f"{source}.{index}", kind, name) for index, item in enumerate(value)]
            return self._decode(value, spec, source, kind, name)
        return value

    def _each(self, value: Any, each: str, source: str, kind: str, name: str) -> list[Any]:
        if not isinstance(value, list):
            raise self._error(f"expected a list at {source} for {kind}.{name}", path=source, record=kind, field=name)
        found: list[Any] = []
        for index, item in enumerate(value):
            inner = read_path(item, each)
            if inner is MISSING or inner is None:
                where = f"{source}.{index}.{each}"
                raise self._error(
                    f"ERP response has no value at {where} (needed for {kind}.{name})",
                    path=where,
                    record=kind,
                    field=name,
                )
            found.append(inner)
        return found

    def _decode(self, value: Any, spec: FieldSpec, source: str, kind: str, name: str) -> Any:
        codes = spec.values or {}
        key = value_key(value)
        if key in codes:
            return codes[key]
        if "other" in spec.model_fields_set:
            return spec.other
        raise self._error(
            f"unknown value {value!r} at {source} for {kind}.{name} (the mapping knows: {', '.join(codes)})",
            path=source,
            record=kind,
            field=name,
            value=key,
        )

    def _encode(self, value: Any, codes: Mapping[str, Any], target: str) -> Any:
        key = value_key(value)
        if key not in codes:
            raise self._error(
                f"the mapping has no ERP code for {value!r} in body {target} (it knows: {', '.join(codes)})",
                path=target,
                value=key,
            )
        return codes[key]

    @staticmethod
    def _wrap(each: str, item: Any) -> dict[str, Any]:
        wrapped: dict[str, Any] = {}
        _set_path(wrapped, each, item)
        return wrapped

    def _aware(self, record: _M) -> _M:
        naive = {
            name: value.replace(tzinfo=self._zone)
            for name in type(record).model_fields
            if isinstance(value := getattr(record, name), datetime) and value.tzinfo is None
        }
        return record.model_copy(update=naive) if naive else record

    def _invalid(self, exc: ValidationError, kind: str, fields: Mapping[str, FieldSpec], at: str) -> ConnectorError:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        spec = fields.get(name)
        source = at if spec is None else join_path(at, spec.path) if spec.path is not None else spec.source
        return self._error(
            f"ERP value at {source} does not fit {kind}.{name}: {error['msg']}", path=source, record=kind, field=name
        )

    def _error(self, detail: str, **fields: Any) -> ConnectorError:
        return ConnectorError(detail, connector=self._connector, **fields)
