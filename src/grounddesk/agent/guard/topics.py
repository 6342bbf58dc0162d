"""Sensitive topics from a YAML policy file, and explicit requests for a human.

A policy file lists topics; each has trigger phrases (whole words, case-insensitive, any run of whitespace between
words) and/or regular expressions, and an action: ``escalate`` with a reason code, or ``caution`` with a text the
answer must carry. Matching is *negation-light*: a phrase preceded within three words by a negation ("this is not
fraud", "I won't sue") does not count, unless the topic sets ``negatable: false`` (self-harm does, so "I don't want
to live" still escalates). The packaged default is ``policy.yaml`` next to this module.

Example:
    >>> policy = TopicPolicy.load(None)
    >>> [m.reason for m in policy.match("Someone used my card, I think it's fraud")]
    ['fraud_or_security']
    >>> wants_human("Can I talk to a real person please?")
    True
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grounddesk.agent.types import TopicMatch
from grounddesk.errors import ConfigurationError

__all__ = ["DEFAULT_POLICY_FILE", "PolicyFile", "TopicPolicy", "TopicRule", "wants_human"]

DEFAULT_POLICY_FILE = "policy.yaml"

_NEGATION = re.compile(r"\b(?:not|no|never|nor|without|cannot|can't|won't|don't|doesn't|didn't|isn't|wasn't|aren't)\b")
_NEGATION_WINDOW = re.compile(r"(?:[^\W_]+['’]?[^\W_]*\W+){0,3}$")


class TopicRule(BaseModel):
    """One sensitive topic of a policy file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    action: Literal["escalate", "caution"]
    reason: str | None = Field(default=None, description="Escalation reason code; defaults to the topic name")
    caution: str | None = Field(default=None, description="Caution text, or the hand-off text of an escalation")
    phrases: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list, description="Regular expressions, matched case-insensitively")
    negatable: bool = True

    @field_validator("phrases")
    @classmethod
    def _non_blank(cls, value: list[str]) -> list[str]:
        if any(not p.strip() for p in value):
            raise ValueError("phrases must not be blank")
        return value

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TopicRule:
        if not self.phrases and not self.patterns:
            raise ValueError("a topic needs at least one phrase or pattern")
        if self.action == "caution" and not self.caution:
            raise ValueError("a caution topic needs its caution text")
        return self


