"""The ERP conformance suite run against HttpERP, over real HTTP, against the ERP emulator on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from grounddesk.connectors.erp_http import HttpERP
from grounddesk.connectors.types import ERPConnector
from grounddesk.testing.connectors import ERPConformance
from grounddesk.testing.erp_emulator import ErpEmulator, ErpEmulatorServer


@pytest.fixture(scope="module")
def erp_server() -> Iterator[ErpEmulatorServer]:
    with ErpEmulator().serve() as server:
        yield server


class TestHttpERP(ERPConformance):
    @pytest.fixture
    def erp(self, erp_server: ErpEmulatorServer) -> Iterator[ERPConnector]:
        erp_server.emulator.reset()
        connector = HttpERP(erp_server.erp_settings())
        yield connector
        connector.close()

    def test_idempotent_return_is_created_once_in_the_erp(
        self, erp: ERPConnector, erp_server: ErpEmulatorServer
    ) -> None:
        """Beyond the suite: the repeat is answered by the ERP from its key, not by a second record."""
        from grounddesk.connectors.types import NewReturn

        before = len(erp_server.emulator.returns)
        request = NewReturn(order_id="A1002", customer_id="C-1002", reason="Too big.", skus=("NW-SCK-MERINO",))
        first = erp.create_return(request, idempotency_key="same-key")
        again = erp.create_return(request, idempotency_key="same-key")
        assert again == first
        assert len(erp_server.emulator.returns) == before + 1
        assert erp_server.emulator.calls["create_return"] == 2
