r"""The subset of SOQL the Salesforce emulator understands: parse a query, then filter and sort records with it.

Grammar (keywords case-insensitive, like Salesforce)::

    SELECT field {, field} FROM object
        [WHERE condition]
        [ORDER BY field [ASC | DESC] [NULLS FIRST | NULLS LAST] {, ...}]
        [LIMIT n] [OFFSET n]
    condition  := unary {AND unary} | unary {OR unary}      -- mixing AND and OR needs parentheses, as in SOQL
    unary      := NOT unary | '(' condition ')' | field op literal | field [NOT] IN '(' literal {, literal} ')'
                | field [NOT] LIKE 'pattern'
    op         := = | != | <> | < | <= | > | >=
    literal    := 'string' | number | true | false | null | 2026-11-20 | 2026-11-20T12:00:00Z

A field is a name or a dotted relationship path (``Account.Tier__c``). String literals honour SOQL's backslash
escapes (``\'``, ``\\``, ``\n``, ... and ``\%`` / ``\_`` for a literal ``%`` / ``_`` in a LIKE pattern); any
other backslash sequence is a ``MALFORMED_QUERY``, as in Salesforce. Text comparisons are case-insensitive, as in
Salesforce; ``field != value`` also matches records where the field is null.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = [
    "And",
    "Comparison",
    "Condition",
    "In",
    "Like",
    "Not",
    "Or",
    "OrderItem",
    "SoqlError",
    "SoqlQuery",
    "matches",
    "parse_soql",
    "parse_sf_datetime",
    "sort_records",
]

Resolver = Callable[[str], Any]


class SoqlError(Exception):
    """A query Salesforce would reject; ``error_code`` is Salesforce's (``MALFORMED_QUERY``, ``INVALID_FIELD``)."""

    def __init__(self, message: str, error_code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


@dataclass(frozen=True)
class StringLiteral:
    """A quoted string: its value, and the regular expression it means as a LIKE pattern."""

    value: str
    like_regex: str


@dataclass(frozen=True)
class Comparison:
    """``field op value``."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class In:
    """``field [NOT] IN (values)``."""

    field: str
    values: tuple[Any, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    """``field [NOT] LIKE 'pattern'``."""

    field: str
    pattern: StringLiteral
    negated: bool = False


@dataclass(frozen=True)
class Not:
    """``NOT condition``."""

    operand: Condition


@dataclass(frozen=True)
class And:
    """All of the operands."""

    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """Any of the operands."""

    operands: tuple[Condition, ...]


Condition = Comparison | In | Like | Not | And | Or


@dataclass(frozen=True)
class OrderItem:
    """One ``ORDER BY`` key."""

    field: str
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class SoqlQuery:
    """A parsed query."""

    fields: tuple[str, ...]
    sobject: str
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None

    def referenced_fields(self) -> list[str]:
        """Every field the query names (selected, filtered or sorted on)."""
        names = list(self.fields) + [item.field for item in self.order_by]
        if self.where is not None:
            names.extend(_condition_fields(self.where))
        return names


# --- tokens ------------------------------------------------------------------------------------------------

_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(
    "SELECT FROM WHERE AND OR NOT IN LIKE ORDER BY ASC DESC NULLS FIRST LAST LIMIT OFFSET TRUE FALSE NULL".split()
)


@dataclass(frozen=True)
class _Token:
    kind: str  # keyword, name, op, punct, literal
    text: str
    value: Any = None


def _read_string(text: str, start: int) -> tuple[StringLiteral, int]:
    """Decode the string literal opening at ``text[start]`` (a quote); return it and the index after it."""
    value: list[str] = []
    regex: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "'":
            return StringLiteral("".join(value), "".join(regex)), i + 1
        if char == "\\":
            if i + 1 >= len(text):
                break
            escaped = text[i + 1]
            if escaped in "%_":
                value.append(escaped)
                regex.append(re.escape(escaped))
            elif escaped in _ESCAPES:
                value.append(_ESCAPES[escaped])
                regex.append(re.escape(_ESCAPES[escaped]))
            else:
                raise SoqlError(f"Invalid string literal: illegal escape sequence '\\{escaped}'")
            i += 2
            continue
        value.append(char)
        regex.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    raise SoqlError("Invalid string literal: the quote is never closed")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        if text[i] == "'":
            literal, i = _read_string(text, i)
            tokens.append(_Token("literal", "'", literal))
            continue
        match = _TOKEN.match(text, i)
        if match is None:
            raise SoqlError(f"unexpected character {text[i]!r} at position {i}")
        i = match.end()
        kind, token_text = match.lastgroup or "", match.group()
        if kind == "ws":
            continue
        if kind == "datetime":
            tokens.append(_Token("literal", token_text, parse_sf_datetime(token_text)))
        elif kind == "date":
            tokens.append(_Token("literal", token_text, date.fromisoformat(token_text)))
        elif kind == "number":
            tokens.append(_Token("literal", token_text, float(token_text) if "." in token_text else int(token_text)))
        elif kind == "name" and token_text.upper() in _KEYWORDS:
            upper = token_text.upper()
            constants = {"TRUE": True, "FALSE": False, "NULL": None}
            if upper in constants:
                tokens.append(_Token("literal", upper, constants[upper]))
            else:
                tokens.append(_Token("keyword", upper))
        else:
            tokens.append(_Token(kind, token_text))
    return tokens


def parse_sf_datetime(text: str) -> datetime:
    """Parse a Salesforce datetime (``2026-11-20T12:00:00.000+0000`` or ``...Z``) into an aware datetime."""
    cleaned = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", cleaned):
        cleaned = f"{cleaned[:-2]}:{cleaned[-2:]}"
    return datetime.fromisoformat(cleaned)


# --- parser ------------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise SoqlError("unexpected end of query")
        self.pos += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        return token is not None and token.kind == kind and (text is None or token.text == text)

    def accept(self, kind: str, text: str | None = None) -> bool:
        if self.at(kind, text):
            self.pos += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.next()
        if token.kind != kind or (text is not None and token.text != text):
            raise SoqlError(f"unexpected token: '{token.text}' (expected {text or kind})")
        return token

    def field(self) -> str:
        return self.expect("name").text

    def query(self) -> SoqlQuery:
        self.expect("keyword", "SELECT")
        fields = [self.field()]
        while self.accept("punct", ","):
            fields.append(self.field())
        self.expect("keyword", "FROM")
        sobject = self.expect("name").text
        where = self.condition() if self.accept("keyword", "WHERE") else None
        order_by: list[OrderItem] = []
        if self.accept("keyword", "ORDER"):
            self.expect("keyword", "BY")
            order_by.append(self.order_item())
            while self.accept("punct", ","):
                order_by.append(self.order_item())
        limit = self.integer() if self.accept("keyword", "LIMIT") else None
        offset = self.integer() if self.accept("keyword", "OFFSET") else None
        if self.peek() is not None:
            raise SoqlError(f"unexpected token: '{self.next().text}'")
        return SoqlQuery(tuple(fields), sobject, where, tuple(order_by), limit, offset)

    def integer(self) -> int:
        token = self.expect("literal")
        if not isinstance(token.value, int) or isinstance(token.value, bool) or token.value < 0:
            raise SoqlError(f"expected a non-negative integer, not '{token.text}'")
        return token.value

    def order_item(self) -> OrderItem:
        name = self.field()
        descending = self.accept("keyword", "DESC")
        if not descending:
            self.accept("keyword", "ASC")
        nulls_last = descending
        if self.accept("keyword", "NULLS"):
            nulls_last = self.accept("keyword", "LAST")
            if not nulls_last:
                self.expect("keyword", "FIRST")
        return OrderItem(name, descending, nulls_last)

    def condition(self) -> Condition:
        operands = [self.unary()]
        connective: str | None = None
        while self.at("keyword", "AND") or self.at("keyword", "OR"):
            word = self.next().text
            if connective is not None and word != connective:
                raise SoqlError("unexpected token: '" + word + "' (use parentheses when mixing AND and OR)")
            connective = word
            operands.append(self.unary())
        if connective is None:
            return operands[0]
        return And(tuple(operands)) if connective == "AND" else Or(tuple(operands))

    def unary(self) -> Condition:
        if self.accept("keyword", "NOT"):
            return Not(self.unary())
        if self.accept("punct", "("):
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Condition:
        name = self.field()
        negated = self.accept("keyword", "NOT")
        if self.accept("keyword", "IN"):
            self.expect("punct", "(")
            values = [self.literal()]
            while self.accept("punct", ","):
                values.append(self.literal())
            self.expect("punct", ")")
            return In(name, tuple(values), negated)
        if self.accept("keyword", "LIKE"):
            pattern = self.expect("literal").value
            if not isinstance(pattern, StringLiteral):
                raise SoqlError("LIKE needs a quoted string pattern")
            return Like(name, pattern, negated)
        if negated:
            raise SoqlError("unexpected token: 'NOT' (expected IN or LIKE)")
        op = self.expect("op").text
        value = self.literal()
        if value is None and op not in ("=", "!=", "<>"):
            raise SoqlError(f"null can only be compared with = or !=, not {op}")
        return Comparison(name, "!=" if op == "<>" else op, value)

    def literal(self) -> Any:
        token = self.expect("literal")
        return token.value.value if isinstance(token.value, StringLiteral) else token.value


def parse_soql(text: str) -> SoqlQuery:
    """Parse a query of the supported subset.

    Args:
        text: The SOQL text, as received in ``?q=``.

    Returns:
        The parsed query.

    Raises:
        SoqlError: The query is malformed (``MALFORMED_QUERY``).
    """
    return _Parser(text).query()


# --- evaluation --------------------------------------------------------------------------------------------


def _condition_fields(condition: Condition) -> list[str]:
    if isinstance(condition, And | Or):
        return [name for operand in condition.operands for name in _condition_fields(operand)]
    if isinstance(condition, Not):
        return _condition_fields(condition.operand)
    return [condition.field]


def _comparable(value: Any, literal: Any) -> tuple[Any, Any]:
    """Bring a stored value and a literal to comparable Python values (text case-folded, datetimes parsed)."""
    if isinstance(literal, datetime) and isinstance(value, str):
        return parse_sf_datetime(value), literal
    if isinstance(literal, date) and not isinstance(literal, datetime) and isinstance(value, str):
        return date.fromisoformat(value[:10]), literal
    if isinstance(literal, str) and isinstance(value, str):
        return value.casefold(), literal.casefold()
    if isinstance(literal, bool) != isinstance(value, bool):
        raise SoqlError(f"value of incorrect type: {literal!r}", "INVALID_FIELD")
    return value, literal


def _compare(value: Any, op: str, literal: Any) -> bool:
    if literal is None:
        return (value is None) == (op == "=")
    if value is None:
        return op == "!="
    left, right = _comparable(value, literal)
    try:
        return bool(
            {
                "=": left == right,
                "!=": left != right,
                "<": left < right,
                "<=": left <= right,
                ">": left > right,
                ">=": left >= right,
            }[op]
        )
    except TypeError as exc:
        raise SoqlError(f"value of incorrect type: {literal!r}", "INVALID_FIELD") from exc


def matches(condition: Condition | None, resolve: Resolver) -> bool:
    """Whether a record satisfies ``condition``.

    Args:
        condition: The WHERE clause (None matches everything).
        resolve: Returns the record's value of a field path (None when null).

    Returns:
        True when the record matches.
    """
    if condition is None:
        return True
    if isinstance(condition, And):
        return all(matches(operand, resolve) for operand in condition.operands)
    if isinstance(condition, Or):
        return any(matches(operand, resolve) for operand in condition.operands)
    if isinstance(condition, Not):
        return not matches(condition.operand, resolve)
    value = resolve(condition.field)
    if isinstance(condition, In):
        found = any(_compare(value, "=", literal) for literal in condition.values)
        return found != condition.negated
    if isinstance(condition, Like):
        if value is None:
            return False
        hit = re.fullmatch(condition.pattern.like_regex, str(value), re.IGNORECASE | re.DOTALL) is not None
        return hit != condition.negated
    return _compare(value, condition.op, condition.value)


def sort_records(
    records: Sequence[Any], order_by: Sequence[OrderItem], resolvers: Callable[[Any], Resolver]
) -> list[Any]:
    """Sort records by the ORDER BY keys (stable; text case-insensitive; nulls first unless told otherwise).

    Args:
        records: The records to sort.
        order_by: The keys, most significant first.
        resolvers: Gives the resolver of a record.

    Returns:
        The sorted records.
    """
    ordered = list(records)
    for item in reversed(order_by):
        present = [r for r in ordered if resolvers(r)(item.field) is not None]
        missing = [r for r in ordered if resolvers(r)(item.field) is None]

        def key(record: Any, name: str = item.field) -> Any:
            value = resolvers(record)(name)
            return value.casefold() if isinstance(value, str) else value

        present.sort(key=key, reverse=item.descending)
        ordered = present + missing if item.nulls_last else missing + present
    return ordered
