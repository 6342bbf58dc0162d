"""The audit scope: who is acting and on which conversation, for hooks deep in the call stack.

A tool call is recorded by the toolbox's ``on_call`` hook, which knows the tool and the customer but not the
conversation; the agent's turn opens a scope with the conversation id, and the hook reads it. A context variable,
so it follows the turn into LangGraph's worker threads (which copy the context) and never leaks between turns.

Example:
    >>> with audit_scope(conversation_id="c1", subject="C-1001", actor="bot"):
    ...     current_scope().conversation_id
    'c1'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

__all__ = ["AuditScope", "audit_scope", "current_scope"]


@dataclass(frozen=True)
class AuditScope:
    """Defaults for events recorded inside an :func:`audit_scope`."""

    conversation_id: str | None = None
    subject: str | None = None
    actor: str | None = None


_SCOPE: ContextVar[AuditScope] = ContextVar("grounddesk_audit_scope", default=AuditScope())  # noqa: B039 (frozen)


def current_scope() -> AuditScope:
    """The innermost scope (empty outside any)."""
    return _SCOPE.get()


@contextmanager
def audit_scope(
    *, conversation_id: str | None = None, subject: str | None = None, actor: str | None = None
) -> Iterator[AuditScope]:
    """Open a scope; values left None are inherited from the enclosing scope.

    Args:
        conversation_id: The conversation the work is for.
        subject: The verified customer the work is about.
        actor: Who acts (``bot``, a staff username, ``cli``).
    """
    outer = _SCOPE.get()
    changes = {
        name: value
        for name, value in (("conversation_id", conversation_id), ("subject", subject), ("actor", actor))
        if value is not None
    }
    scope = replace(outer, **changes)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)
