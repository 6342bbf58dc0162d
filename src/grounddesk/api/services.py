"""Everything the service needs, built once from :class:`~grounddesk.config.Settings` and closed at shutdown.

:func:`build_services` is what the app's lifespan calls; tests call it with a small embedder and pass the result
to :func:`grounddesk.api.app.create_app`.

Example:
    >>> services = build_services(Settings(home=Path("/tmp/gd")))
    >>> app = create_app(services.settings, services=services)
    >>> ...
    >>> services.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from grounddesk import wiring
from grounddesk.agent.conversation import Agent
from grounddesk.agent.deps import GuardsMessages
from grounddesk.api.auth import AuthSettings, resolve_token_secret
from grounddesk.api.auth_staff import StaffDirectory
from grounddesk.api.auth_tokens import CustomerTokens
from grounddesk.api.settings import ServiceSettings
from grounddesk.audit import AuditSink, AuditTrail
from grounddesk.config import Settings
from grounddesk.connectors.types import CRMConnector, ERPConnector
from grounddesk.db.types import utc_now
from grounddesk.errors import ConfigurationError
from grounddesk.escalation import ConversationStore, EscalationSettings, EventHub, SqlTicketQueue
from grounddesk.knowledge.service import KnowledgeBase
from grounddesk.knowledge.types import Embedder

__all__ = [
    "ConversationLocks",
    "Services",
    "StaffPresence",
    "build_services",
]

logger = logging.getLogger(__name__)


class ConversationLocks:
    """One lock per conversation id, for the agent's graph: a turn and a person's action never interleave.

    Locks are created on first use and dropped when nobody holds or waits for them. Threading locks, because the
    agent runs in worker threads. One process only: several replicas would need a lock in the database.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, conversation_id: str) -> Iterator[None]:
        """Hold the conversation's lock for the ``with`` block (blocks the calling thread while another holds it)."""
        with self._guard:
            lock, users = self._locks.get(conversation_id, (threading.Lock(), 0))
            self._locks[conversation_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[conversation_id]
                if users <= 1:
                    del self._locks[conversation_id]
                else:
                    self._locks[conversation_id] = (lock, users - 1)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


class StaffPresence:
    """How many support agents have the console open (its live socket connected), for availability rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    @contextmanager
    def online(self) -> Iterator[None]:
        """Count one support agent as online for the ``with`` block."""
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1

    @property
    def count(self) -> int:
        """Support agents online now."""
        with self._lock:
            return self._count


@dataclass
class Services:
    """The long-lived objects behind the routes.

    Attributes:
        settings: The configuration they were built from.
        engine: grounddesk's SQL store (migrated).
        agent: The conversation agent.
        knowledge: The knowledge base the agent answers from.
        conversations: Conversations and their numbered events.
        queue: The human queue.
        hub: Live updates for sockets.
        staff: Staff users, sessions and API keys.
        tokens: Customer conversation tokens.
        guard: Masks personal data in what customers write before it is stored.
        crm: The CRM connector, if configured (the customer's tier raises ticket priority).
        erp: The ERP connector, if configured.
        clock: The current moment (tests pass a fake one).
        audit: The audit trail answers, tool calls, ticket actions and knowledge changes go to; None: off.
    """

    settings: Settings
    engine: Engine
    agent: Agent
    knowledge: KnowledgeBase
    conversations: ConversationStore
    queue: SqlTicketQueue
    hub: EventHub
    staff: StaffDirectory
    tokens: CustomerTokens
    guard: GuardsMessages
    crm: CRMConnector | None = None
    erp: ERPConnector | None = None
    clock: Callable[[], datetime] = utc_now
    audit: AuditSink | None = None
    locks: ConversationLocks = field(default_factory=ConversationLocks)
    presence: StaffPresence = field(default_factory=StaffPresence)
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def auth(self) -> AuthSettings:
        """The authentication settings."""
        return self.settings.auth

    @property
    def escalation(self) -> EscalationSettings:
        """The escalation settings."""
        return self.settings.escalation

    @property
    def service(self) -> ServiceSettings:
        """The HTTP service settings."""
        return self.settings.service

    def close(self) -> None:
        """Release everything, newest first. Safe to call twice."""
        while self.closers:
            closer = self.closers.pop()
            try:
                closer()
            except Exception:  # one failing close must not keep the others open
                logger.exception("closing a service failed")


def build_services(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    crm: CRMConnector | None = None,
    erp: ERPConnector | None = None,
    clock: Callable[[], datetime] = utc_now,
    audit: AuditSink | None = None,
) -> Services:
    """Build the service's objects from the configuration.

    Args:
        settings: The configuration.
        embedder: Use this embedder instead of the configured model (tests, benchmarks).
        crm: Use this CRM connector instead of the configured one.
        erp: Use this ERP connector instead of the configured one.
        clock: The current moment, for the stores, tokens and availability rules.
        audit: Use this audit sink; None: the SQL audit trail when ``audit.enabled`` (the default), else none.

    Returns:
        The services; call :meth:`Services.close` when done.

    Raises:
        ConfigurationError: A setting is invalid (e.g. a short token secret).
    """
    from grounddesk.agent.guard import Guard
    from grounddesk.db import create_engine_for, upgrade

    closers: list[Callable[[], None]] = []
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = create_engine_for(settings.database_url(), echo=settings.database.echo)
        closers.append(engine.dispose)
        upgrade(engine)
        if crm is None and erp is None:
            crm, erp, close_connectors = wiring.build_connectors(settings, engine=engine)
            closers.append(close_connectors)
        if audit is None and settings.audit.enabled:
            audit = AuditTrail.from_settings(engine, settings.audit, clock=clock)
        agent, close_agent = wiring.build_agent(settings, embedder=embedder, crm=crm, erp=erp, audit=audit)
        closers.append(close_agent)
        if not isinstance(agent.knowledge, KnowledgeBase):
            raise ConfigurationError("the agent was built without a knowledge base")
        auth = settings.auth
        hub = EventHub()
        return Services(
            settings=settings,
            engine=engine,
            agent=agent,
            knowledge=agent.knowledge,
            conversations=ConversationStore(engine, clock, hub=hub),
            queue=SqlTicketQueue(engine, settings.escalation, clock, hub=hub),
            hub=hub,
            staff=StaffDirectory(engine, auth, clock),
            tokens=CustomerTokens.from_settings(auth, resolve_token_secret(auth, settings.home), clock),
            guard=Guard(settings.guard),
            crm=crm,
            erp=erp,
            clock=clock,
            audit=audit,
            closers=closers,
        )
    except BaseException:
        for closer in reversed(closers):
            closer()
        raise
