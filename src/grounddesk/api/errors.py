"""Errors as HTTP responses: every failure is a status and a ``{"code", "detail"}`` body.

:class:`~grounddesk.errors.GrounddeskError` codes map to statuses (:data:`STATUS_BY_CODE`); FastAPI's request
validation errors become ``422 invalid_input`` with a readable sentence; ``HTTPException`` keeps its status with a
code derived from it; anything unexpected is ``500 internal_error`` and logged, never shown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = [
    "REQUEST_TOO_LARGE",
    "STATUS_BY_CODE",
    "error_body",
    "error_response",
    "install_error_handlers",
    "status_for",
    "validation_detail",
]

logger = logging.getLogger(__name__)

#: The code of a request body over the size limit (answered by the size-limit middleware).
REQUEST_TOO_LARGE = "request_too_large"

STATUS_BY_CODE: dict[str, int] = {
    ErrorCode.AUTH_REQUIRED: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.TOOL_NOT_ALLOWED: 403,
    ErrorCode.DOCUMENT_NOT_FOUND: 404,
    ErrorCode.VERSION_NOT_FOUND: 404,
    ErrorCode.RECORD_NOT_FOUND: 404,
    ErrorCode.TICKET_NOT_FOUND: 404,
    ErrorCode.CONVERSATION_NOT_FOUND: 404,
    ErrorCode.FILE_NOT_FOUND: 404,
    ErrorCode.TICKET_CONFLICT: 409,
    ErrorCode.VERSION_CONFLICT: 409,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.USER_EXISTS: 409,
    ErrorCode.FILE_TOO_LARGE: 413,
    ErrorCode.MESSAGE_TOO_LONG: 413,
    REQUEST_TOO_LARGE: 413,
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.WEAK_PASSWORD: 422,
    ErrorCode.CONNECTOR_VALIDATION: 422,
    ErrorCode.UNSUPPORTED_FORMAT: 422,
    ErrorCode.CORRUPT_FILE: 422,
    ErrorCode.EMPTY_DOCUMENT: 422,
    ErrorCode.INVALID_RECORD: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.CONVERSATION_LIMIT: 429,
    ErrorCode.KNOWLEDGE_UNAVAILABLE: 503,
    ErrorCode.VECTOR_STORE: 503,
    ErrorCode.LLM_UNAVAILABLE: 503,
    ErrorCode.CONNECTOR: 503,
    ErrorCode.CONNECTOR_AUTH: 503,
    ErrorCode.CONNECTOR_UNAVAILABLE: 503,
    ErrorCode.CONNECTOR_TIMEOUT: 503,
    ErrorCode.CIRCUIT_OPEN: 503,
    ErrorCode.DATABASE_UNAVAILABLE: 503,
}

_CODE_BY_STATUS = {
    400: "bad_request",
    401: str(ErrorCode.AUTH_REQUIRED),
    403: str(ErrorCode.FORBIDDEN),
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: REQUEST_TOO_LARGE,
    415: "unsupported_media_type",
    422: str(ErrorCode.INVALID_INPUT),
    429: str(ErrorCode.RATE_LIMITED),
    503: "unavailable",
}


def status_for(code: str) -> int:
    """The HTTP status of an error code (500 for codes that mean a fault on our side)."""
    return STATUS_BY_CODE.get(str(code), 500)


def error_body(code: str, detail: str, **fields: Any) -> dict[str, Any]:
    """The ``{"code", "detail"}`` body, with optional structured fields."""
    return {"code": str(code), "detail": detail, **fields}


def error_response(
    status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None, **fields: Any
) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(error_body(code, detail, **fields), status_code=status, headers=dict(headers or {}))


def grounddesk_error_response(exc: GrounddeskError) -> JSONResponse:
    """The response for a :class:`GrounddeskError`: fields are shown for client errors, never for our faults."""
    status = status_for(exc.code)
    headers: dict[str, str] = {}
    retry_after = exc.fields.get("retry_after_s") or getattr(exc, "retry_after_s", None)
    if status in (429, 503) and isinstance(retry_after, int | float) and retry_after > 0:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    if status >= 500:
        logger.warning("request failed", extra={"code": str(exc.code), "error": type(exc).__name__})
        detail = exc.detail if status == 503 else "The service had a problem. Please try again."
        return error_response(status, str(exc.code), detail, headers=headers)
    body = exc.to_dict()
    return JSONResponse(body, status_code=status, headers=headers)


def validation_detail(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one sentence, e.g. ``body.text: String should have at most 4000 characters``."""
    parts = []
    for error in errors:
        if not isinstance(error, Mapping):
            parts.append(str(error))
            continue
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",))
        message = str(error.get("msg", "invalid value"))
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "The request is not valid."


def _plain_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        if isinstance(error, Mapping):
            out.append(
                {
                    "loc": [str(p) for p in error.get("loc", ())],
                    "msg": str(error.get("msg", "")),
                    "type": str(error.get("type", "")),
                }
            )
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the ``{"code", "detail"}`` shape."""

    async def on_grounddesk_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GrounddeskError)
        return grounddesk_error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        return error_response(
            422, str(ErrorCode.INVALID_INPUT), validation_detail(errors), errors=_plain_errors(errors)
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _CODE_BY_STATUS.get(exc.status_code, "http_error" if exc.status_code < 500 else "internal_error")
        detail = exc.detail if isinstance(exc.detail, str) else "The request failed."
        return error_response(exc.status_code, code, detail, headers=exc.headers)

    async def on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database refused or dropped the connection (a restart, a failover, a busy SQLite file): transient.
        # Only the driver's message is logged: SQLAlchemy's own text carries the statement's parameters.
        cause = getattr(exc, "orig", None) or exc
        logger.warning(
            "database unavailable",
            extra={"path": request.url.path, "error": type(cause).__name__, "reason": str(cause).strip()[:200]},
        )
        return error_response(
            503,
            str(ErrorCode.DATABASE_UNAVAILABLE),
            "The service cannot reach its database right now. Please try again in a moment.",
            headers={"Retry-After": "1"},
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return error_response(500, str(ErrorCode.INTERNAL), "The service had a problem. Please try again.")

    app.add_exception_handler(GrounddeskError, on_grounddesk_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    for error in _database_unavailable_errors():
        app.add_exception_handler(error, on_database_unavailable)
    app.add_exception_handler(Exception, on_unexpected)


def _database_unavailable_errors() -> tuple[type[Exception], ...]:
    """Errors that mean the SQL store cannot be reached now, as SQLAlchemy and psycopg (checkpoints) raise them."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    found: list[type[Exception]] = [OperationalError, InterfaceError]
    try:
        import psycopg
    except ImportError:  # SQLite only: the postgres extra is not installed
        return tuple(found)
    return (*found, psycopg.OperationalError, psycopg.InterfaceError)