class PolicyFile(BaseModel):
    """The whole policy file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    topics: list[TopicRule]

    @model_validator(mode="after")
    def _unique(self) -> PolicyFile:
        names = [t.name for t in self.topics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate topic names: {dupes}")
        return self


class _CompiledTopic:
    def __init__(self, rule: TopicRule) -> None:
        self.rule = rule
        # Alternatives that can only start at a word boundary sit behind one shared \b, which fails fast inside
        # words: about twice as fast as testing every alternative at every character.
        gated = [r"\s+".join(re.escape(w) for w in p.split()) + r"(?!\w)" for p in rule.phrases if p[0].isalnum()]
        gated += [p[2:] for p in rule.patterns if p.startswith(r"\b")]
        free = [rf"(?<!\w){re.escape(p)}(?!\w)" for p in rule.phrases if not p[0].isalnum()]
        free += [p for p in rule.patterns if not p.startswith(r"\b")]
        alternatives = ([rf"\b(?:{'|'.join(f'(?:{g})' for g in gated)})"] if gated else []) + [f"(?:{f})" for f in free]
        self.regex = re.compile("|".join(alternatives), re.IGNORECASE)
        self.result = TopicMatch(
            topic=rule.name, action=rule.action, reason=rule.reason or rule.name, caution=rule.caution
        )

    def matches(self, text: str) -> bool:
        return any(not self.rule.negatable or not _negated(text, m.start()) for m in self.regex.finditer(text))


def _negated(text: str, start: int) -> bool:
    sentence_start = max(text.rfind(ch, 0, start) for ch in ".!?\n") + 1
    window = _NEGATION_WINDOW.search(text[sentence_start:start].lower())
    return bool(window and _NEGATION.search(window.group()))


class TopicPolicy:
    """The sensitive topics of a policy file, compiled once.

    Example:
        >>> TopicPolicy.load(None).match("I will take you to court")[0].reason
        'legal_threat'
    """

    def __init__(self, policy: PolicyFile, *, source: str = "<memory>") -> None:
        self.policy = policy
        self.source = source
        self._topics = [_CompiledTopic(rule) for rule in policy.topics]

    @classmethod
    def load(cls, path: Path | None = None) -> TopicPolicy:
        """Read and validate a policy file; ``None`` loads the packaged default.

        Raises:
            ConfigurationError: The file is missing, is not YAML, or does not fit the schema (the error names the
                file and the offending field).
        """
        if path is None:
            text = resources.files("grounddesk.agent.guard").joinpath(DEFAULT_POLICY_FILE).read_text("utf-8")
            source = f"grounddesk.agent.guard/{DEFAULT_POLICY_FILE}"
        else:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read the topic policy file {path}: {exc}", path=str(path), field=None
                ) from exc
            source = str(path)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigurationError(
                f"the topic policy file {source} is not valid YAML: {exc}", path=source, field=None
            ) from exc
        try:
            policy = PolicyFile.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "<root>"
            raise ConfigurationError(
                f"the topic policy file {source} is invalid at {field}: {first['msg']}",
                path=source,
                field=field,
                errors=len(exc.errors()),
            ) from exc
        return cls(policy, source=source)

    def match(self, text: str) -> list[TopicMatch]:
        """The topics that ``text`` touches, in the order of the policy file."""
        return [topic.result for topic in self._topics if topic.matches(text)]


_PERSON = (
    r"(?:(?:a|an|the|some|your|one\s+of\s+your)\s+)?(?:real\s+|actual\s+|live\s+|human\s+|proper\s+|customer\s+service\s+"
    r"|customer\s+support\s+|support\s+)*(?:person|human(?:\s+being)?|agent|representative|rep|operator|someone|"
    r"somebody|advis[eo]r|manager|supervisor|boss|staff(?:\s+member)?|employee|people|team\s+member|colleague|"
    r"customer\s+(?:service|support|care)|support\s+team|your\s+team)\b"
)
_HUMAN_REQUEST = re.compile(
    r"|".join(
        (
            rf"\b(?:talk|speak|chat)\s+(?:to|with)\s+{_PERSON}",
            rf"\b(?:connect|transfer|put|pass|redirect|escalate|forward)\s+(?:me|this|my\s+\w+)\s+(?:to|with|through\s+to)\s+"
            rf"{_PERSON}",
            r"\b(?:want|need|would\s+like|'d\s+like|like|get|give|request|prefer)\s+(?:me\s+)?(?:to\s+(?:talk|speak|chat)\s+"
            r"(?:to|with)\s+)?(?:a|an|some)\s+(?:real\s+|actual\s+|live\s+)?(?:human|person|agent|representative|"
            r"operator)\b",
            r"\b(?:human|real\s+person|live\s+agent|real\s+agent|representative|operator)\s*,?\s*(?:please|pls|plz|now)\b",
            r"\b(?:don'?t|do\s+not|won'?t|will\s+not)\s+(?:want\s+to\s+)?(?:talk|speak|chat)\s+(?:to|with)\s+(?:a|an|the|this|"
            r"your)\s+(?:stupid\s+|dumb\s+)?(?:bot|robot|machine|computer|ai|chatbot|automated\s+\w+)\b",
            r"\b(?:is\s+there|are\s+there)\s+(?:a|an|any)\s+(?:real\s+|actual\s+)?(?:human|person|people)\s+"
            r"(?:i\s+can|to)\s+(?:talk|speak|chat)\b",
            r"\bno\s+more\s+(?:bots?|robots?|machines?)\b",
        )
    ),
    re.IGNORECASE,
)
# A message that is nothing but the request ("Human!", "agent please"); anchored on the whole text.
_BARE_REQUEST = re.compile(
    r"\A[\W_]{0,8}(?:a\s+|an\s+)?(?:real\s+|live\s+)?(?:human|person|agent|representative|operator|customer\s+service)"
    r"(?:\s+(?:please|pls|plz|now|asap))?[\W_]{0,8}\Z",
    re.IGNORECASE,
)


def wants_human(text: str) -> bool:
    """Whether ``text`` explicitly asks to talk to a person ("let me talk to a person", "human please").

    A question *about* people ("is a human going to review my claim?") is not a request; nor is a negated one
    ("I don't need to speak to an agent").
    """
    if _BARE_REQUEST.match(text):
        return True
    for m in _HUMAN_REQUEST.finditer(text):
        if m.group().lower().startswith(("don", "do not", "won", "will not")) or not _negated(text, m.start()):
            return True
    return False
