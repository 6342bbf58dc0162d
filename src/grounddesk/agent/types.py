"""Data shapes shared by the agent's nodes, and the typed per-conversation context.

The graph's state carries these models; each node module owns the logic that fills one of them:
``guard`` -> :class:`GuardResult`, ``understand`` -> :class:`Route`, ``compose`` -> :class:`Draft`,
``score`` -> :class:`Confidence`, ``decide`` -> :class:`Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "Citation",
    "Confidence",
    "ConfidenceFactor",
    "ConversationContext",
    "Decision",
    "DecisionKind",
    "Draft",
    "DraftSentence",
    "GuardResult",
    "PIISpan",
    "Route",
    "TopicAction",
    "TopicMatch",
]


@dataclass(frozen=True)
class ConversationContext:
    """Per-conversation data (LangGraph ``context_schema``): who is asking, and what they may see.

    Never in settings or globals: the API builds it from the verified widget identity, the CLI from its flags.
    """

    tenant: str = "default"
    customer_id: str | None = None
    verified: bool = False
    audiences: tuple[str, ...] = ("public",)
    channel: str = "cli"
    locale: str = "en"
    extra: dict[str, str] = field(default_factory=dict)


class PIISpan(BaseModel):
    """A piece of personal data found in a text (character offsets into the original text)."""

    entity: str = Field(description="EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, US_SSN, STREET_ADDRESS, ...")
    start: int
    end: int
    score: float = 1.0


TopicAction = Literal["escalate", "caution"]


class TopicMatch(BaseModel):
    """A sensitive topic found in a message, and what the policy file says to do about it."""

    topic: str
    action: TopicAction
    reason: str = Field(description="The escalation reason code, e.g. 'legal_threat', 'fraud_or_security'")
    caution: str | None = Field(default=None, description="Text prepended to an answer when action is caution")


class GuardResult(BaseModel):
    """What the guard found in one customer message."""

    masked_text: str = Field(description="The message with PII replaced by <ENTITY> placeholders")
    pii: list[PIISpan] = Field(default_factory=list)
    injection: list[str] = Field(default_factory=list, description="Names of the prompt-injection rules that fired")
    topics: list[TopicMatch] = Field(default_factory=list)
    wants_human: bool = Field(default=False, description="An explicit request to talk to a person")
    too_long: bool = False


class Route(BaseModel):
    """The understood intent of a turn."""

    intent: str | None = Field(description="Playbook intent name; None when out of scope")
    score: float = Field(ge=0.0, le=1.0, description="Router certainty in [0, 1]")
    out_of_scope: bool = False
    mode: Literal["answer", "tool", "clarify", "handoff", "confirm"] = "answer"
    tool: str | None = None
    slots: dict[str, str] = Field(default_factory=dict)
    missing_slots: list[str] = Field(default_factory=list)
    query: str = Field(default="", description="The standalone retrieval query (follow-ups rewritten)")


class Citation(BaseModel):
    """A numbered source of an answer."""

    n: int = Field(ge=1, description="The [n] marker used in the answer text")
    doc_id: str
    version: int
    title: str
    chunk_id: str

    @property
    def ref(self) -> str:
        """``doc_id@version``."""
        return f"{self.doc_id}@{self.version}"


class DraftSentence(BaseModel):
    """One sentence of an answer with the citation that supports it."""

    text: str
    citation: int = Field(ge=1, description="The Citation.n this sentence comes from")
    support: float = Field(ge=0.0, le=1.0, description="How well the cited chunk supports the sentence")


class Draft(BaseModel):
    """A composed answer before the decision: sentences, each tied to a cited chunk."""

    text: str
    sentences: list[DraftSentence] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list, description="Sentences dropped for lack of support")


class ConfidenceFactor(BaseModel):
    """One named input to the confidence and its plain-words explanation."""

    name: str
    value: float
    phrase: str = Field(description="e.g. 'two approved sources agree'")


class Confidence(BaseModel):
    """The calibrated probability that the answer is right, and why."""

    score: float = Field(ge=0.0, le=1.0)
    raw: float = Field(description="The uncalibrated score the calibrator maps")
    factors: list[ConfidenceFactor] = Field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        """The factors in plain words, most important first."""
        return [f.phrase for f in self.factors]


DecisionKind = Literal["answer", "clarify", "escalate"]


class Decision(BaseModel):
    """What the agent does with the turn."""

    kind: DecisionKind
    reason: str | None = Field(default=None, description="Escalation or clarification reason code")
