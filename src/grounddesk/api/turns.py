"""A customer message, from its arrival to the bot's reply or the human queue.

1. The message is masked and stored as a ``customer_message`` event (idempotent by ``client_message_id``: a re-send
   returns the stored seq). Stores for one conversation take turns, so seqs follow arrival.
2. A per-conversation worker runs the turns in that order. The agent is synchronous: each turn runs in a thread of
   the service's own small turn pool (``service.turn_workers``), holding the conversation's lock so that a
   support agent's action never interleaves with it. Turns are CPU work under one interpreter lock: a few
   threads finish them as fast as many would, and a burst of turns queues there instead of taking every thread
   the HTTP handlers need (a new conversation then waited seconds behind the turns).
3. The outcome becomes events: ``token`` pieces then ``answer``/``clarify``; or ``handoff`` plus a ticket in the
   queue (and ``no_agent`` when nobody can take it now); or, while a person owns the conversation, nothing for the
   customer: the message is added to the ticket and pushed to the console.

Events reach sockets through the :class:`~grounddesk.escalation.EventHub`; the database stays the source of truth.

A re-send finishes what a crash cut short, and never runs a turn twice. The process may die (``kill -9``) at any
point between storing a message and storing its reply, and the widget re-sends every message it has no reply to,
with the same ``client_message_id``. A re-sent message that already has its reply (or, while a person owns the
conversation, is already on the ticket) changes nothing. Otherwise, if its turn ran (the agent's checkpoint keeps
each client message id's result), the stored result is delivered: the reply, or the ticket and the hand-off (the
ticket is opened before the hand-off event, so a hand-off the customer saw always has its ticket). If its turn never
ran, it runs now.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from grounddesk.agent.conversation import TurnResult
from grounddesk.agent.nodes import compute_slot, network_wait
from grounddesk.agent.types import ConversationContext
from grounddesk.api.auth_tokens import CustomerClaims
from grounddesk.api.events import api_citations, confidence_label, live_event, word_chunks
from grounddesk.api.services import Services
from grounddesk.api.sweeper import show_contact_offer
from grounddesk.audit import AuditKind, safe_record
from grounddesk.connectors.types import ConnectorError
from grounddesk.db.unit import unit_of_work
from grounddesk.escalation import (
    TICKETS_CHANNEL,
    ConversationEvent,
    ConversationEventKind,
    ConversationMode,
    ConversationNotFound,
    PendingAction,
    Ticket,
    TicketEventKind,
    agents_available,
    conversation_channel,
    open_ticket_for,
)

__all__ = ["Accepted", "ChatService"]

logger = logging.getLogger(__name__)

_ERROR_TEXT = "Sorry, something went wrong on our side. Please send your message again in a moment."
#: Words per streamed ``token`` event. The extractive answer exists whole before it streams, so smaller pieces
#: only cost the event loop a frame each (under 50 customers, 3-word pieces kept the loop ~80 % busy).
_STREAM_WORDS = 8
#: Events that answer a customer message (the error note of a failed turn does not: a re-send runs the turn).
_REPLIES = frozenset({ConversationEventKind.ANSWER, ConversationEventKind.CLARIFY, ConversationEventKind.HANDOFF})


@dataclass(frozen=True)
class Accepted:
    """What storing a customer message gave: its seq, and whether it had been stored before."""

    seq: int
    duplicate: bool


@dataclass(frozen=True)
class _Job:
    claims: CustomerClaims
    client_message_id: str
    text: str
    masked: str
    seq: int
    resent: bool = False


class ChatService:
    """Accepts customer messages and runs their turns, in order, per conversation.

    Args:
        services: The service's objects.
    """

    def __init__(self, services: Services, *, turn_workers: int = 4) -> None:
        self.services = services
        self._turn_pool = ThreadPoolExecutor(max_workers=turn_workers, thread_name_prefix="grounddesk-turn")
        self._store_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._queues: dict[str, asyncio.Queue[_Job]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        # (conversation id, client message id) of queued or running jobs: a re-send of one of them adds nothing.
        self._pending: set[tuple[str, str]] = set()

    async def accept(self, claims: CustomerClaims, client_message_id: str, text: str) -> Accepted:
        """Store a customer message and queue its turn (not waiting for the turn).

        A re-sent ``client_message_id`` is stored once; it queues a job only when its reply is missing (the
        process died before giving it) and no job for it is queued already. That job delivers the stored outcome
        of the turn, or runs the turn if it never ran (see the module docstring).

        Raises:
            ConversationNotFound: The conversation does not exist.
        """
        conversation_id = claims.conversation_id
        key = (conversation_id, client_message_id)
        async with self._store_lock(conversation_id):
            event = await run_in_threadpool(self._store, conversation_id, client_message_id, text)
            queue_it = not event.duplicate or (
                key not in self._pending
                and await run_in_threadpool(self._unanswered, conversation_id, client_message_id)
            )
            if queue_it:
                self._pending.add(key)
                job = _Job(claims, client_message_id, text, event.text, event.seq, resent=event.duplicate)
                self._enqueue(conversation_id, job)
        return Accepted(seq=event.seq, duplicate=event.duplicate)

    async def drain(self, timeout_s: float) -> None:
        """Wait for queued turns to finish (at shutdown); cancel what is still running after ``timeout_s``."""
        if self._workers:
            _done, pending = await asyncio.wait(set(self._workers), timeout=timeout_s)
            for task in pending:
                task.cancel()
        self._turn_pool.shutdown(wait=False, cancel_futures=True)

    # -- storing -----------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _store_lock(self, conversation_id: str) -> AsyncIterator[None]:
        lock, users = self._store_locks.get(conversation_id, (asyncio.Lock(), 0))
        self._store_locks[conversation_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._store_locks[conversation_id]
            if users <= 1:
                del self._store_locks[conversation_id]
            else:
                self._store_locks[conversation_id] = (lock, users - 1)

    def _unanswered(self, conversation_id: str, client_message_id: str) -> bool:
        return self.services.conversations.find_reply(conversation_id, client_message_id, _REPLIES) is None

    def _store(self, conversation_id: str, client_message_id: str, text: str) -> ConversationEvent:
        masked = self.services.guard.inspect(text).masked_text
        return self.services.conversations.append(
            conversation_id,
            ConversationEventKind.CUSTOMER_MESSAGE,
            masked,
            author="customer",
            client_message_id=client_message_id,
        )

    # -- the per-conversation worker ---------------------------------------------------------------------------

    def _enqueue(self, conversation_id: str, job: _Job) -> None:
        queue = self._queues.get(conversation_id)
        if queue is None:
            queue = asyncio.Queue()
            self._queues[conversation_id] = queue
            task = asyncio.get_running_loop().create_task(self._work(conversation_id, queue))
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)
        queue.put_nowait(job)

    async def _work(self, conversation_id: str, queue: asyncio.Queue[_Job]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not queue.empty():
                job = queue.get_nowait()
                try:
                    context = contextvars.copy_context()
                    await loop.run_in_executor(self._turn_pool, context.run, self._run_turn, job)
                except Exception:
                    logger.exception("turn failed", extra={"conversation_id": conversation_id})
                finally:
                    self._pending.discard((conversation_id, job.client_message_id))
        finally:
            # Nothing awaits between the empty check and this removal, so no job can be left behind.
            if self._queues.get(conversation_id) is queue:
                del self._queues[conversation_id]

    # -- one turn (worker thread) ------------------------------------------------------------------------------

    def _run_turn(self, job: _Job) -> None:
        services = self.services
        conversation_id = job.claims.conversation_id
        context = ConversationContext(
            customer_id=job.claims.customer_id,
            verified=job.claims.verified,
            audiences=tuple(job.claims.audiences),
            channel="web",
        )
        # The conversation's lock first, then the compute queue (every path takes them in this order). Holding the
        # queue for the whole turn runs turns one after another rather than all at once, each slower: the p95 turn
        # under load fell by a fifth. Waits on a network (tools, an LLM, the CRM) step out of it.
        with services.locks.hold(conversation_id), compute_slot():
            if not self._exists(conversation_id):  # erased while the turn waited: nothing to answer or to store
                return
            try:
                if job.resent and self._recover(job):
                    return
                result = services.agent.turn(
                    conversation_id, job.text, context=context, client_message_id=job.client_message_id
                )
                self._handle(job, result)
            except Exception:
                logger.exception("a turn failed", extra={"conversation_id": conversation_id})
                self._append(job, ConversationEventKind.SYSTEM, _ERROR_TEXT, {"type": "error"})

    def _recover(self, job: _Job) -> bool:
        """Finish a re-sent message's work that a crash cut short; False when its turn never ran (run it now).

        Runs under the conversation's lock, so nothing else changes the conversation meanwhile.
        """
        services = self.services
        conversation_id = job.claims.conversation_id
        if not self._unanswered(conversation_id, job.client_message_id):
            return True
        results = services.agent.state(conversation_id).get("results") or {}
        earlier = results.get(job.client_message_id)
        if earlier is not None:
            logger.info(
                "delivering the stored outcome of a turn whose reply was lost",
                extra={"conversation_id": conversation_id, "decision": earlier.get("decision")},
            )
            update = {"conversation_id": conversation_id, "duplicate": True}
            self._handle(job, TurnResult.model_validate({**earlier, **update}))
            return True
        return self._on_ticket(job)

    def _on_ticket(self, job: _Job) -> bool:
        """Whether the message was already forwarded to the conversation's active ticket."""
        queue = self.services.queue
        ticket = queue.active_for_conversation(job.claims.conversation_id)
        if ticket is None:
            return False
        return any(
            event.kind is TicketEventKind.CUSTOMER_MESSAGE and event.data.get("seq") == job.seq
            for event in queue.events(ticket.id)
        )

    def _handle(self, job: _Job, result: TurnResult) -> None:
        if result.decision == "forwarded":
            self._forward(job)
        elif result.decision == "escalate":
            self._escalate(job, result)
        else:
            self._reply(job, result, stream=not result.duplicate)

    def _append(self, job: _Job, kind: ConversationEventKind, text: str, payload: dict[str, Any]) -> None:
        self.services.conversations.append(
            job.claims.conversation_id,
            kind,
            text,
            author="bot",
            payload=payload,
            reply_to=job.client_message_id,
        )

    def _reply(self, job: _Job, result: TurnResult, *, stream: bool) -> None:
        text = result.answer or ""
        if stream:
            channel = conversation_channel(job.claims.conversation_id)
            for piece in word_chunks(text, _STREAM_WORDS):
                self.services.hub.publish(channel, live_event("token", piece, reply_to=job.client_message_id))
        kind = ConversationEventKind.CLARIFY if result.decision == "clarify" else ConversationEventKind.ANSWER
        payload = {
            "decision": result.decision,
            "citations": api_citations(result.citations),
            "confidence": result.confidence,
            "confidence_label": confidence_label(result.confidence),
            "reasons": list(result.reasons),
        }
        self._append(job, kind, text, payload)

    def _escalate(self, job: _Job, result: TurnResult) -> None:
        services = self.services
        conversation_id = job.claims.conversation_id
        payload = {
            "decision": "escalate",
            "reason": result.escalation_reason,
            "confidence": result.confidence,
            "confidence_label": confidence_label(result.confidence),
            "reasons": list(result.reasons),
        }
        escalation = result.escalation or services.agent.pending_escalation(conversation_id) or {}
        tier = self._tier(_customer_id(job, escalation))  # the CRM, before the transaction
        # One transaction: the ticket, the conversation's mode, the hand-off message and the contact offer are
        # stored together or not at all (a re-sent message after a crash finds nothing half done), and the
        # customer and the consoles hear of them once they are committed.
        with unit_of_work(services.engine):
            ticket = self._open_ticket(job, escalation, tier)
            services.conversations.set_mode(conversation_id, ConversationMode.PENDING_HUMAN)
            self._append(job, ConversationEventKind.HANDOFF, result.answer or "", payload)
            if ticket.contact_offered_at is None and not agents_available(
                services.clock(), services.escalation, services.presence.count
            ):
                show_contact_offer(services, ticket, reply_to=job.client_message_id)
        self._audit_opened(job, ticket)
        logger.info(
            "conversation escalated",
            extra={"conversation_id": conversation_id, "ticket_id": ticket.id, "reason": ticket.reason},
        )

    def _open_ticket(self, job: _Job, escalation: dict[str, Any], tier: str) -> Ticket:
        return open_ticket_for(
            self.services.queue,
            job.claims.conversation_id,
            escalation or {"reason": "needs_human"},
            customer_id=_customer_id(job, escalation),
            tier=tier,
            pending_action=_pending_action(escalation.get("pending_action")),
        )

    def _audit_opened(self, job: _Job, ticket: Ticket) -> None:
        audited = {"ticket_id": ticket.id, "reason": ticket.reason, "priority": ticket.priority.value}
        if ticket.pending_action is not None:
            audited["pending_action"] = ticket.pending_action.tool
        safe_record(
            self.services.audit,
            AuditKind.TICKET_OPENED,
            audited,
            actor="bot",
            subject=ticket.customer_id or None,
            conversation_id=job.claims.conversation_id,
        )

    def _exists(self, conversation_id: str) -> bool:
        try:
            self.services.conversations.get(conversation_id)
        except ConversationNotFound:
            return False
        return True

    def _tier(self, customer_id: str | None) -> str:
        crm = self.services.crm
        if crm is None or not customer_id:
            return "standard"
        try:
            with network_wait():
                customer = crm.find_customer(customer_id=customer_id)
        except ConnectorError:
            logger.warning("customer tier unavailable: CRM failed", extra={"customer_id": customer_id})
            return "standard"
        return customer.tier.value if customer is not None else "standard"

    def _forward(self, job: _Job) -> None:
        """A person owns the conversation: the message goes to the ticket and the console, the bot stays silent."""
        services = self.services
        conversation_id = job.claims.conversation_id
        ticket = services.queue.active_for_conversation(conversation_id)
        if ticket is None:
            # The conversation is still with people but its ticket was closed: open a new one, so nothing is lost.
            escalation = services.agent.pending_escalation(conversation_id) or {}
            ticket = self._open_ticket(job, escalation, self._tier(_customer_id(job, escalation)))
            self._audit_opened(job, ticket)
        services.queue.record_customer_message(ticket.id, job.masked, seq=job.seq)
        services.hub.publish(
            TICKETS_CHANNEL,
            {
                "type": "customer_message",
                "ticket_id": ticket.id,
                "conversation_id": conversation_id,
                "text": job.masked,
            },
        )


def _customer_id(job: _Job, escalation: dict[str, Any]) -> str | None:
    """The customer a ticket is for: the one the escalation names, else the conversation's verified one."""
    return escalation.get("customer_id") or job.claims.customer_id


def _pending_action(value: Any) -> PendingAction | None:
    if not value:
        return None
    try:
        return PendingAction.model_validate(value)
    except ValidationError:
        logger.warning("ignoring a malformed pending action in an escalation")
        return None
