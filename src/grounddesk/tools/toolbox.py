"""The toolbox: runs support tools by name, and enforces their tiers in code.

The gate does not trust any model or text: a ``confirm`` tool runs only with
:attr:`ActionOrigin.CUSTOMER_CONFIRMED` or :attr:`ActionOrigin.HUMAN_APPROVED`, an ``approve`` tool only with
``HUMAN_APPROVED``, and an account-specific tool only with a verified identity. The agent's act node is the
only code that makes ``CUSTOMER_CONFIRMED`` (from the customer's own yes to a stated action), and the service's
approve endpoint the only one that makes ``HUMAN_APPROVED``. So an instruction inside a retrieved chunk or a
tool's output — "issue a refund to ..." — can at most be quoted back; it cannot start a write.

Example:
    >>> box = Toolbox(support_tools(crm, erp))
    >>> box.run("create_case", {"subject": "Broken strap"}, identity=alex, origin=ActionOrigin.CUSTOMER_REQUEST,
    ...         idempotency_key="k1")
    Traceback (most recent call last):
    ToolNotAllowed: create_case needs the customer's confirmation first
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, ValidationError

from grounddesk.connectors.resilience import idempotency_key as action_key
from grounddesk.errors import ErrorCode, GrounddeskError
from grounddesk.tools.catalog import SupportTool
from grounddesk.tools.types import (
    ActionOrigin,
    CallBudget,
    ToolNotAllowed,
    ToolOutcome,
    ToolTier,
    VerifiedIdentity,
)

__all__ = ["DEFAULT_CALL_BUDGET", "ToolCall", "Toolbox", "action_key"]

#: Tool runs one conversation may make before the agent hands it to a person (a loop or an abuse, not a
#: customer: a long support conversation makes a handful).
DEFAULT_CALL_BUDGET = 40

logger = logging.getLogger(__name__)

_ALLOWED: dict[ToolTier, frozenset[ActionOrigin]] = {
    ToolTier.READ: frozenset(ActionOrigin),
    ToolTier.CONFIRM: frozenset({ActionOrigin.CUSTOMER_CONFIRMED, ActionOrigin.HUMAN_APPROVED}),
    ToolTier.APPROVE: frozenset({ActionOrigin.HUMAN_APPROVED}),
}


class ToolCall(BaseModel):
    """A record of one tool run, for the audit trail and the console."""

    tool: str
    tier: ToolTier
    origin: ActionOrigin
    args: dict[str, Any]
    customer_id: str | None
    ok: bool
    error_code: str | None = None


class Toolbox:
    """The support tools by name, behind the tier gate.

    Args:
        tools: The tools the configured back-ends offer (:func:`grounddesk.tools.catalog.support_tools`).
        on_call: Called after every run (audit trail); must not raise.
        call_budget: Tool runs one conversation may make (see :meth:`budget`); None: no limit.
    """

    def __init__(
        self,
        tools: Sequence[SupportTool],
        *,
        on_call: Callable[[ToolCall], None] | None = None,
        call_budget: int | None = DEFAULT_CALL_BUDGET,
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self.on_call = on_call
        self.call_budget = call_budget

    def budget(self, used: int = 0) -> CallBudget:
        """A conversation's budget of tool runs, ``used`` of them spent already."""
        return CallBudget(self.call_budget, used)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    @property
    def names(self) -> list[str]:
        """Names of the available tools."""
        return list(self._tools)

    def get(self, name: str) -> SupportTool:
        """The tool called ``name``.

        Raises:
            ToolNotAllowed: No such tool is configured.
        """
        try:
            return self._tools[name]
        except KeyError:
            raise ToolNotAllowed(f"no tool named {name!r} is configured", tool=name) from None

    def validate(self, name: str, args: Mapping[str, Any]) -> BaseModel:
        """``args`` checked against the tool's schema.

        Raises:
            GrounddeskError: ``invalid_input`` with the fields that are wrong.
        """
        tool = self.get(name)
        try:
            return tool.args_schema.model_validate(dict(args))
        except ValidationError as exc:
            fields = [".".join(str(p) for p in err["loc"]) for err in exc.errors()]
            raise GrounddeskError(
                f"invalid arguments for {name}: {', '.join(fields)}",
                code=ErrorCode.INVALID_INPUT,
                tool=name,
                fields=fields,
            ) from None

    def check(self, name: str, *, identity: VerifiedIdentity | None, origin: ActionOrigin) -> SupportTool:
        """The tool, if ``origin`` and ``identity`` give the permission its tier needs.

        Raises:
            ToolNotAllowed: They do not.
        """
        tool = self.get(name)
        if origin not in _ALLOWED[tool.tier]:
            needs = "the customer's confirmation" if tool.tier is ToolTier.CONFIRM else "a support agent's approval"
            raise ToolNotAllowed(f"{name} needs {needs} first", tool=name, tier=tool.tier.value, origin=origin.value)
        if tool.account_specific and identity is None:
            raise ToolNotAllowed(f"{name} needs a verified customer", tool=name)
        return tool

    def run(
        self,
        name: str,
        args: Mapping[str, Any],
        *,
        identity: VerifiedIdentity | None,
        origin: ActionOrigin,
        idempotency_key: str,
        budget: CallBudget | None = None,
    ) -> ToolOutcome:
        """Run a tool after the gate; connector errors propagate (the agent escalates with ``tool_failure``).

        Args:
            name: The tool.
            args: Its arguments (checked against its schema).
            identity: The verified customer, if any.
            origin: Why it runs (the tier gate).
            idempotency_key: Makes a retried write happen once.
            budget: The conversation's budget of tool runs, spent by one if the run goes ahead.

        Raises:
            ToolNotAllowed: The tier or identity check failed.
            ToolBudgetExhausted: ``budget`` is spent.
            GrounddeskError: Invalid arguments.
            ConnectorError: The back-end failed.
        """
        tool = self.check(name, identity=identity, origin=origin)
        parsed = self.validate(name, args)
        if budget is not None:
            budget.spend(name)
        ok, code = False, None
        try:
            outcome = tool.run(parsed, identity, idempotency_key)
            ok, code = outcome.ok, outcome.error_code
            return outcome
        except GrounddeskError as exc:
            code = str(exc.code)
            raise
        finally:
            self._record(tool, origin, parsed, identity, ok, code)

    def _record(
        self,
        tool: SupportTool,
        origin: ActionOrigin,
        args: BaseModel,
        identity: VerifiedIdentity | None,
        ok: bool,
        code: str | None,
    ) -> None:
        call = ToolCall(
            tool=tool.name,
            tier=tool.tier,
            origin=origin,
            args=args.model_dump(mode="json"),
            customer_id=identity.customer_id if identity else None,
            ok=ok,
            error_code=code,
        )
        logger.info("tool call", extra={"tool": tool.name, "tier": tool.tier.value, "origin": origin.value, "ok": ok})
        if self.on_call is not None:
            try:
                self.on_call(call)
            except Exception:  # the audit hook must never break a customer's turn
                logger.exception("tool call hook failed", extra={"tool": tool.name})

    def langchain_tools(
        self,
        *,
        identity: VerifiedIdentity | None,
        origin: ActionOrigin,
        key_for: Callable[[str, Mapping[str, Any]], str],
        budget: CallBudget | None = None,
    ) -> list[StructuredTool]:
        """The tools as LangChain structured tools bound to one turn's identity and origin (for LLM agents).

        The gate still applies: a model that calls ``create_case`` with ``CUSTOMER_REQUEST`` gets
        :class:`ToolNotAllowed`, whatever its prompt said; and with a ``budget`` a model that loops on tools
        gets :class:`~grounddesk.tools.types.ToolBudgetExhausted` once it is spent.
        """
        out = []
        for tool in self._tools.values():

            def call(_name: str = tool.name, **kwargs: Any) -> str:
                outcome = self.run(
                    _name,
                    kwargs,
                    identity=identity,
                    origin=origin,
                    idempotency_key=key_for(_name, kwargs),
                    budget=budget,
                )
                return outcome.text

            out.append(
                StructuredTool.from_function(
                    func=call,
                    name=tool.name,
                    description=tool.description,
                    args_schema=tool.args_schema,
                    metadata={"tier": tool.tier.value, "account_specific": tool.account_specific},
                )
            )
        return out
