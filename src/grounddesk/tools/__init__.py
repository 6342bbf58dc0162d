"""LangChain tools the agent may call (CRM, ERP), with approval tiers for write actions."""

from grounddesk.tools.catalog import (
    AddCaseCommentArgs,
    CaseArgs,
    CreateCaseArgs,
    LookupCustomerArgs,
    OrderArgs,
    RequestReturnArgs,
    SupportTool,
    support_tools,
)
from grounddesk.tools.toolbox import Toolbox, ToolCall, action_key
from grounddesk.tools.types import (
    ActionOrigin,
    CallBudget,
    PendingAction,
    ToolBudgetExhausted,
    ToolNotAllowed,
    ToolOutcome,
    ToolTier,
    VerifiedIdentity,
)

__all__ = [
    "ActionOrigin",
    "AddCaseCommentArgs",
    "CallBudget",
    "CaseArgs",
    "CreateCaseArgs",
    "LookupCustomerArgs",
    "OrderArgs",
    "PendingAction",
    "RequestReturnArgs",
    "SupportTool",
    "ToolBudgetExhausted",
    "ToolCall",
    "ToolNotAllowed",
    "ToolOutcome",
    "ToolTier",
    "Toolbox",
    "VerifiedIdentity",
    "action_key",
    "support_tools",
]
