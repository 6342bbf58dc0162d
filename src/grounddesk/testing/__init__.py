"""Test kits shipped with grounddesk: reference fakes and conformance suites for every seam.

The conformance suites need pytest (the ``dev`` extra). They are imported on first use, so the fakes in this
package stay importable without pytest, and pytest can still rewrite the suites' ``assert`` statements into
readable failure reports.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grounddesk.testing.connectors import CRMConformance, ERPConformance
    from grounddesk.testing.vector_store import Reopen, VectorStoreConformance

__all__ = ["CRMConformance", "ERPConformance", "Reopen", "VectorStoreConformance"]

_SUITES = {
    "Reopen": "grounddesk.testing.vector_store",
    "VectorStoreConformance": "grounddesk.testing.vector_store",
    "CRMConformance": "grounddesk.testing.connectors",
    "ERPConformance": "grounddesk.testing.connectors",
}
#: Modules holding the suites' assertions.
_ASSERTING = (
    "grounddesk.testing.vector_store",
    "grounddesk.testing._vector_store_writes",
    "grounddesk.testing._vector_store_filters",
    "grounddesk.testing.connectors",
    "grounddesk.testing._crm_conformance",
    "grounddesk.testing._erp_conformance",
)


def __getattr__(name: str) -> Any:
    module_name = _SUITES.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    fresh = [module for module in _ASSERTING if module not in sys.modules]
    if fresh:
        import pytest

        pytest.register_assert_rewrite(*fresh)
    return getattr(importlib.import_module(module_name), name)
