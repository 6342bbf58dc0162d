"""Personal data in customer messages: validated patterns, and masking by ``<ENTITY>`` placeholders.

Hand-written regular expressions, each followed by the check that keeps it precise: Luhn for payment cards,
ISO 13616 length and mod-97 for IBANs, the SSA area/group/serial rules for US SSNs, the ``ipaddress`` module for
IP addresses, a phone-word context for short phone numbers, and a keyword context for driver's licences and ZIP
codes. Street addresses come from :mod:`grounddesk.agent.guard._address`. Entity names are spelled as Presidio
spells them, so the eval can compare them with the Presidio research set.

When candidates overlap, the more specific recognizer wins (a checksum-validated card beats a phone pattern on
the same digits); every candidate is resolved first and only then filtered by the enabled entities, so turning
``CREDIT_CARD`` off never lets a card number come back as a ``PHONE_NUMBER``.

Example:
    >>> detector = PIIDetector()
    >>> text = "Card 4111 1111 1111 1111, mail jo@example.com"
    >>> mask(text, detector.detect(text))
    'Card <CREDIT_CARD>, mail <EMAIL_ADDRESS>'
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from grounddesk.agent.guard._address import find_addresses, find_zip_codes
from grounddesk.agent.types import PIISpan

__all__ = ["PII_ENTITIES", "PIIDetector", "detect", "iban_is_valid", "luhn_is_valid", "mask", "ssn_is_valid"]

PII_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "UK_NINO",
    "US_DRIVER_LICENSE",
    "IP_ADDRESS",
    "DOMAIN_NAME",
    "STREET_ADDRESS",
    "ZIP_CODE",
)
"""Every entity this module detects, in the spelling of the Presidio research dataset."""


@dataclass(frozen=True, slots=True)
class _Candidate:
    entity: str
    start: int
    end: int
    rank: int  # lower wins an overlap


# ---------------------------------------------------------------------------------------------- validators


def luhn_is_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (payment cards)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}  # fmt: skip


def iban_is_valid(iban: str) -> bool:
    """Whether an IBAN (separators allowed) has its country's length and a valid ISO 7064 mod-97 check."""
    compact = re.sub(r"[\s-]", "", iban).upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn_is_valid(ssn: str) -> bool:
    """Whether nine digits could be an issued US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    digits = re.sub(r"\D", "", ssn)
    if len(digits) != 9 or len(set(digits)) == 1:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


# ---------------------------------------------------------------------------------------------- patterns

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?![\w@])")
_URL = re.compile(
    r"(?<![\w@/])(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+|"
    r"(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?:com|org|net|edu|gov|info|biz|io|co|me|app|dev|uk|de|fr|es|it|nl|be|ch|at|se|dk|no|fi|pl|cz|hu|pt|ie|"
    r"ca|au|nz|us|br|in|jp|cn|ru|eu)(?:/[^\s<>\"'`]*)?(?![\w@-])",
    re.IGNORECASE,
)
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){11,18}(?![\d-])")
_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,31}(?!\w)", re.IGNORECASE)
_SSN = re.compile(r"(?<![\w-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\w-])")
_SSN_CONTEXT = re.compile(r"\b(?:ssn|social[\s-]+security|soc\.?\s*sec)\b", re.IGNORECASE)
_NINO = re.compile(
    r"(?<![\w-])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])"
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|:)(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_DRIVER_LICENSE = re.compile(
    r"\b(?:driver'?s?|driving)[\s-]+licen[cs]e(?:\s+(?:number|no\.?|num(?:ber)?|#|id))?\s*(?:is|:|#|-)?\s*"
    r"([A-Z0-9](?:[A-Z0-9*]|[ -](?=[A-Z0-9]{2})){4,19})(?![\w*])|"
    r"\b(?:DL|D\.L\.)\s*(?:number|no\.?|#)?\s*(?:is|:|#)?\s*([A-Z0-9]{5,19})\b",
    re.IGNORECASE,
)
_ZIP = re.compile(
    r"\b(?:zip|postal|post)\s*(?:code)?\b\s*(?:is|:|#|-)?\s*"
    r"(\d{3}(?:\d{1,2})?(?:[- ]\d{2,4})?(?: ?[A-Z]{2}(?![\w]))?|\d{2}-\d{3}|[A-Z]-\d{4}"
    r"|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d)"
    r"(?![\w-])",
    re.IGNORECASE,
)

# A phone number: an optional +country or 00 prefix, an optional (area) group, then digit groups separated by
# single spaces, dots or dashes, and an optional extension.
_PHONE = re.compile(
    r"(?<![\w+/.-])(?:\+\d{1,3}[ .-]?|\b00\d{1,3}[ .-]?|\(\+?\d{1,5}\)[ ./-]?)?(?:\(\d{1,5}\)[ ./-]?)?(?:\(0\)[ .-]?)?"
    r"\d(?:[ ./-]?\d){4,14}"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?![\w/])",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(
    r"^(?:(?:19|20)\d{2}[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])|"
    r"(?:0?[1-9]|[12]\d|3[01])[-./](?:0?[1-9]|[12]\d|3[01])[-./](?:19|20)?\d{2})(?!\d)"
)
_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|cellphone|fax|desk|office|home|work|call|called|calling|reach|text|"
    r"sms|whatsapp|number|contact|message|messages|answering|ring|dial|landline|hotline|extension)\b",
    re.IGNORECASE,
)
_NANP = re.compile(r"^(?:\+?1[ .-]?|001[ .-]?)?\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]?\d{4}(?:\s?(?:x|ext\.?)\s?\d+)?$")


def _emails(text: str) -> Iterator[_Candidate]:
    for m in _EMAIL.finditer(text):
        yield _Candidate("EMAIL_ADDRESS", m.start(), m.end(), 0)


def _urls(text: str) -> Iterator[_Candidate]:
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in ".,;:!?)]}'\"":
            end -= 1
        yield _Candidate("DOMAIN_NAME", m.start(), end, 2)


def _cards(text: str) -> Iterator[_Candidate]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if (digits[0] not in "123456" and not digits.startswith("0604")) or not luhn_is_valid(digits):
            continue
        # Twelve digits are only a card for Maestro ranges; elsewhere they are far more often something else.
        if len(digits) == 12 and not re.match(r"5[06-9]|6|0604", digits):
            continue
        yield _Candidate("CREDIT_CARD", m.start(), m.end(), 1)


def _ibans(text: str) -> Iterator[_Candidate]:
    for m in _IBAN.finditer(text):
        raw = m.group()
        want = _IBAN_LENGTHS.get(raw[:2].upper())
        if want is None:
            continue
        # The pattern may run into a following word; cut at the country's length.
        count, end = 0, m.start()
        for i, ch in enumerate(raw):
            if ch.isalnum():
                count += 1
                if count == want:
                    end = m.start() + i + 1
                    break
        if count == want and iban_is_valid(text[m.start() : end]) and (end == len(text) or not text[end].isalnum()):
            yield _Candidate("IBAN_CODE", m.start(), end, 0)


def _ssns(text: str) -> Iterator[_Candidate]:
    context: bool | None = None
    for m in _SSN.finditer(text):
        if not ssn_is_valid(m.group()):
            continue
        if m.group(2) != "-":
            # Nine bare or spaced digits are only an SSN when the message talks about one.
            if context is None:
                context = bool(_SSN_CONTEXT.search(text))
            if not context:
                continue
        yield _Candidate("US_SSN", m.start(), m.end(), 1)


def _ninos(text: str) -> Iterator[_Candidate]:
    for m in _NINO.finditer(text):
        yield _Candidate("UK_NINO", m.start(), m.end(), 1)


def _ips(text: str) -> Iterator[_Candidate]:
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        yield _Candidate("IP_ADDRESS", m.start(), m.end(), 1)
    for m in _IPV6.finditer(text):
        raw = m.group()
        if sum(ch.isalnum() for ch in raw) < 4:
            continue
        try:
            ipaddress.IPv6Address(raw)
        except ValueError:
            continue
        yield _Candidate("IP_ADDRESS", m.start(), m.end(), 1)


def _driver_licenses(text: str) -> Iterator[_Candidate]:
    for m in _DRIVER_LICENSE.finditer(text):
        group = 1 if m.group(1) else 2
        value = m.group(group).rstrip(" -")
        if not any(ch.isdigit() for ch in value) and not (len(value) == 8 and value.isupper()):
            continue
        yield _Candidate("US_DRIVER_LICENSE", m.start(group), m.start(group) + len(value), 1)


def _zips(text: str) -> Iterator[_Candidate]:
    for m in _ZIP.finditer(text):
        yield _Candidate("ZIP_CODE", m.start(1), m.end(1), 3)
    for start, end in find_zip_codes(text):
        yield _Candidate("ZIP_CODE", start, end, 3)


def _phones(text: str) -> Iterator[_Candidate]:
    # Digit groups inside something shaped like an IBAN (checksum or not) are not a phone number.
    iban_like = [(m.start(), m.end()) for m in _IBAN.finditer(text)]
    for m in _PHONE.finditer(text):
        if any(s <= m.start() < e for s, e in iban_like):
            continue
        raw = m.group().strip(" .-")
        if not raw:
            continue
        start = m.start() + m.group().index(raw)
        end = start + len(raw)
        main = re.split(r"\s?(?:x|ext\.?)\s?(?=\d)", raw, maxsplit=1, flags=re.IGNORECASE)[0]
        n_digits = sum(ch.isdigit() for ch in main)
        if n_digits < 7 or n_digits > 15 or _DATE_LIKE.match(main):
            continue
        if _is_strong_phone(main, n_digits) or _has_phone_context(text, start, end):
            yield _Candidate("PHONE_NUMBER", start, end, 4)


def _is_strong_phone(main: str, n_digits: int) -> bool:
    """A format that is a phone number on its own, without a phone word nearby."""
    if main.startswith("+") and n_digits >= 9:
        return True
    if _NANP.match(main) and (n_digits > 10 or not main.isdigit() or main[0] != "1"):
        return True
    if re.match(r"^\(\d{2,4}\)", main) and n_digits >= 9:
        return True
    # Eleven or more digits in three or more groups (e.g. 0341 838 7176, 21 253 109 8211).
    return n_digits >= 10 and len(re.findall(r"\d+", main)) >= 3


def _has_phone_context(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    if not text[line_start:start].strip():
        # A number alone at the start of its line takes its label from the line above ("Phone:\n0298 4949").
        line_start = text.rfind("\n", 0, max(line_start - 1, 0)) + 1
    before = text[max(line_start, start - 48) : start]
    after_end = text.find("\n", end)
    after = text[end : min(end + 16, after_end if after_end != -1 else len(text))]
    return bool(_PHONE_CONTEXT.search(before) or _PHONE_CONTEXT.search(after))


def _addresses(text: str) -> Iterator[_Candidate]:
    for start, end in find_addresses(text):
        yield _Candidate("STREET_ADDRESS", start, end, 3)


_RECOGNIZERS: tuple[Callable[[str], Iterable[_Candidate]], ...] = (
    _emails,
    _urls,
    _ibans,
    _cards,
    _ssns,
    _ninos,
    _ips,
    _driver_licenses,
    _zips,
    _addresses,
    _phones,
)


# ---------------------------------------------------------------------------------------------- public API


class PIIDetector:
    """Finds personal data in a text.

    Args:
        entities: The entity names to report (default: all of :data:`PII_ENTITIES`). Unknown names are ignored
            by detection; :class:`~grounddesk.agent.guard.GuardSettings` rejects them at configuration time.

    Example:
        >>> PIIDetector(["EMAIL_ADDRESS"]).detect("write to ann@example.org")
        [PIISpan(entity='EMAIL_ADDRESS', start=9, end=24, score=1.0)]
    """

    def __init__(self, entities: Iterable[str] | None = None) -> None:
        self.entities = frozenset(PII_ENTITIES if entities is None else entities)

    def detect(self, text: str) -> list[PIISpan]:
        """Non-overlapping PII spans of the enabled entities, sorted by start offset."""
        candidates = [c for recognize in _RECOGNIZERS for c in recognize(text) if c.end > c.start]
        candidates.sort(key=lambda c: (c.rank, -(c.end - c.start), c.start))
        taken: list[_Candidate] = []
        for cand in candidates:
            if all(cand.end <= t.start or cand.start >= t.end for t in taken):
                taken.append(cand)
        return [
            PIISpan(entity=c.entity, start=c.start, end=c.end)
            for c in sorted(taken, key=lambda c: c.start)
            if c.entity in self.entities
        ]


@lru_cache(maxsize=1)
def _default_detector() -> PIIDetector:
    return PIIDetector()


def detect(text: str, entities: Iterable[str] | None = None) -> list[PIISpan]:
    """Non-overlapping PII spans in ``text``, sorted; ``entities`` limits which kinds are reported.

    Args:
        text: Any text.
        entities: Entity names to report; None reports every entity in :data:`PII_ENTITIES`.

    Returns:
        The spans, as character offsets into ``text``.
    """
    detector = _default_detector() if entities is None else PIIDetector(entities)
    return detector.detect(text)


def mask(text: str, spans: Iterable[PIISpan]) -> str:
    """Replace each span by ``<ENTITY_NAME>``; the text between spans is kept as it is.

    Overlapping spans are merged into the first one's placeholder, so no character of a detected span survives.

    Args:
        text: The original text the spans point into.
        spans: Spans from :func:`detect` (any order).

    Returns:
        The masked text.
    """
    out: list[str] = []
    pos = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        start, end = max(span.start, 0), min(span.end, len(text))
        if end <= pos or start >= end:
            continue
        if start >= pos:
            out.append(text[pos:start])
            out.append(f"<{span.entity}>")
        pos = end
    out.append(text[pos:])
    return "".join(out)
