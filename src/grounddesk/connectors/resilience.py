"""Resilience for every CRM/ERP back-end, as wrappers: circuit breaker, read retries, idempotent writes.

:class:`ResilientCRM` and :class:`ResilientERP` implement the connector Protocols around any back-end:

* **Reads** go through the :class:`~grounddesk.connectors.breaker.CircuitBreaker` and are retried by a
  :class:`~grounddesk.connectors.retry.RetryPolicy` (exponential backoff, full jitter, ``Retry-After``).
* **Writes** go through the breaker, are **never** retried, and, when an :class:`IdempotencyLedger` is given,
  are recorded under their idempotency key: the same key and request again returns the stored result without
  calling the back-end (also across restarts and replicas); the same key with another request is refused.
  A concurrent duplicate waits for the first call's result. A key whose call failed may be retried; a key
  left ``pending`` by a process that died mid-call is taken over after ``pending_stale_s`` and the back-end is
  called again *with the same key*, which back-ends that honour keys deduplicate.
* **Timeouts** are not enforced here: the inner connectors apply ``timeout_s`` per HTTP call through their
  clients (httpx / the requests session of simple-salesforce), which cancels the request cleanly instead of
  abandoning a thread. A :class:`~grounddesk.connectors.types.ConnectorTimeout` they raise counts as a failure
  for the breaker and is retried on reads. ``ResilienceSettings.timeout_s`` is the value wiring hands them.

Example:
    >>> ledger = IdempotencyLedger(engine)
    >>> crm = ResilientCRM(DemoCRM.open(path), settings=ResilienceSettings(), ledger=ledger)
    >>> key = idempotency_key(conversation_id, client_message_id, "create_case", {"subject": "Broken"})
    >>> case = crm.create_case(NewCase(customer_id="C-1001", subject="Broken"), idempotency_key=key)
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python

from grounddesk.connectors.breaker import CircuitBreaker, CircuitState
from grounddesk.connectors.ledger import IdempotencyLedger
from grounddesk.connectors.retry import RetryPolicy
from grounddesk.connectors.types import (
    Account,
    Case,
    CaseComment,
    CaseStatus,
    ConnectorHealth,
    ConnectorUnavailable,
    ConnectorValidationError,
    CRMConnector,
    Customer,
    ERPConnector,
    Invoice,
    NewCase,
    NewReturn,
    Order,
    ReturnRequest,
    Shipment,
)
from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = [
    "CircuitBreaker",
    "CircuitState",
    "IdempotencyLedger",
    "ResilienceSettings",
    "ResilientCRM",
    "ResilientERP",
    "RetryPolicy",
    "idempotency_key",
    "request_hash",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_MAX_KEY_LENGTH = 200


class ResilienceSettings(BaseModel):
    """How connectors are protected (nested into ``Settings`` as ``connectors.resilience``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(default=5.0, gt=0, description="Per HTTP call; applied by the inner connectors")
    read_retries: int = Field(default=2, ge=0, description="Extra attempts of a failed read")
    backoff_base_s: float = Field(default=0.2, ge=0, description="Backoff ceiling of the first retry")
    backoff_max_s: float = Field(default=2.0, ge=0, description="Largest backoff ceiling")
    jitter: Literal["full", "none"] = Field(default="full", description="Full jitter: wait uniform in [0, ceiling]")
    breaker_failures: int = Field(default=5, ge=1, description="Consecutive failures that open the circuit")
    breaker_reset_s: float = Field(default=30.0, gt=0, description="How long the circuit stays open before a probe")
    max_retry_after_s: float = Field(default=5.0, ge=0, description="Longest Retry-After a read waits for")
    pending_wait_s: float = Field(default=10.0, ge=0, description="How long a duplicate write waits for the first")
    pending_poll_s: float = Field(default=0.1, gt=0, description="How often a waiting duplicate checks the ledger")
    pending_stale_s: float = Field(default=60.0, gt=0, description="Age after which a pending write is taken over")


def _canonical_json(value: Any) -> str:
    return json.dumps(to_jsonable_python(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def idempotency_key(conversation_id: str, client_message_id: str, tool: str, args: Mapping[str, Any]) -> str:
    """A stable key for one tool call of one customer message.

    A turn delivered twice (same conversation and client message id) that makes the same call gets the same
    key, so the write happens once. Argument order and value types that serialise alike (tuple/list) do not
    change the key.

    Args:
        conversation_id: The conversation (LangGraph thread id).
        client_message_id: The id the widget gave the customer's message.
        tool: The tool or operation name.
        args: The call's arguments (JSON-able, pydantic models, Decimals, dates allowed).

    Returns:
        64 lowercase hex digits (SHA-256).
    """
    payload = _canonical_json(
        {"conversation": conversation_id, "message": client_message_id, "tool": tool, "args": args}
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def request_hash(connector: str, operation: str, request: Mapping[str, Any]) -> str:
    """The fingerprint of a write stored with its key: a key reused for another request is refused.

    Args:
        connector: The connector's name.
        operation: The write.
        request: Its arguments.

    Returns:
        64 lowercase hex digits (SHA-256).
    """
    payload = _canonical_json({"connector": connector, "operation": operation, "request": request})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class _Guard:
    """The behaviour both wrappers share."""

    def __init__(
        self,
        name: str,
        *,
        settings: ResilienceSettings,
        ledger: IdempotencyLedger | None,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        rng: Callable[[], float],
        breaker: CircuitBreaker | None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.ledger = ledger
        self.clock = clock
        self.sleep = sleep
        self.breaker = breaker or CircuitBreaker(
            name, failure_threshold=settings.breaker_failures, reset_s=settings.breaker_reset_s, clock=clock
        )
        self.retry = RetryPolicy(
            retries=settings.read_retries,
            base_s=settings.backoff_base_s,
            max_s=settings.backoff_max_s,
            max_retry_after_s=settings.max_retry_after_s,
            jitter=settings.jitter,
            sleep=sleep,
            rng=rng,
        )

    def read(self, operation: str, fn: Callable[[], T]) -> T:
        return self.retry.run(lambda: self.breaker.call(fn), operation=operation)

    def write(self, operation: str, key: str, request: Mapping[str, Any], model: type[M], fn: Callable[[], M]) -> M:
        if not key or len(key) > _MAX_KEY_LENGTH:
            raise ConnectorValidationError(
                f"An idempotency key must have 1 to {_MAX_KEY_LENGTH} characters",
                connector=self.name,
                operation=operation,
            )
        if self.ledger is None:
            return self.breaker.call(fn)
        fingerprint = request_hash(self.name, operation, request)
        deadline = self.clock() + self.settings.pending_wait_s
        while True:
            claim = self.ledger.claim(
                key,
                connector=self.name,
                operation=operation,
                request_hash=fingerprint,
                stale_after_s=self.settings.pending_stale_s,
            )
            entry = claim.entry
            if entry.request_hash != fingerprint:
                raise ConnectorValidationError(
                    "idempotency key reused with a different request",
                    connector=self.name,
                    operation=operation,
                    idempotency_key=key,
                    first_operation=entry.operation,
                )
            if claim.acquired:
                return self._call_and_record(self.ledger, key, fn)
            if entry.status == "done":
                logger.info(
                    "duplicate write answered from the ledger",
                    extra={"connector": self.name, "operation": operation, "idempotency_key": key},
                )
                return model.model_validate(entry.result)
            # Pending: the same write is in flight in another thread or replica; wait for its outcome.
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise ConnectorUnavailable(
                    "The same request is still being processed; try again shortly",
                    connector=self.name,
                    retry_after_s=self.settings.pending_poll_s,
                    operation=operation,
                    idempotency_key=key,
                )
            self.sleep(min(self.settings.pending_poll_s, remaining))

    def _call_and_record(self, ledger: IdempotencyLedger, key: str, fn: Callable[[], M]) -> M:
        try:
            result = self.breaker.call(fn)
        except GrounddeskError as error:
            ledger.fail(key, str(error.code))
            raise
        except BaseException:
            ledger.fail(key, str(ErrorCode.INTERNAL))
            raise
        ledger.complete(key, result.model_dump(mode="json"))
        return result

    def health(self, health: Callable[[], ConnectorHealth], kind: Literal["crm", "erp"]) -> ConnectorHealth:
        try:
            report = health()
        except Exception as error:  # the Protocol says health() never raises; keep that promise for it
            report = ConnectorHealth(name=self.name, kind=kind, ok=False, detail=f"{type(error).__name__}: {error}")
        return report.model_copy(update={"circuit": self.breaker.state})


class ResilientCRM:
    """A :class:`~grounddesk.connectors.types.CRMConnector` with a breaker, read retries and idempotent writes.

    Args:
        inner: The back-end.
        settings: Retry, breaker and ledger-wait settings.
        ledger: Records writes by idempotency key; None relies on the back-end honouring keys.
        clock: Monotonic seconds (breaker, waits).
        sleep: Sleeps between retries and while a duplicate write waits.
        rng: Uniform floats in ``[0, 1)`` for jitter.
        breaker: A breaker to share (e.g. by every wrapper of one back-end); by default one of its own.

    Example:
        >>> crm = ResilientCRM(SalesforceCRM(...), ledger=IdempotencyLedger(engine))
        >>> crm.health().circuit
        'closed'
    """

    def __init__(
        self,
        inner: CRMConnector,
        *,
        settings: ResilienceSettings | None = None,
        ledger: IdempotencyLedger | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._guard = _Guard(
            inner.name,
            settings=settings or ResilienceSettings(),
            ledger=ledger,
            clock=clock,
            sleep=sleep,
            rng=rng,
            breaker=breaker,
        )

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker guarding the back-end."""
        return self._guard.breaker

    def find_customer(
        self, *, email: str | None = None, phone: str | None = None, customer_id: str | None = None
    ) -> Customer | None:
        """See :meth:`CRMConnector.find_customer`."""
        return self._guard.read(
            "find_customer", lambda: self.inner.find_customer(email=email, phone=phone, customer_id=customer_id)
        )

    def get_account(self, account_id: str) -> Account:
        """See :meth:`CRMConnector.get_account`."""
        return self._guard.read("get_account", lambda: self.inner.get_account(account_id))

    def list_cases(
        self, customer_id: str, *, statuses: Sequence[CaseStatus] | None = None, limit: int = 20
    ) -> list[Case]:
        """See :meth:`CRMConnector.list_cases`."""
        return self._guard.read(
            "list_cases", lambda: self.inner.list_cases(customer_id, statuses=statuses, limit=limit)
        )

    def get_case(self, number: str) -> Case:
        """See :meth:`CRMConnector.get_case`."""
        return self._guard.read("get_case", lambda: self.inner.get_case(number))

    def create_case(self, case: NewCase, *, idempotency_key: str) -> Case:
        """See :meth:`CRMConnector.create_case`; never retried, recorded in the ledger."""
        return self._guard.write(
            "create_case",
            idempotency_key,
            {"case": case},
            Case,
            lambda: self.inner.create_case(case, idempotency_key=idempotency_key),
        )

    def add_case_comment(self, number: str, body: str, *, idempotency_key: str, public: bool = True) -> CaseComment:
        """See :meth:`CRMConnector.add_case_comment`; never retried, recorded in the ledger."""
        return self._guard.write(
            "add_case_comment",
            idempotency_key,
            {"number": number, "body": body, "public": public},
            CaseComment,
            lambda: self.inner.add_case_comment(number, body, idempotency_key=idempotency_key, public=public),
        )

    def update_case_status(self, number: str, status: CaseStatus, *, idempotency_key: str) -> Case:
        """See :meth:`CRMConnector.update_case_status`; never retried, recorded in the ledger."""
        return self._guard.write(
            "update_case_status",
            idempotency_key,
            {"number": number, "status": status},
            Case,
            lambda: self.inner.update_case_status(number, status, idempotency_key=idempotency_key),
        )

    def health(self) -> ConnectorHealth:
        """The inner connector's health, with this wrapper's circuit state."""
        return self._guard.health(self.inner.health, "crm")

    def close(self) -> None:
        """Close the inner connector."""
        self.inner.close()


class ResilientERP:
    """An :class:`~grounddesk.connectors.types.ERPConnector` with a breaker, read retries and idempotent writes.

    Args:
        inner: The back-end.
        settings: Retry, breaker and ledger-wait settings.
        ledger: Records writes by idempotency key; None relies on the back-end honouring keys.
        clock: Monotonic seconds (breaker, waits).
        sleep: Sleeps between retries and while a duplicate write waits.
        rng: Uniform floats in ``[0, 1)`` for jitter.
        breaker: A breaker to share; by default one of its own.

    Example:
        >>> erp = ResilientERP(RestERP(...), ledger=IdempotencyLedger(engine))
        >>> erp.get_order("A1001").status
        <OrderStatus.SHIPPED: 'shipped'>
    """

    def __init__(
        self,
        inner: ERPConnector,
        *,
        settings: ResilienceSettings | None = None,
        ledger: IdempotencyLedger | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._guard = _Guard(
            inner.name,
            settings=settings or ResilienceSettings(),
            ledger=ledger,
            clock=clock,
            sleep=sleep,
            rng=rng,
            breaker=breaker,
        )

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker guarding the back-end."""
        return self._guard.breaker

    def get_order(self, order_id: str) -> Order:
        """See :meth:`ERPConnector.get_order`."""
        return self._guard.read("get_order", lambda: self.inner.get_order(order_id))

    def list_orders(self, customer_id: str, *, limit: int = 20) -> list[Order]:
        """See :meth:`ERPConnector.list_orders`."""
        return self._guard.read("list_orders", lambda: self.inner.list_orders(customer_id, limit=limit))

    def track_shipment(self, order_id: str) -> list[Shipment]:
        """See :meth:`ERPConnector.track_shipment`."""
        return self._guard.read("track_shipment", lambda: self.inner.track_shipment(order_id))

    def get_invoice(self, order_id: str) -> Invoice:
        """See :meth:`ERPConnector.get_invoice`."""
        return self._guard.read("get_invoice", lambda: self.inner.get_invoice(order_id))

    def create_return(self, request: NewReturn, *, idempotency_key: str) -> ReturnRequest:
        """See :meth:`ERPConnector.create_return`; never retried, recorded in the ledger."""
        return self._guard.write(
            "create_return",
            idempotency_key,
            {"request": request},
            ReturnRequest,
            lambda: self.inner.create_return(request, idempotency_key=idempotency_key),
        )

    def health(self) -> ConnectorHealth:
        """The inner connector's health, with this wrapper's circuit state."""
        return self._guard.health(self.inner.health, "erp")

    def close(self) -> None:
        """Close the inner connector."""
        self.inner.close()
