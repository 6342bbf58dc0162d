"""The playbook: the intents the agent understands, their example utterances, slots and where they lead.

A playbook is a YAML file validated by pydantic. Slots are defined once at the top (a validator each) and
referenced by the intents that need them; an intent says what it leads to: ``answer`` (a knowledge answer),
``tool`` (a named tool call, which needs its required slots) or ``handoff`` (a human).

Example:
    >>> playbook = load_playbook()  # the bundled Northwind Outfitters playbook
    >>> playbook.intent("order_status").tool
    'order_status'
    >>> playbook.extract_slots("where is NW-1048273?", ["order_id"])
    {'order_id': 'NW-1048273'}
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grounddesk.errors import ConfigurationError

__all__ = [
    "DEFAULT_PLAYBOOK",
    "Intent",
    "IntentMode",
    "IntentSlot",
    "Playbook",
    "SlotSpec",
    "load_playbook",
]

DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yaml")

IntentMode = Literal["answer", "tool", "handoff"]
_NAME = r"^[a-z][a-z0-9_]*$"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
_INTEGER = r"(?<![\w.])\d+(?![\w.])"


class SlotSpec(BaseModel):
    """How to find and validate one slot value in a message.

    ``type`` picks the validator: ``regex`` (``pattern``, searched case-insensitively; a named group ``value``
    or the whole match is the value, ``format`` rebuilds a canonical form from the named groups when ``value``
    did not match, so one pattern may hold a canonical alternative and a reformatted one), ``enum``
    (``values``, each with optional ``synonyms``, matched as whole words, all-capital acronyms only in capitals),
    ``email`` or ``integer``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["regex", "enum", "email", "integer"]
    description: str = ""
    pattern: str | None = None
    format: str | None = Field(default=None, description="e.g. 'NW-{digits}' from the pattern's named groups")
    case: Literal["keep", "upper", "lower"] = "keep"
    values: list[str] = Field(default_factory=list)
    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    question: str | None = Field(default=None, description="The clarification question when the slot is missing")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _complete(self) -> SlotSpec:
        if self.type == "regex" and not self.pattern:
            raise ValueError("a regex slot needs a 'pattern'")
        if self.type == "enum" and not self.values:
            raise ValueError("an enum slot needs 'values'")
        unknown = set(self.synonyms) - set(self.values)
        if unknown:
            raise ValueError(f"synonyms for values that are not listed: {sorted(unknown)}")
        if self.format is not None and self.pattern is not None:
            groups = set(re.compile(self.pattern).groupindex)
            needed = set(re.findall(r"{(\w+)}", self.format))
            if needed - groups:
                raise ValueError(f"format uses groups the pattern does not name: {sorted(needed - groups)}")
        return self

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        if self.type == "regex":
            return re.compile(str(self.pattern), re.IGNORECASE)
        if self.type == "email":
            return re.compile(_EMAIL)
        if self.type == "integer":
            return re.compile(_INTEGER)
        alternatives: list[tuple[str, str]] = []
        for value in self.values:
            for surface in [value, *self.synonyms.get(value, [])]:
                alternatives.append((surface, value))
        alternatives.sort(key=lambda pair: -len(pair[0]))  # longest surface form wins
        # Acronyms match only in capitals, so "US" is found but "contact us" is not.
        body = "|".join(
            f"(?-i:{re.escape(surface)})" if surface.isupper() else re.escape(surface) for surface, _ in alternatives
        )
        return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)

    @cached_property
    def _canonical(self) -> dict[str, str]:
        table = {value.lower(): value for value in self.values}
        for value, surfaces in self.synonyms.items():
            table.update({surface.lower(): value for surface in surfaces})
        return table

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Every valid value in ``text`` as ``(start, end, canonical value)``, in order."""
        found: list[tuple[int, int, str]] = []
        for match in self._regex.finditer(text):
            found.append((match.start(), match.end(), self._value(match)))
        return found

    def _value(self, match: re.Match[str]) -> str:
        if self.type == "enum":
            return self._canonical[match.group(0).lower()]
        if match.groupdict().get("value"):  # an alternative that is already canonical (A1001 beside NW-...)
            value = match.group("value")
        elif self.format is not None:
            value = self.format.format(**{k: v or "" for k, v in match.groupdict().items()})
        else:
            value = match.group(0)
        if self.type == "email" or self.case == "lower":
            return value.lower()
        return value.upper() if self.case == "upper" else value

    def validate_value(self, value: str) -> str | None:
        """The canonical form of ``value`` when the whole of it is valid, else None."""
        text = value.strip()
        for start, end, canonical in self.find(text):
            if start == 0 and end == len(text):
                return canonical
        return None


class IntentSlot(BaseModel):
    """A slot an intent uses: by name of a playbook slot, required or not, with its own question if needed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=_NAME)]
    required: bool = True
    question: str | None = None


