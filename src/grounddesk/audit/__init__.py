"""The audit trail: append-only, hash-chained events of what the agent, tools and people did.

- :class:`AuditTrail`: the events in grounddesk's SQL store; ``verify()`` finds edited, inserted or deleted
  events; ``tombstone()`` erases a customer's personal data from it without breaking the chain;
- :func:`audit_scope`: who acts on which conversation, for hooks deep in the call stack;
- :mod:`~grounddesk.audit.hooks`: the adapters the agent, toolbox, service and knowledge base call.
"""

from grounddesk.audit.chain import GENESIS_HASH
from grounddesk.audit.context import AuditScope, audit_scope, current_scope
from grounddesk.audit.hooks import answer_payload, safe_record, text_digest, tool_call_recorder
from grounddesk.audit.tables import audit_events, audit_head
from grounddesk.audit.trail import AuditTrail
from grounddesk.audit.types import (
    TOMBSTONE_KEY,
    AuditEvent,
    AuditKind,
    AuditSettings,
    AuditSink,
    VerifyProblem,
    VerifyReport,
)

__all__ = [
    "GENESIS_HASH",
    "TOMBSTONE_KEY",
    "AuditEvent",
    "AuditKind",
    "AuditScope",
    "AuditSettings",
    "AuditSink",
    "AuditTrail",
    "VerifyProblem",
    "VerifyReport",
    "answer_payload",
    "audit_events",
    "audit_head",
    "audit_scope",
    "current_scope",
    "safe_record",
    "text_digest",
    "tool_call_recorder",
]
