"""CRM and ERP back-ends behind Protocols: Salesforce, REST ERP and the SQLite demo.

The Protocols, records and errors are in :mod:`grounddesk.connectors.types`; every back-end is wrapped by
:class:`ResilientCRM` / :class:`ResilientERP` (timeouts, retries of reads, a circuit breaker, an idempotency
ledger for writes). Salesforce (:mod:`grounddesk.connectors.salesforce`) and the REST ERP
(:mod:`grounddesk.connectors.erp_http`) are imported from their modules.
"""

from typing import Any

from grounddesk.connectors.ledger import IdempotencyLedger
from grounddesk.connectors.resilience import (
    CircuitBreaker,
    ResilienceSettings,
    ResilientCRM,
    ResilientERP,
    RetryPolicy,
    idempotency_key,
)
from grounddesk.connectors.types import (
    Account,
    ApiUsage,
    Case,
    CaseComment,
    CaseStatus,
    CircuitOpen,
    ConnectorAuthError,
    ConnectorError,
    ConnectorHealth,
    ConnectorTimeout,
    ConnectorUnavailable,
    ConnectorValidationError,
    CRMConnector,
    Customer,
    CustomerTier,
    ERPConnector,
    Invoice,
    NewCase,
    NewReturn,
    Order,
    OrderStatus,
    RateLimited,
    RecordNotFound,
    ReturnRequest,
    Shipment,
)

__all__ = [
    "Account",
    "ApiUsage",
    "CRMConnector",
    "Case",
    "CaseComment",
    "CaseStatus",
    "CircuitBreaker",
    "CircuitOpen",
    "ConnectorAuthError",
    "ConnectorError",
    "ConnectorHealth",
    "ConnectorTimeout",
    "ConnectorUnavailable",
    "ConnectorValidationError",
    "Customer",
    "CustomerTier",
    "DemoBackend",
    "DemoCRM",
    "DemoERP",
    "ERPConnector",
    "IdempotencyLedger",
    "Invoice",
    "NewCase",
    "NewReturn",
    "Order",
    "OrderStatus",
    "RateLimited",
    "RecordNotFound",
    "ResilienceSettings",
    "ResilientCRM",
    "ResilientERP",
    "ReturnRequest",
    "RetryPolicy",
    "Shipment",
    "idempotency_key",
]


def __getattr__(name: str) -> Any:
    """The demo back-end loads on first use: it imports the seed data, which imports the records above."""
    if name in ("DemoBackend", "DemoCRM", "DemoERP"):
        from grounddesk.connectors import demo

        return getattr(demo, name)
    raise AttributeError(name)
