"""The demo CRM and ERP pass the connector conformance suites, each test on a fresh SQLite back-end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grounddesk.connectors.demo import DemoBackend, DemoCRM, DemoERP
from grounddesk.connectors.types import CRMConnector, ERPConnector
from grounddesk.testing import CRMConformance, ERPConformance


@pytest.fixture
def backend_path(tmp_path: Path) -> Path:
    path = tmp_path / "backend" / "demo_backend.sqlite"
    assert DemoBackend.create(path)
    return path


class TestDemoCRM(CRMConformance):
    @pytest.fixture
    def crm(self, backend_path: Path) -> Iterator[CRMConnector]:
        connector = DemoCRM(backend_path)
        yield connector
        connector.close()


class TestDemoERP(ERPConformance):
    @pytest.fixture
    def erp(self, backend_path: Path) -> Iterator[ERPConnector]:
        connector = DemoERP(backend_path)
        yield connector
        connector.close()
