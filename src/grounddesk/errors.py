"""The error family shared by every grounddesk component.

Every error carries a stable :class:`ErrorCode` that the CLI prints and the API maps to an HTTP status and a
``{"code", "detail"}`` body. Errors carry fields, not only strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "ConfigurationError",
    "DocumentNotFound",
    "ErrorCode",
    "GrounddeskError",
    "InvalidTransition",
    "KnowledgeBaseError",
    "LoaderError",
    "VectorStoreError",
    "VersionConflict",
]


class ErrorCode(StrEnum):
    """Stable, machine-readable error codes. Never renumber or rename: scripts match on them."""

    CONFIGURATION = "configuration_error"
    MISSING_EXTRA = "missing_extra"
    UNSUPPORTED_FORMAT = "unsupported_format"
    CORRUPT_FILE = "corrupt_file"
    EMPTY_DOCUMENT = "empty_document"
    INVALID_RECORD = "invalid_record"
    FILE_NOT_FOUND = "file_not_found"
    FILE_TOO_LARGE = "file_too_large"
    DOCUMENT_NOT_FOUND = "document_not_found"
    VERSION_NOT_FOUND = "version_not_found"
    INVALID_TRANSITION = "invalid_transition"
    VERSION_CONFLICT = "version_conflict"
    INVALID_INPUT = "invalid_input"
    KNOWLEDGE_UNAVAILABLE = "knowledge_unavailable"
    LLM_UNAVAILABLE = "llm_unavailable"
    VECTOR_STORE = "vector_store_error"
    DATASET = "dataset_error"
    CONNECTOR = "connector_error"
    CONNECTOR_AUTH = "connector_auth_failed"
    CONNECTOR_UNAVAILABLE = "connector_unavailable"
    CONNECTOR_TIMEOUT = "connector_timeout"
    CIRCUIT_OPEN = "circuit_open"
    RECORD_NOT_FOUND = "record_not_found"
    RATE_LIMITED = "rate_limited"
    CONNECTOR_VALIDATION = "connector_validation_failed"
    TOOL_NOT_ALLOWED = "tool_not_allowed"
    AUTH_REQUIRED = "auth_required"
    FORBIDDEN = "forbidden"
    INVALID_CREDENTIALS = "invalid_credentials"
    USER_EXISTS = "user_exists"
    WEAK_PASSWORD = "weak_password"
    INVALID_TOKEN = "invalid_token"
    TICKET_NOT_FOUND = "ticket_not_found"
    TICKET_CONFLICT = "ticket_conflict"
    CONVERSATION_NOT_FOUND = "conversation_not_found"
    CONVERSATION_LIMIT = "conversation_limit"
    MESSAGE_TOO_LONG = "message_too_long"
    TOOL_BUDGET_EXHAUSTED = "tool_budget_exhausted"
    CANARY_LEAK = "canary_leak"
    DATABASE_UNAVAILABLE = "database_unavailable"
    INTERNAL = "internal_error"


class GrounddeskError(Exception):
    """Root of every error grounddesk raises on purpose.

    Args:
        detail: A sentence a person can act on.
        code: The stable code; subclasses set a default.
        **fields: Structured context (paths, ids, versions) kept on ``self.fields``.
    """

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, detail: str, *, code: ErrorCode | None = None, **fields: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        """The ``{"code", "detail"}`` body used by the CLI's JSON output and the API."""
        return {"code": str(self.code), "detail": self.detail, **{k: _plain(v) for k, v in self.fields.items()}}


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None) | list | dict) else str(value)


class ConfigurationError(GrounddeskError):
    """Misuse found while building objects from settings (bad URL, missing optional extra, ...)."""

    code = ErrorCode.CONFIGURATION


class KnowledgeBaseError(GrounddeskError):
    """A runtime failure of the knowledge base."""

    code = ErrorCode.KNOWLEDGE_UNAVAILABLE


class LoaderError(KnowledgeBaseError):
    """A file could not be turned into a document (unsupported, corrupt, empty)."""

    code = ErrorCode.CORRUPT_FILE


class DocumentNotFound(KnowledgeBaseError):
    """No document (or no such version of it) exists."""

    code = ErrorCode.DOCUMENT_NOT_FOUND


class InvalidTransition(KnowledgeBaseError):
    """A status change that the document workflow does not allow (e.g. approving a retired version)."""

    code = ErrorCode.INVALID_TRANSITION


class VersionConflict(KnowledgeBaseError):
    """A version number was taken by a concurrent import, or is not the next one."""

    code = ErrorCode.VERSION_CONFLICT


class VectorStoreError(KnowledgeBaseError):
    """The vector store failed or is unreachable."""

    code = ErrorCode.VECTOR_STORE
