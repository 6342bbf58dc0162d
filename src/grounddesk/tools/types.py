"""What a support tool declares (its tier, whether it needs a verified customer) and what a run of it returns.

Tiers:

* ``read``: runs at once (order status, tracking, invoices, case status, customer look-up);
* ``confirm``: the agent states exactly what it will do, and runs it only after the customer says yes in the
  chat (open a case, comment on a case);
* ``approve``: a human agent approves it in the escalation queue first (return and refund requests).

Who may start a run is an :class:`ActionOrigin`, set by code, never by a model or by text: a write tool runs
only with ``CUSTOMER_CONFIRMED`` (the customer's own yes to the agent's statement of the action) or
``HUMAN_APPROVED`` (a staff user's approval). Retrieved chunks and tool output are data: nothing in them can
produce either origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from grounddesk.errors import ErrorCode, GrounddeskError

__all__ = [
    "ActionOrigin",
    "CallBudget",
    "PendingAction",
    "ToolBudgetExhausted",
    "ToolNotAllowed",
    "ToolOutcome",
    "ToolTier",
    "VerifiedIdentity",
]


class ToolTier(StrEnum):
    """How much permission a tool needs before it runs."""

    READ = "read"
    CONFIRM = "confirm"
    APPROVE = "approve"


class ActionOrigin(StrEnum):
    """Why a tool is being run. Only code paths that saw the permission happen construct these."""

    CUSTOMER_REQUEST = "customer_request"
    CUSTOMER_CONFIRMED = "customer_confirmed"
    HUMAN_APPROVED = "human_approved"


class VerifiedIdentity(BaseModel):
    """The customer this conversation is verified as, and how."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    method: str = Field(description="widget_signature | email_and_record | staff")


class ToolOutcome(BaseModel):
    """The result of one tool run, as the agent states it and the audit records it."""

    tool: str
    ok: bool
    text: str = Field(description="What the customer is told, with the system it comes from")
    system: str = Field(description="The system the data came from: 'order system', 'case system', ...")
    records: list[str] = Field(default_factory=list, description="Ids of the records read or written")
    data: dict[str, Any] = Field(default_factory=dict, description="The records as JSON, for the console")
    error_code: str | None = None
    wrote: bool = False


class PendingAction(BaseModel):
    """A write the agent proposed and that waits for the customer's yes or a human's approval."""

    tool: str
    tier: ToolTier
    args: dict[str, Any]
    summary: str = Field(description="Exactly what will be done, in the words shown to the customer or agent")
    idempotency_key: str
    customer_id: str
    conversation_id: str = ""
    turn_index: int = 0


class ToolNotAllowed(GrounddeskError):
    """A tool was asked to run without the permission its tier needs (the code-level injection defence)."""

    code = ErrorCode.TOOL_NOT_ALLOWED


class ToolBudgetExhausted(ToolNotAllowed):
    """A conversation has used up its tool runs: the agent hands it to a person (``tool_budget_exhausted``)."""

    code = ErrorCode.TOOL_BUDGET_EXHAUSTED


@dataclass
class CallBudget:
    """The tool runs a conversation may still make: ``limit`` in all (None: no limit), ``used`` so far.

    The agent keeps ``used`` in the conversation's checkpointed state, so the budget holds across turns, restarts
    and replicas; :meth:`Toolbox.run <grounddesk.tools.toolbox.Toolbox.run>` spends it.
    """

    limit: int | None
    used: int = 0

    def spend(self, tool: str) -> None:
        """Count one run of ``tool``.

        Raises:
            ToolBudgetExhausted: ``limit`` runs were made already.
        """
        if self.limit is not None and self.used >= self.limit:
            raise ToolBudgetExhausted(
                f"this conversation has used its {self.limit} tool runs", tool=tool, limit=self.limit
            )
        self.used += 1
