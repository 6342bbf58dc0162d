"""The LangGraph conversation agent (receive, guard, understand, retrieve, compose, score, decide, escalate).

The agent itself is ``grounddesk.agent.conversation.Agent``, built by ``grounddesk.wiring.build_agent``; this
package root re-exports only the shared data shapes, because ``grounddesk.config`` imports settings sections
from sub-modules and a heavier root would import the configuration back in a cycle.
"""

from grounddesk.agent.types import (
    Citation,
    Confidence,
    ConfidenceFactor,
    ConversationContext,
    Decision,
    Draft,
    DraftSentence,
    GuardResult,
    PIISpan,
    Route,
    TopicMatch,
)

__all__ = [
    "Citation",
    "Confidence",
    "ConfidenceFactor",
    "ConversationContext",
    "Decision",
    "Draft",
    "DraftSentence",
    "GuardResult",
    "PIISpan",
    "Route",
    "TopicMatch",
]
