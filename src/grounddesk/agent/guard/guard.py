"""The guard: everything the agent checks in a customer message before it tries to answer.

Example:
    >>> guard = Guard(GuardSettings())
    >>> result = guard.inspect("My card 4111 1111 1111 1111 was stolen, let me talk to a person")
    >>> result.masked_text
    'My card <CREDIT_CARD> was stolen, let me talk to a person'
    >>> [t.reason for t in result.topics], result.wants_human
    (['fraud_or_security'], True)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from grounddesk.agent.guard.injection import detect_injection
from grounddesk.agent.guard.pii import PII_ENTITIES, PIIDetector, mask
from grounddesk.agent.guard.topics import TopicPolicy, wants_human
from grounddesk.agent.types import GuardResult

__all__ = ["Guard", "GuardSettings"]


class GuardSettings(BaseModel):
    """The guard's settings (``Settings().guard``; environment ``GROUNDDESK_GUARD_<FIELD>``)."""

    pii_entities: list[str] = Field(
        default_factory=lambda: list(PII_ENTITIES),
        description="Entity kinds that are detected and masked; any of " + ", ".join(PII_ENTITIES) + ".",
    )
    mask_pii: bool = Field(default=True, description="Replace detected PII by <ENTITY> in masked_text.")
    max_message_chars: int = Field(
        default=4000, ge=1, description="Longer messages are flagged too_long and only this many characters are kept."
    )
    policy_file: Path | None = Field(
        default=None, description="A sensitive-topic policy YAML file; unset: the packaged default policy."
    )

    @field_validator("pii_entities")
    @classmethod
    def _known_entities(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(PII_ENTITIES))
        if unknown:
            raise ValueError(f"unknown PII entities {unknown}; known: {', '.join(PII_ENTITIES)}")
        return value


class Guard:
    """Size limit, PII masking, prompt-injection rules, sensitive topics and "talk to a human", in one pass.

    Every pattern is compiled when the guard is built; :meth:`inspect` does no I/O.

    Args:
        settings: The guard settings (default: :class:`GuardSettings` defaults).
        policy: The sensitive-topic policy (default: loaded from ``settings.policy_file``, or the packaged one).

    Raises:
        ConfigurationError: The policy file is missing or invalid.
    """

    def __init__(self, settings: GuardSettings | None = None, policy: TopicPolicy | None = None) -> None:
        self.settings = settings or GuardSettings()
        self.policy = policy or TopicPolicy.load(self.settings.policy_file)
        self.detector = PIIDetector(self.settings.pii_entities)

    def inspect(self, text: str) -> GuardResult:
        """What the guard finds in one customer message.

        A message longer than ``max_message_chars`` is flagged ``too_long`` and cut to that length first, so the
        rest of it is neither inspected nor carried on in ``masked_text``.

        Args:
            text: The customer's message as received.

        Returns:
            The masked text, the PII spans (offsets into ``text``), the injection rules that fired, the sensitive
            topics, whether the customer asked for a person, and whether the message was too long.
        """
        limit = self.settings.max_message_chars
        too_long = len(text) > limit
        kept = text[:limit] if too_long else text
        spans = self.detector.detect(kept)
        return GuardResult(
            masked_text=mask(kept, spans) if self.settings.mask_pii else kept,
            pii=spans,
            injection=detect_injection(kept),
            topics=self.policy.match(kept),
            wants_human=wants_human(kept),
            too_long=too_long,
        )
