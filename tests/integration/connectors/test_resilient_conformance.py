"""The resilient wrappers keep the connector contract: the demo back-ends, wrapped with a ledger, pass the suites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from grounddesk.connectors.demo import DemoBackend, DemoCRM, DemoERP
from grounddesk.connectors.ledger import IdempotencyLedger
from grounddesk.connectors.resilience import ResilientCRM, ResilientERP
from grounddesk.connectors.types import CRMConnector, ERPConnector
from grounddesk.db import create_engine_for, upgrade
from grounddesk.testing import CRMConformance, ERPConformance


@pytest.fixture
def backend_path(tmp_path: Path) -> Path:
    path = tmp_path / "backend" / "demo_backend.sqlite"
    assert DemoBackend.create(path)
    return path


@pytest.fixture
def ledger_engine(sql_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sql_url)
    upgrade(engine)
    yield engine
    engine.dispose()


class TestResilientDemoCRM(CRMConformance):
    @pytest.fixture
    def crm(self, backend_path: Path, ledger_engine: Engine) -> Iterator[CRMConnector]:
        connector = ResilientCRM(DemoCRM(backend_path), ledger=IdempotencyLedger(ledger_engine))
        yield connector
        connector.close()


class TestResilientDemoERP(ERPConformance):
    @pytest.fixture
    def erp(self, backend_path: Path, ledger_engine: Engine) -> Iterator[ERPConnector]:
        connector = ResilientERP(DemoERP(backend_path), ledger=IdempotencyLedger(ledger_engine))
        yield connector
        connector.close()
