"""Conversations and their numbered transcript, in grounddesk's SQL store.

Each conversation (the agent's LangGraph thread) has a stream of events numbered ``seq`` 1, 2, ... with no gaps:
customer messages (masked), bot answers and clarifications, the hand-off, support agents' messages, system
notes. A socket that reconnects replays ``events_after(conversation_id, last_seen_seq)``.

Idempotency: a customer message carries the widget's ``client_message_id``. Sending it twice stores it once; the
second :meth:`ConversationStore.append` returns the stored event with ``duplicate=True``, and
:meth:`ConversationStore.find_reply` finds the reply already given to it (replies carry ``reply_to``, the client
message id they answer), so a re-send gets the same answer instead of a new turn.

Concurrency: an append locks its conversation row first (``SELECT ... FOR UPDATE`` on PostgreSQL; the write
lock at ``BEGIN IMMEDIATE`` on SQLite), so appends to one conversation take turns and seq numbers never clash.

Example:
    >>> store = ConversationStore(engine)
    >>> conversation_id = store.create(customer_id="C-1001", channel="web")
    >>> store.append(conversation_id, "customer_message", "Where is my order?", author="customer",
    ...              client_message_id="m-1").seq
    1
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from grounddesk.db.engine import assert_engine_configured, read_only
from grounddesk.db.types import utc_now
from grounddesk.db.unit import after_commit, writing
from grounddesk.escalation._sql import Clock, insert_ignore, inserted_id, upsert
from grounddesk.escalation.hub import EventHub, conversation_channel
from grounddesk.escalation.tables import conversation_events, conversations, feedback
from grounddesk.escalation.types import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    ConversationMode,
    ConversationNotFound,
    EscalationInputError,
    Feedback,
    Rating,
)

__all__ = ["ConversationStore"]

_MAX_ID = 64
_MAX_PAGE = 1000
#: Events a customer may rate: what the company said.
_RATEABLE = frozenset(
    {
        ConversationEventKind.ANSWER,
        ConversationEventKind.CLARIFY,
        ConversationEventKind.HANDOFF,
        ConversationEventKind.AGENT_MESSAGE,
    }
)


class ConversationStore:
    """Conversations, their events and their feedback.

    Args:
        engine: An engine made by :func:`grounddesk.db.create_engine_for`, migrated to head.
        clock: The current moment (tests pass a fake one).
        hub: When given, each new event is published on ``conversation:<id>`` after it commits (as the JSON
            form of :class:`ConversationEvent`).
    """

    def __init__(self, engine: Engine, clock: Clock = utc_now, hub: EventHub | None = None) -> None:
        assert_engine_configured(engine)
        self._engine = engine
        self._read = read_only(engine)
        self._clock = clock
        self._hub = hub

    def create(
        self,
        conversation_id: str | None = None,
        *,
        customer_id: str | None = None,
        audiences: Sequence[str] = ("public",),
        channel: str = "web",
    ) -> str:
        """Start a conversation; creating one that exists leaves it unchanged (idempotent).

        Args:
            conversation_id: The id to use (at most 64 characters); a new uuid4 hex when None.
            customer_id: The verified customer identity, if any.
            audiences: The knowledge audiences the customer may see.
            channel: Where the conversation happens (``web``, ``cli``, ...).

        Returns:
            The conversation id.
        """
        conversation_id = conversation_id if conversation_id is not None else uuid.uuid4().hex
        if not 0 < len(conversation_id) <= _MAX_ID:
            raise EscalationInputError(f"A conversation id has 1 to {_MAX_ID} characters")
        now = self._clock()
        values = {
            "id": conversation_id,
            "created_at": now,
            "last_activity_at": now,
            "customer_id": customer_id,
            "audiences": list(audiences),
            "channel": channel,
            "mode": ConversationMode.BOT.value,
            "last_seq": 0,
        }
        with writing(self._engine) as conn:
            insert_ignore(conn, conversations, values, ["id"])
        return conversation_id

    def get(self, conversation_id: str) -> Conversation:
        """The conversation.

        Raises:
            ConversationNotFound: No conversation has this id.
        """
        with self._read.begin() as conn:
            return self._load(conn, conversation_id)

    def list(
        self,
        *,
        mode: ConversationMode | None = None,
        customer_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Conversation]:
        """Conversations, the most recently active first.

        Args:
            mode: Only conversations in this mode.
            customer_id: Only this customer's conversations.
            limit: Page size, 1 to 1000.
            offset: Conversations to skip.
        """
        _check_page(limit, offset)
        query = select(conversations)
        if mode is not None:
            query = query.where(conversations.c.mode == ConversationMode(mode).value)
        if customer_id is not None:
            query = query.where(conversations.c.customer_id == customer_id)
        query = query.order_by(conversations.c.last_activity_at.desc(), conversations.c.id).limit(limit).offset(offset)
        with self._read.begin() as conn:
            return [Conversation.model_validate(dict(row)) for row in conn.execute(query).mappings()]

    def append(
        self,
        conversation_id: str,
        kind: ConversationEventKind | str,
        text: str,
        *,
        author: str,
        payload: dict[str, Any] | None = None,
        client_message_id: str | None = None,
        reply_to: str | None = None,
    ) -> ConversationEvent:
        """Add an event with the next seq; a repeated ``(kind, client_message_id)`` returns the stored event.

        Args:
            conversation_id: The conversation.
            kind: What the event is.
            text: The text; a customer message must already be masked.
            author: ``customer``, ``bot``, ``system`` or ``agent:<username>``.
            payload: Citations, confidence, reasons, ticket id, ...
            client_message_id: The widget's id of a customer message (de-duplicates re-sends).
            reply_to: The client message id this event answers (see :meth:`find_reply`).

        Returns:
            The stored event; ``duplicate`` is True when it was stored before.

        Raises:
            ConversationNotFound: No conversation has this id.
        """
        kind = ConversationEventKind(kind)
        now = self._clock()
        with writing(self._engine) as conn:
            self._lock(conn, conversation_id)
            if client_message_id is not None:
                existing = self._by_client_id(conn, conversation_id, kind, client_message_id)
                if existing is not None:
                    return existing.model_copy(update={"duplicate": True})
            seq = conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(last_seq=conversations.c.last_seq + 1, last_activity_at=now)
                .returning(conversations.c.last_seq)
            ).scalar_one()
            values = {
                "conversation_id": conversation_id,
                "seq": seq,
                "kind": kind.value,
                "client_message_id": client_message_id,
                "reply_to": reply_to,
                "author": author,
                "text": text,
                "payload": payload or {},
                "created_at": now,
            }
            event_id = inserted_id(conn.execute(insert(conversation_events).values(**values)))
        event = ConversationEvent.model_validate({**values, "id": event_id})
        hub = self._hub
        if hub is not None:
            message = event.model_dump(mode="json")
            after_commit(self._engine, lambda: hub.publish(conversation_channel(conversation_id), message))
        return event

    def events_after(self, conversation_id: str, seq: int = 0, *, limit: int = 500) -> builtins.list[ConversationEvent]:
        """The events with a seq above ``seq``, in order: what a reconnecting socket missed.

        Args:
            conversation_id: The conversation.
            seq: The last seq the caller has (0 for all).
            limit: At most this many events, 1 to 1000.

        Raises:
            ConversationNotFound: No conversation has this id.
        """
        _check_page(limit, 0)
        with self._read.begin() as conn:
            self._load(conn, conversation_id)
            rows = conn.execute(
                select(conversation_events)
                .where(conversation_events.c.conversation_id == conversation_id, conversation_events.c.seq > seq)
                .order_by(conversation_events.c.seq)
                .limit(limit)
            ).mappings()
            return [ConversationEvent.model_validate(dict(row)) for row in rows]

    def find_reply(
        self,
        conversation_id: str,
        client_message_id: str,
        kinds: Collection[ConversationEventKind] | None = None,
    ) -> ConversationEvent | None:
        """The first event that answers the customer message ``client_message_id`` (its ``reply_to``), if any.

        Args:
            conversation_id: The conversation.
            client_message_id: The customer message's id.
            kinds: Only events of these kinds (e.g. a real reply, not the error note of a failed turn).
        """
        query = select(conversation_events).where(
            conversation_events.c.conversation_id == conversation_id,
            conversation_events.c.reply_to == client_message_id,
        )
        if kinds is not None:
            query = query.where(conversation_events.c.kind.in_([ConversationEventKind(k).value for k in kinds]))
        with self._read.begin() as conn:
            row = conn.execute(query.order_by(conversation_events.c.seq).limit(1)).mappings().first()
        return None if row is None else ConversationEvent.model_validate(dict(row))

    def set_mode(self, conversation_id: str, mode: ConversationMode | str) -> Conversation:
        """Mirror the agent's handoff mode (``bot``, ``pending_human``, ``human``) for listing.

        Raises:
            ConversationNotFound: No conversation has this id.
        """
        return self._set(conversation_id, mode=ConversationMode(mode).value, last_activity_at=self._clock())

    def touch(self, conversation_id: str) -> Conversation:
        """Record activity now (e.g. the customer is typing or reconnected).

        Raises:
            ConversationNotFound: No conversation has this id.
        """
        return self._set(conversation_id, last_activity_at=self._clock())

    def close(self, conversation_id: str) -> Conversation:
        """Mark the conversation closed (it stays readable). Closing twice keeps the first time.

        Raises:
            ConversationNotFound: No conversation has this id.
        """
        now = self._clock()
        with writing(self._engine) as conn:
            current = self._lock(conn, conversation_id)
            if current.closed_at is None:
                conn.execute(update(conversations).where(conversations.c.id == conversation_id).values(closed_at=now))
            return self._load(conn, conversation_id)

    def feedback(self, conversation_id: str, seq: int, rating: Rating | str, comment: str | None = None) -> Feedback:
        """Rate a reply; rating the same event again replaces the rating and comment.

        Args:
            conversation_id: The conversation.
            seq: The seq of the rated event (an answer, clarification, hand-off or agent message).
            rating: ``up`` or ``down``.
            comment: Optional words from the customer (mask them first if they may hold personal data).

        Raises:
            ConversationNotFound: No conversation has this id.
            EscalationInputError: No such event, or it is not a reply (e.g. the customer's own message).
        """
        rating = Rating(rating)
        now = self._clock()
        with writing(self._engine) as conn:
            self._lock(conn, conversation_id)
            kind = conn.execute(
                select(conversation_events.c.kind).where(
                    conversation_events.c.conversation_id == conversation_id, conversation_events.c.seq == seq
                )
            ).scalar_one_or_none()
            if kind is None or ConversationEventKind(kind) not in _RATEABLE:
                raise EscalationInputError(
                    "Only a reply can be rated", conversation_id=conversation_id, seq=seq, kind=kind
                )
            values = {
                "conversation_id": conversation_id,
                "event_seq": seq,
                "rating": rating.value,
                "comment": comment,
                "created_at": now,
                "updated_at": now,
            }
            upsert(
                conn,
                feedback,
                values,
                ["conversation_id", "event_seq"],
                {"rating": rating.value, "comment": comment, "updated_at": now},
            )
            row = (
                conn.execute(
                    select(feedback).where(feedback.c.conversation_id == conversation_id, feedback.c.event_seq == seq)
                )
                .mappings()
                .one()
            )
        return Feedback.model_validate(dict(row))

    def feedback_for(self, conversation_id: str) -> builtins.list[Feedback]:
        """The conversation's ratings, in event order."""
        with self._read.begin() as conn:
            rows = conn.execute(
                select(feedback).where(feedback.c.conversation_id == conversation_id).order_by(feedback.c.event_seq)
            ).mappings()
            return [Feedback.model_validate(dict(row)) for row in rows]

    def _set(self, conversation_id: str, **values: Any) -> Conversation:
        with writing(self._engine) as conn:
            changed = conn.execute(
                update(conversations).where(conversations.c.id == conversation_id).values(**values)
            ).rowcount
            if changed != 1:
                raise ConversationNotFound(f"No conversation {conversation_id!r}", conversation_id=conversation_id)
            return self._load(conn, conversation_id)

    @staticmethod
    def _by_client_id(
        conn: Connection, conversation_id: str, kind: ConversationEventKind, client_message_id: str
    ) -> ConversationEvent | None:
        row = (
            conn.execute(
                select(conversation_events).where(
                    conversation_events.c.conversation_id == conversation_id,
                    conversation_events.c.kind == kind.value,
                    conversation_events.c.client_message_id == client_message_id,
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else ConversationEvent.model_validate(dict(row))

    @staticmethod
    def _load(conn: Connection, conversation_id: str, *, for_update: bool = False) -> Conversation:
        query = select(conversations).where(conversations.c.id == conversation_id)
        # FOR NO KEY UPDATE: writers of this row take turns, inserts that only reference it (FKs) do not wait.
        row = conn.execute(query.with_for_update(key_share=True) if for_update else query).mappings().first()
        if row is None:
            raise ConversationNotFound(f"No conversation {conversation_id!r}", conversation_id=conversation_id)
        return Conversation.model_validate(dict(row))

    def _lock(self, conn: Connection, conversation_id: str) -> Conversation:
        return self._load(conn, conversation_id, for_update=True)


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= _MAX_PAGE or offset < 0:
        raise EscalationInputError(f"limit must be 1..{_MAX_PAGE} and offset >= 0", limit=limit, offset=offset)
