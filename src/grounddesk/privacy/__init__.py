"""Erasure and retention: nothing of a customer is kept once they ask, or once it is older than allowed.

- :class:`Eraser`: ``erase(customer_id=... | email=...)`` and ``purge()``, over conversations and their events and
  feedback, tickets, LangGraph checkpoints, the idempotency ledger, audit payloads (tombstones) and knowledge
  corrections drafted from the customer's tickets;
- :class:`CheckpointThreads`: the agent's checkpoints thread by thread (search, age, delete);
- :class:`PrivacySettings`: ``retention_days`` and how tickets are treated.

The CRM and ERP are the company's systems of record and are never changed by an erasure.

Light on purpose: :mod:`grounddesk.config` imports :class:`PrivacySettings`, so the rest loads on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from grounddesk.privacy.types import (
    CRM_NOTE,
    CorrectionStore,
    ErasureReport,
    PrivacySettings,
    PurgeReport,
    StoreCounts,
)

if TYPE_CHECKING:
    from grounddesk.privacy.checkpoints import CheckpointThreads
    from grounddesk.privacy.corrections import KnowledgeCorrections
    from grounddesk.privacy.erasure import Eraser
    from grounddesk.privacy.finder import Subject, find_conversations, resolve_subject

__all__ = [
    "CRM_NOTE",
    "CheckpointThreads",
    "CorrectionStore",
    "Eraser",
    "ErasureReport",
    "KnowledgeCorrections",
    "PrivacySettings",
    "PurgeReport",
    "StoreCounts",
    "Subject",
    "find_conversations",
    "resolve_subject",
]

_LAZY = {
    "CheckpointThreads": "grounddesk.privacy.checkpoints",
    "KnowledgeCorrections": "grounddesk.privacy.corrections",
    "Eraser": "grounddesk.privacy.erasure",
    "Subject": "grounddesk.privacy.finder",
    "find_conversations": "grounddesk.privacy.finder",
    "resolve_subject": "grounddesk.privacy.finder",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)
