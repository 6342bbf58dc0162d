"""The conformance suites every CRM and ERP connector must pass.

Subclass a suite in a test module and provide its fixture; every test then runs against that back-end (the
pattern of Haystack's document-store test mixins)::

    class TestMyCRM(CRMConformance):
        @pytest.fixture
        def crm(self, tmp_path: Path) -> Iterator[CRMConnector]:
            connector = MyCRM.loaded_with(generate_seed())
            yield connector
            connector.close()

    class TestMyERP(ERPConformance):
        @pytest.fixture
        def erp(self, tmp_path: Path) -> Iterator[ERPConnector]:
            ...

Contract of the fixtures: ``crm`` / ``erp`` return a connector holding the records of
:func:`grounddesk.demo.seed.generate_seed` with its defaults. A fresh back-end per test is best; a shared one
works too, because writes act only for customer ``C-1003`` (cases) and on order ``A1002`` (returns), on records
the tests create, and never on what the read tests look at.

What the suites pin down: lookups by email (case-insensitive), phone and number, ``None`` for no match;
``RecordNotFound`` with ``kind`` (``account``, ``case``, ``order``; ``order`` or ``invoice`` for invoices) and
``key`` for missing records; newest-first lists with ``limit`` and status filters; comments oldest first;
idempotent writes (the same key twice gives the first result and writes once); validation errors for bad
writes; ``health()`` ok with the right ``kind``; the runtime-checkable Protocols. Values are compared with the
seed records, leaving out what only the back-end decides (``record_id``, comment ids, case timestamps).
"""

from __future__ import annotations

from grounddesk.testing._crm_conformance import CRMConformance
from grounddesk.testing._erp_conformance import ERPConformance

__all__ = ["CRMConformance", "ERPConformance"]
