"""Escalation: conversations, their events and feedback, the ticket queue and ticket history.

Revision ID: 0003_escalation
Revises: 0002_connector_ledger
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_escalation"
down_revision: str | None = "0002_connector_ledger"
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_AWARE = sa.DateTime(timezone=True)
_OPEN_TICKET = "status NOT IN ('resolved', 'returned_to_bot')"


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_at", _AWARE, nullable=False),
        sa.Column("last_activity_at", _AWARE, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("audiences", _JSON, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("closed_at", _AWARE, nullable=True),
        sa.CheckConstraint("mode IN ('bot', 'pending_human', 'human')", name=op.f("ck_conversations_mode")),
        sa.CheckConstraint("last_seq >= 0", name=op.f("ck_conversations_last_seq_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_index(op.f("ix_conversations_last_activity_at"), "conversations", ["last_activity_at"])
    op.create_index(op.f("ix_conversations_customer_id"), "conversations", ["customer_id"])

    op.create_table(
        "conversation_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("client_message_id", sa.String(128), nullable=True),
        sa.Column("reply_to", sa.String(128), nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("created_at", _AWARE, nullable=False),
        sa.CheckConstraint(
            "kind IN ('customer_message', 'answer', 'clarify', 'handoff', 'agent_message', 'system', "
            "'returned_to_bot')",
            name=op.f("ck_conversation_events_kind"),
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_conversation_events_seq_positive")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_events_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_events")),
        sa.UniqueConstraint("conversation_id", "seq", name=op.f("uq_conversation_events_seq")),
        sa.UniqueConstraint(
            "conversation_id", "kind", "client_message_id", name=op.f("uq_conversation_events_client_message")
        ),
    )
    op.create_index(op.f("ix_conversation_events_reply_to"), "conversation_events", ["conversation_id", "reply_to"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", _AWARE, nullable=False),
        sa.Column("updated_at", _AWARE, nullable=False),
        sa.CheckConstraint("rating IN ('up', 'down')", name=op.f("ck_feedback_rating")),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_feedback_conversation_id_conversations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("conversation_id", "event_seq", name=op.f("uq_feedback_event")),
    )

    op.create_table(
        "tickets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("customer_tier", sa.String(32), nullable=True),
        sa.Column("created_at", _AWARE, nullable=False),
        sa.Column("updated_at", _AWARE, nullable=False),
        sa.Column("claimed_at", _AWARE, nullable=True),
        sa.Column("first_reply_at", _AWARE, nullable=True),
        sa.Column("sla_due_at", _AWARE, nullable=False),
        sa.Column("sla_breached_at", _AWARE, nullable=True),
        sa.Column("resolved_at", _AWARE, nullable=True),
        sa.Column("draft", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("sources", _JSON, nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("pending_action", _JSON, nullable=True),
        sa.Column("contact", _JSON, nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.CheckConstraint("priority IN ('urgent', 'high', 'normal', 'low')", name=op.f("ck_tickets_priority")),
        sa.CheckConstraint(
            "status IN ('open', 'assigned', 'waiting_on_customer', 'resolved', 'returned_to_bot')",
            name=op.f("ck_tickets_status"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_tickets_conversation_id_conversations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index(op.f("ix_tickets_status"), "tickets", ["status", "sla_due_at"])
    op.create_index(op.f("ix_tickets_assignee"), "tickets", ["assignee"])
    op.create_index(op.f("ix_tickets_conversation_id"), "tickets", ["conversation_id"])
    op.create_index(
        op.f("uq_tickets_one_open_per_conversation"),
        "tickets",
        ["conversation_id"],
        unique=True,
        sqlite_where=sa.text(_OPEN_TICKET),
        postgresql_where=sa.text(_OPEN_TICKET),
    )

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("at", _AWARE, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.CheckConstraint(
            "kind IN ('created', 'claimed', 'released', 'agent_reply', 'customer_message', 'status', "
            "'action_approved', 'action_rejected', 'resolved', 'returned_to_bot', 'contact_left', "
            "'sla_breached', 'note')",
            name=op.f("ck_ticket_events_kind"),
        ),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_events_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    op.create_index(op.f("ix_ticket_events_ticket_id"), "ticket_events", ["ticket_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_events_ticket_id"), table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index(op.f("uq_tickets_one_open_per_conversation"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_conversation_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_assignee"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_status"), table_name="tickets")
    op.drop_table("tickets")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_conversation_events_reply_to"), table_name="conversation_events")
    op.drop_table("conversation_events")
    op.drop_index(op.f("ix_conversations_customer_id"), table_name="conversations")
    op.drop_index(op.f("ix_conversations_last_activity_at"), table_name="conversations")
    op.drop_table("conversations")