class Intent(BaseModel):
    """One thing a customer may want, the examples that teach the router, and where it leads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=_NAME)]
    description: str = Field(min_length=1)
    examples: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    mode: IntentMode = "answer"
    tool: str | None = None
    slots: list[IntentSlot] = Field(default_factory=list)
    reply: str | None = Field(default=None, description="A fixed reply (greetings, thanks) instead of a search")

    @field_validator("slots", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Intent:
        if self.mode == "tool" and not self.tool:
            raise ValueError("an intent with mode 'tool' must name its 'tool'")
        if self.mode != "tool" and self.tool:
            raise ValueError(f"'tool' is only allowed with mode 'tool', not {self.mode!r}")
        names = [slot.name for slot in self.slots]
        if len(names) != len(set(names)):
            raise ValueError("a slot is listed twice")
        return self

    @property
    def required_slots(self) -> list[str]:
        """Names of the slots this intent cannot go ahead without."""
        return [slot.name for slot in self.slots if slot.required]


class Playbook(BaseModel):
    """The validated playbook: slot validators, intents, and out-of-scope examples.

    ``out_of_scope_examples`` are optional requests the agent must not take on (weather, sports, ...); the
    router learns them as negatives. ``fallback_intent`` names the intent for anything in the knowledge domain
    that no narrower intent claims.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    name: str = "playbook"
    fallback_intent: str | None = None
    slots: dict[Annotated[str, Field(pattern=_NAME)], SlotSpec] = Field(default_factory=dict)
    intents: list[Intent] = Field(min_length=1)
    out_of_scope_examples: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Playbook:
        names = [intent.name for intent in self.intents]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"intent names must be unique; repeated: {duplicates}")
        for index, intent in enumerate(self.intents):
            for slot in intent.slots:
                if slot.name not in self.slots:
                    raise ValueError(
                        f"intents.{index}.slots: {intent.name!r} uses slot {slot.name!r}, which is not defined "
                        "under 'slots'"
                    )
        if self.fallback_intent is not None and self.fallback_intent not in names:
            raise ValueError(f"fallback_intent {self.fallback_intent!r} is not an intent")
        return self

    @cached_property
    def _by_name(self) -> dict[str, Intent]:
        return {intent.name: intent for intent in self.intents}

    @property
    def intent_names(self) -> list[str]:
        """Intent names in file order."""
        return [intent.name for intent in self.intents]

    def intent(self, name: str) -> Intent:
        """The intent called ``name``.

        Raises:
            KeyError: No such intent.
        """
        return self._by_name[name]

    def extract_slots(self, text: str, names: Iterable[str]) -> dict[str, str]:
        """The first valid value of each named slot found in ``text`` (slots not found are left out)."""
        found: dict[str, str] = {}
        for name in names:
            matches = self.slots[name].find(text)
            if matches:
                found[name] = matches[0][2]
        return found

    def slot_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of every value of every defined slot in ``text``."""
        return [(start, end) for spec in self.slots.values() for start, end, _ in spec.find(text)]

    def question_for(self, intent: str, slot: str) -> str:
        """The clarification question for a missing slot: the intent's own, the slot's, or a plain default."""
        for ref in self.intent(intent).slots:
            if ref.name == slot and ref.question:
                return ref.question
        spec = self.slots.get(slot)
        if spec is not None and spec.question:
            return spec.question
        return f"Could you tell me your {slot.replace('_', ' ')}?"

    def fingerprint(self) -> str:
        """A hash of everything that shapes the router (intents and their examples, negatives)."""
        shape = {
            "intents": [[i.name, i.examples] for i in self.intents],
            "oos": self.out_of_scope_examples,
        }
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<playbook>") -> Playbook:
        """Validate a parsed playbook.

        Raises:
            ConfigurationError: naming ``source`` and the first bad field.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _config_error(exc, source) from exc


def _config_error(exc: ValidationError, source: str) -> ConfigurationError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    others = exc.error_count() - 1
    more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    return ConfigurationError(
        f"invalid playbook {source}: {where}: {message}{more}", path=source, field=where, errors=exc.error_count()
    )


def load_playbook(path: Path | None = None) -> Playbook:
    """Read and validate a playbook YAML file (the bundled Northwind Outfitters playbook by default).

    Args:
        path: The YAML file; None for :data:`DEFAULT_PLAYBOOK`.

    Raises:
        ConfigurationError: The file is missing, not YAML, or fails validation; the message names the file
            and the field.
    """
    path = path or DEFAULT_PLAYBOOK
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read playbook {path}: {exc.strerror}", path=str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"playbook {path} is not valid YAML: {exc}", path=str(path)) from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"playbook {path} must be a mapping with 'intents'", path=str(path))
    return Playbook.from_mapping(raw, source=str(path))
