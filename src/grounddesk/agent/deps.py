"""What the agent's nodes need, as narrow Protocols, bundled in :class:`AgentDeps` by ``wiring.py``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from grounddesk.agent.types import Confidence, Draft, GuardResult, Route
from grounddesk.config import AgentSettings
from grounddesk.connectors.types import CRMConnector, ERPConnector
from grounddesk.knowledge.search import Hit, SearchResult
from grounddesk.tools.toolbox import Toolbox

__all__ = ["AgentDeps", "ComposesAnswers", "GuardsMessages", "RoutesIntents", "ScoresConfidence", "Searches"]


class GuardsMessages(Protocol):
    """Finds PII, injection attempts, sensitive topics and requests for a person in a message."""

    def inspect(self, text: str) -> GuardResult:
        """Inspect one customer message."""
        ...


class RoutesIntents(Protocol):
    """Maps a message to a playbook intent with slots, or out of scope."""

    def route(self, text: str, *, history: Sequence[str] = ()) -> Route:
        """Route one (masked) message."""
        ...


class ComposesAnswers(Protocol):
    """Builds a cited answer from retrieved chunks."""

    def compose(self, question: str, hits: Sequence[Hit]) -> Draft:
        """Compose an answer to ``question`` from ``hits`` only."""
        ...


class ScoresConfidence(Protocol):
    """Turns the turn's signals into a calibrated confidence with reasons."""

    def score(
        self,
        *,
        question: str,
        hits: Sequence[Hit],
        draft: Draft,
        route: Route | None,
        guard: GuardResult | None,
        message: str | None = None,
    ) -> Confidence:
        """Score one composed answer (``question``: the search query; ``message``: what the customer wrote)."""
        ...


class Searches(Protocol):
    """Hybrid search over approved knowledge (the knowledge base)."""

    def search(self, query: str, *, audiences: Sequence[str] = ("public",), top_k: int | None = None) -> SearchResult:
        """Search as a caller with ``audiences``."""
        ...


@dataclass
class AgentDeps:
    """Everything the graph's nodes use, built once by ``wiring.build_agent``."""

    settings: AgentSettings
    knowledge: Searches
    guard: GuardsMessages
    router: RoutesIntents
    composer: ComposesAnswers
    scorer: ScoresConfidence
    rewrite: Callable[[str, Sequence[tuple[str, str]]], str]
    fixed_replies: dict[str, str] = field(default_factory=dict)
    """Intents answered with a fixed line (greetings, thanks) instead of knowledge."""
    toolbox: Toolbox | None = None
    """The support tools; None: tool intents escalate ``needs_account_access``."""
    crm: CRMConnector | None = None
    erp: ERPConnector | None = None
    slot_questions: dict[str, str] = field(default_factory=dict)
    """The playbook's question for each slot."""
    extract_slots: Callable[[str, Sequence[str]], dict[str, str]] | None = None
    """The playbook's slot extractor (values of the named slots found in a text)."""
