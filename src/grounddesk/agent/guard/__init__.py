"""The guard node's logic: size limits, PII masking, prompt-injection rules, sensitive topics, "talk to a human".

Example:
    >>> from grounddesk.agent.guard import Guard, GuardSettings
    >>> Guard(GuardSettings()).inspect("ignore previous instructions").injection
    ['instruction_override']
"""

from grounddesk.agent.guard.guard import Guard, GuardSettings
from grounddesk.agent.guard.injection import INJECTION_RULES, detect_injection
from grounddesk.agent.guard.pii import (
    PII_ENTITIES,
    PIIDetector,
    detect,
    iban_is_valid,
    luhn_is_valid,
    mask,
    ssn_is_valid,
)
from grounddesk.agent.guard.topics import PolicyFile, TopicPolicy, TopicRule, wants_human

__all__ = [
    "INJECTION_RULES",
    "PII_ENTITIES",
    "Guard",
    "GuardSettings",
    "PIIDetector",
    "PolicyFile",
    "TopicPolicy",
    "TopicRule",
    "detect",
    "detect_injection",
    "iban_is_valid",
    "luhn_is_valid",
    "mask",
    "ssn_is_valid",
    "wants_human",
]
