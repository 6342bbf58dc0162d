"""Finding everything grounddesk holds about one customer.

A customer is known by a verified customer id, and by contact details. Emails are masked in transcripts, so
"erase by email" means: ask the configured CRM who has that email (its customer id), and look for the email in the
contact details people left on tickets. Both ways meet: the CRM also gives the email (and phone) of a customer
id. The conversations are then those that

- were verified as the customer (``conversations.customer_id``, ``tickets.customer_id``);
- have audit events about the customer (a customer who proved who they are in the chat, or a CLI chat);
- hold one of the customer's identifiers as a token in any stored text or JSON (a bot answer quoting the CRM's
  email, a ticket's contact details, an audited tool call's arguments);
- have a LangGraph checkpoint that mentions one of the identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Column, Connection, String, Table, Text, cast, func, or_, select

from grounddesk.audit.tables import audit_events
from grounddesk.connectors.types import CRMConnector
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.escalation.tables import conversation_events, conversations, feedback, ticket_events, tickets
from grounddesk.privacy.checkpoints import CheckpointThreads, mentions, token_pattern

__all__ = ["Subject", "find_conversations", "resolve_subject", "search_text"]

_EMAIL = re.compile(r"^[^@\s]{1,200}@[^@\s]{1,200}\.[^@\s]{1,50}$")
_MAX_ID = 64
_MIN_PHONE_DIGITS = 7
_NATIONAL_DIGITS = 10


@dataclass
class Subject:
    """The person to erase: their customer ids and contact details."""

    requested_by: str
    customer_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)

    @property
    def identifiers(self) -> set[str]:
        """What is searched for as a token in stored texts."""
        return self.customer_ids | self.emails


def resolve_subject(*, customer_id: str | None, email: str | None, crm: CRMConnector | None) -> Subject:
    """Who is to be erased, completed through the CRM (its customer id for an email, and the other way round).

    Args:
        customer_id: The customer number (``C-1001``).
        email: An email address of the customer.
        crm: The configured CRM; None searches grounddesk's own stores only.

    Returns:
        The subject.

    Raises:
        GrounddeskError: ``invalid_input`` when not exactly one of ``customer_id`` and ``email`` is given, or the
            email is malformed.
        ConnectorError: The CRM failed (retry: an erasure by email cannot be complete without it).
    """
    if (customer_id is None) == (email is None):
        raise GrounddeskError("Give exactly one of a customer id and an email address", code=ErrorCode.INVALID_INPUT)
    if customer_id is not None:
        customer_id = customer_id.strip()
        if not 0 < len(customer_id) <= _MAX_ID:
            raise GrounddeskError(f"A customer id has 1 to {_MAX_ID} characters", code=ErrorCode.INVALID_INPUT)
        subject = Subject(requested_by="customer", customer_ids={customer_id})
        found = crm.find_customer(customer_id=customer_id) if crm is not None else None
    else:
        address = (email or "").strip().lower()
        if not _EMAIL.match(address):
            raise GrounddeskError("Not an email address", code=ErrorCode.INVALID_INPUT)
        subject = Subject(requested_by="email", emails={address})
        found = crm.find_customer(email=address) if crm is not None else None
    if found is not None:
        subject.customer_ids.add(found.id)
        if found.email:
            subject.emails.add(found.email.strip().lower())
        if found.phone and len(_digits(found.phone)) >= _MIN_PHONE_DIGITS:
            subject.phones.add(_digits(found.phone))
    return subject


def find_conversations(conn: Connection, subject: Subject, threads: CheckpointThreads | None) -> set[str]:
    """Every conversation (LangGraph thread) that holds something of ``subject``.

    Args:
        conn: A connection to grounddesk's SQL store.
        subject: Who is erased.
        threads: The agent's checkpoints; None skips them.

    Returns:
        Conversation ids, including threads that exist only as checkpoints (CLI chats).
    """
    ids = sorted(subject.customer_ids)
    found: set[str] = set()
    if ids:
        found |= _scalars(conn, select(conversations.c.id).where(conversations.c.customer_id.in_(ids)))
        found |= _scalars(conn, select(tickets.c.conversation_id).where(tickets.c.customer_id.in_(ids)))
        found |= _scalars(
            conn,
            select(audit_events.c.conversation_id).where(
                audit_events.c.subject.in_(ids), audit_events.c.conversation_id.is_not(None)
            ),
        )
    found |= _contact_matches(conn, subject)
    needles = subject.identifiers
    found |= search_text(conn, conversation_events, conversation_events.c.conversation_id, needles)
    found |= search_text(conn, feedback, feedback.c.conversation_id, needles)
    found |= search_text(conn, tickets, tickets.c.conversation_id, needles)
    found |= search_text(conn, audit_events, audit_events.c.conversation_id, needles)
    ticket_ids = search_text(conn, ticket_events, ticket_events.c.ticket_id, needles)
    if ticket_ids:
        found |= _scalars(conn, select(tickets.c.conversation_id).where(tickets.c.id.in_(sorted(ticket_ids))))
    if threads is not None:
        found |= threads.mentioning(needles)
    found.discard("")
    return found


def search_text(conn: Connection, table: Table, key: Column[Any], needles: Iterable[str]) -> set[str]:
    """Values of ``key`` in rows of ``table`` where a text or JSON column holds one of ``needles`` as a token.

    A case-insensitive ``LIKE`` finds candidates in the database; word boundaries are then checked here, so an
    id is not found inside a longer one.
    """
    wanted = sorted({n for n in needles if n})
    columns = [c for c in table.columns if isinstance(c.type, String | Text) or _is_json(c)]
    if not wanted or not columns:
        return set()
    texts = [func.lower(cast(c, Text)) for c in columns]
    clauses = [text.like(f"%{_escape(n.lower())}%", escape="\\") for text in texts for n in wanted]
    patterns = [token_pattern(n) for n in wanted]
    hits: set[str] = set()
    for row in conn.execute(select(key, *texts).where(or_(*clauses))):
        if row[0] is not None and any(mentions(value, patterns) for value in row[1:]):
            hits.add(str(row[0]))
    return hits


def _contact_matches(conn: Connection, subject: Subject) -> set[str]:
    """Conversations whose tickets carry contact details with the subject's email or phone number."""
    if not subject.emails and not subject.phones:
        return set()
    found: set[str] = set()
    rows = conn.execute(select(tickets.c.conversation_id, tickets.c.contact).where(tickets.c.contact.is_not(None)))
    for conversation_id, contact in rows:
        if not isinstance(contact, dict):
            continue
        email = str(contact.get("email") or "").strip().lower()
        phone = _digits(str(contact.get("phone") or ""))
        if email in subject.emails or any(_same_phone(phone, known) for known in subject.phones):
            found.add(str(conversation_id))
    return found


def _scalars(conn: Connection, query: Any) -> set[str]:
    return {str(v) for v in conn.execute(query).scalars() if v is not None}


def _is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _same_phone(a: str, b: str) -> bool:
    """The same number written with or without the country code (digits only)."""
    if len(a) < _MIN_PHONE_DIGITS or len(b) < _MIN_PHONE_DIGITS:
        return False
    return a == b or (min(len(a), len(b)) >= _NATIONAL_DIGITS and a[-_NATIONAL_DIGITS:] == b[-_NATIONAL_DIGITS:])


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())
