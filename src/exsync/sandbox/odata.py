"""The OData query options the sandbox honours: $filter, $select, $expand and $orderby, as Graph v1.0 on
Exchange Online reads them.

Pure functions over plain JSON dicts. $filter is tokenised and parsed by recursive descent into closures (no
eval); evaluation follows Exchange rather than the letter of OData where the two differ: property names,
keywords and string comparisons are case-insensitive, and date-times compare as instants whatever their
textual form ("…Z", "….0000000", a bare date)."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "Expand",
    "ODataError",
    "Predicate",
    "filter_properties",
    "parse_expand",
    "parse_filter",
    "parse_orderby",
    "parse_select",
    "property_value",
    "sort_key",
    "sort_resources",
]

Predicate = Callable[[Mapping[str, Any]], bool]


class ODataError(ValueError):
    """A query option Graph would reject with 400; str(exc) is the message for the error body."""

    def __init__(self, message: str, code: str = "BadRequest") -> None:
        super().__init__(message)
        self.code = code


# -- property navigation ---------------------------------------------------------------------------------


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    if name in mapping:
        return mapping[name]
    # Exchange resolves property names case-insensitively (DisplayName, ep/Id, ep/Value all work).
    folded = name.casefold()
    for key, value in mapping.items():
        if key.casefold() == folded:
            return value
    return None


def _navigate(value: Any, segments: Sequence[str]) -> Any:
    for segment in segments:
        if segment.casefold() == "$count":
            value = len(value) if isinstance(value, list) else None
        elif "." in segment:
            continue  # a type cast such as microsoft.graph.eventMessage: the dict already is what it is
        elif isinstance(value, Mapping):
            value = _get(value, segment)
        else:
            return None
    return value


def property_value(resource: Mapping[str, Any], path: str) -> Any:
    """The value at a "/"-separated property path ("start/dateTime"); None where any step is missing."""
    return _navigate(resource, path.split("/"))


# -- values and comparison --------------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:\d{2})?)?"
)


def _parse_instant(text: str) -> datetime | None:
    """An ISO date or date-time as an aware instant; naive values are UTC, as Graph stores them."""
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    # Exchange writes seven fractional digits; Python keeps six.
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro
        )
        if zone is None or zone in "Zz":
            return moment.replace(tzinfo=UTC)
        return datetime.fromisoformat(moment.isoformat() + zone).astimezone(UTC)
    except ValueError:
        return None


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        return _parse_instant(value)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    """The pair normalised so that Python's operators give Exchange's answer; None when they cannot meet."""
    if isinstance(left, bool) or isinstance(right, bool):
        return (left, right) if isinstance(left, bool) and isinstance(right, bool) else None
    if _is_number(left) and _is_number(right):
        return left, right
    if isinstance(left, date) or isinstance(right, date):  # a date or date-time literal (datetime is a date)
        a, b = _instant(left), _instant(right)
        return None if a is None or b is None else (a, b)
    if isinstance(left, str) and isinstance(right, str):
        # Two date-time texts in different forms ("…Z" vs "….0000000") still denote the same instant.
        if "T" in left.upper() or "T" in right.upper():
            a, b = _parse_instant(left), _parse_instant(right)
            if a is not None and b is not None:
                return a, b
        return left.casefold(), right.casefold()
    return None


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        both = left is None and right is None
        return both if op == "eq" else (not both if op == "ne" else False)
    pair = _comparable(left, right)
    if pair is None:
        return op == "ne"
    return _OPERATORS[op](*pair)


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "startswith": lambda text, part: text.startswith(part),
    "endswith": lambda text, part: text.endswith(part),
    "contains": lambda text, part: part in text,
}


def _string_function(name: str) -> Callable[[Any, Any], bool]:
    test = _STRING_TESTS[name]

    def run(text: Any, part: Any) -> bool:
        if not isinstance(text, str) or not isinstance(part, str):
            return False
        return test(text.casefold(), part.casefold())

    return run


def _cast(value: Any, type_name: str) -> Any:
    """OData cast(): how extended property values (always strings on the wire) are compared as numbers."""
    if value is None:
        return None
    kind = type_name.casefold().removeprefix("edm.")
    try:
        if kind in ("int16", "int32", "int64", "byte", "sbyte"):
            return int(value)
        if kind in ("double", "single", "decimal"):
            return float(value)
    except (TypeError, ValueError):
        return None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).casefold()
        return True if text == "true" else False if text == "false" else None
    if kind == "datetimeoffset":
        return _instant(value)
    if kind in ("string", "guid"):
        return value if isinstance(value, str) else json.dumps(value)
    raise ValueError(type_name)


# -- tokens -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # name, string, number, datetime, date, guid, punctuation itself, or "end"
    text: str
    value: Any
    start: int
    end: int


_TOKEN = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*')
    | (?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?![\w-])
    | (?P<datetime>\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)(?![\w:.])
    | (?P<date>\d{4}-\d{2}-\d{2})(?![\w:.-])
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])
    | (?P<name>\$?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
    | (?P<punct>[()/,:])
    """,
    re.VERBOSE,
)


def _syntax_error(text: str, position: int, detail: str) -> ODataError:
    # Graph's wording ("Invalid filter clause: Syntax error at position 17 in '…'.") plus what went wrong.
    return ODataError(f"Invalid filter clause: Syntax error at position {position} in '{text}': {detail}.")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            tokens.append(_Token("end", "", None, pos, pos))
            return tokens
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos] == "'":
                raise _syntax_error(text, pos, "unterminated string literal")
            raise ODataError(
                f"Invalid filter clause: Syntax error: character '{text[pos]}' is not valid "
                f"at position {pos} in '{text}'."
            )
        kind = m.lastgroup or ""
        raw = m.group()
        value: Any = None
        if kind == "string":
            value = raw[1:-1].replace("''", "'")
        elif kind == "number":
            value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        elif kind in ("datetime", "date"):
            instant = _parse_instant(raw)
            if instant is None:
                raise _syntax_error(text, m.end(), f"'{raw}' is not a valid date or date-time")
            value = instant if kind == "datetime" else instant.date()
        elif kind == "guid":
            value = raw
        elif kind == "punct":
            kind = raw
        tokens.append(_Token(kind, raw, value, pos, m.end()))
        pos = m.end()


# -- parser --------------------------------------------------------------------------------------------

_Env = Mapping[str, Any]  # "$it" is the resource; lambda range variables are keyed by their folded names
_Run = Callable[[_Env], Any]

_COMPARISONS = frozenset(_OPERATORS)
_KEYWORDS = _COMPARISONS | {"and", "or", "not", "in", "has"}
_STRING_FUNCTIONS = frozenset(_STRING_TESTS)


@dataclass(frozen=True)
class _Node:
    run: _Run
    # "bool" (a condition), "value" (a property or cast: type unknown until evaluated),
    # or the literal's kind: "string", "number", "datetime", "date", "guid", "null".
    kind: str


class _Parser:
    def __init__(self, text: str, exchange_strict: bool) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.scope: list[str] = []  # range variables of the enclosing lambdas, folded
        self.paths: list[str] = []  # properties of the resource the filter names, in order of appearance
        self.exchange_strict = exchange_strict

    # token helpers

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text.casefold() in words

    def error(self, token: _Token, detail: str | None = None) -> ODataError:
        if detail is None:
            detail = "unexpected end of expression" if token.kind == "end" else f"unexpected '{token.text}'"
        return _syntax_error(self.text, token.end, detail)

    def expect(self, kind: str, what: str) -> _Token:
        token = self.advance()
        if token.kind != kind:
            found = "the end of the expression" if token.kind == "end" else f"'{token.text}'"
            raise self.error(token, f"expected {what} but found {found}")
        return token

    def need_condition(self, node: _Node, token: _Token, role: str) -> None:
        if node.kind not in ("bool", "value"):
            raise self.error(token, f"{role} must be a boolean expression, not a {node.kind} literal")

    # grammar: or > and > comparison > not > primary, loosest first

    def parse(self) -> Predicate:
        first = self.peek()
        if first.kind == "end":
            raise self.error(first, "the expression is empty")
        node = self.parse_or()
        end = self.peek()
        if end.kind != "end":
            raise self.error(end)
        self.need_condition(node, first, "the $filter expression")
        run = node.run

        def predicate(resource: Mapping[str, Any]) -> bool:
            return run({"$it": resource}) is True

        return predicate

    def parse_or(self) -> _Node:
        return self.parse_logical("or", self.parse_and, any)

    def parse_and(self) -> _Node:
        return self.parse_logical("and", self.parse_comparison, all)

    def parse_logical(
        self, word: str, operand: Callable[[], _Node], combine: Callable[[Iterable[bool]], bool]
    ) -> _Node:
        start = self.peek()
        node = operand()
        if not self.at_keyword(word):
            return node
        self.need_condition(node, start, f"the operand of '{word}'")
        runs = [node.run]
        while self.at_keyword(word):
            self.advance()
            start = self.peek()
            node = operand()
            self.need_condition(node, start, f"the operand of '{word}'")
            runs.append(node.run)

        def run(env: _Env) -> bool:
            return combine(r(env) is True for r in runs)  # short-circuits like Exchange's and/or

        return _Node(run, "bool")

    def parse_comparison(self) -> _Node:
        left = self.parse_unary()
        while True:
            token = self.peek()
            word = token.text.casefold() if token.kind == "name" else ""
            if word in _COMPARISONS:
                self.advance()
                right = self.parse_unary()
                left = self.comparison(word, left, right, token)
            elif word == "in":
                self.advance()
                left = self.membership(left)
            else:
                return left

    def comparison(self, op: str, left: _Node, right: _Node, token: _Token) -> _Node:
        literal = {"string", "number", "datetime", "date", "guid"}
        if (left.kind == "bool" and right.kind in literal) or (right.kind == "bool" and left.kind in literal):
            kinds = " and ".join(sorted({left.kind, right.kind}))
            # Typically "not a eq b", which binds as "(not a) eq b": not(a eq b) was meant.
            raise self.error(token, f"'{token.text}' cannot compare operands of kinds {kinds}")
        lrun, rrun = left.run, right.run

        def run(env: _Env) -> bool:
            return _compare(op, lrun(env), rrun(env))

        return _Node(run, "bool")

    def membership(self, left: _Node) -> _Node:
        self.expect("(", "'(' to open the list after 'in'")
        runs = [self.parse_unary().run]
        while self.peek().kind == ",":
            self.advance()
            runs.append(self.parse_unary().run)
        self.expect(")", "')' to close the list after 'in'")
        lrun = left.run

        def run(env: _Env) -> bool:
            value = lrun(env)
            return any(_compare("eq", value, r(env)) for r in runs)

        return _Node(run, "bool")

    def parse_unary(self) -> _Node:
        if self.at_keyword("not"):
            self.advance()
            start = self.peek()
            operand = self.parse_unary()
            self.need_condition(operand, start, "the operand of 'not'")
            inner = operand.run

            def run(env: _Env) -> bool:
                return inner(env) is not True

            return _Node(run, "bool")
        return self.parse_primary()

    def parse_primary(self) -> _Node:
        token = self.advance()
        if token.kind == "(":
            node = self.parse_or()
            self.expect(")", "')'")
            return node
        literal_kinds = {"string": "string", "number": "number", "datetime": "datetime", "date": "date"}
        if token.kind in literal_kinds or token.kind == "guid":
            return self.constant(token.value, literal_kinds.get(token.kind, "guid"))
        if token.kind != "name":
            raise self.error(token)
        word = token.text.casefold()
        if word in ("true", "false"):
            return self.constant(word == "true", "bool")
        if word == "null":
            return self.constant(None, "null")
        if word in _KEYWORDS:
            raise self.error(token)
        if self.peek().kind == "(" and token.text[0] != "$":
            return self.function(token)
        return self.path(token)

    @staticmethod
    def constant(value: Any, kind: str) -> _Node:
        def run(env: _Env) -> Any:
            return value

        return _Node(run, kind)

    def function(self, name: _Token) -> _Node:
        word = name.text.casefold()
        if word == "cast":
            return self.cast()
        if word not in _STRING_FUNCTIONS:
            raise self.error(name, f"unknown function '{name.text}'")
        if word == "endswith" and self.exchange_strict:
            raise _exchange_rejects()
        self.advance()  # "("
        text = self.parse_or().run
        self.expect(",", f"',' between the arguments of {name.text}")
        part = self.parse_or().run
        self.expect(")", f"')' to close {name.text}")
        test = _string_function(word)

        def run(env: _Env) -> bool:
            return test(text(env), part(env))

        return _Node(run, "bool")

    def cast(self) -> _Node:
        self.advance()  # "("
        inner = self.parse_or().run
        self.expect(",", "',' and a type name in cast")
        type_token = self.expect("name", "a type name such as Edm.Int32")
        try:
            _cast("0", type_token.text)
        except ValueError:
            raise self.error(type_token, f"cast to '{type_token.text}' is not supported") from None
        self.expect(")", "')' to close cast")
        type_name = type_token.text

        def run(env: _Env) -> Any:
            return _cast(inner(env), type_name)

        return _Node(run, "value")

    def path(self, first: _Token) -> _Node:
        segments = [first.text]
        while self.peek().kind == "/":
            self.advance()
            token = self.expect("name", "a property name after '/'")
            word = token.text.casefold()
            if word in _KEYWORDS:
                raise self.error(token, f"expected a property name after '/' but found '{token.text}'")
            if word in ("any", "all") and self.peek().kind == "(":
                return self.lambda_(segments, word, token)
            segments.append(token.text)
        return _Node(self.resolver(segments), "value")

    def resolver(self, segments: list[str]) -> _Run:
        head = segments[0].casefold()
        if head in self.scope:
            rest = segments[1:]

            def from_variable(env: _Env) -> Any:
                return _navigate(env[head], rest)

            return from_variable
        if head == "$it":
            segments = segments[1:]
        if segments:
            self.paths.append("/".join(segments))

        def from_resource(env: _Env) -> Any:
            return _navigate(env["$it"], segments)

        return from_resource

    def lambda_(self, segments: list[str], word: str, token: _Token) -> _Node:
        if word == "all" and self.exchange_strict:
            raise _exchange_rejects()
        collection = self.resolver(segments)
        self.advance()  # "("
        if self.peek().kind == ")":  # any() with no body: is the collection non-empty?
            self.advance()
            if word == "all":
                raise self.error(token, "all() needs a range variable and a condition")

            def nonempty(env: _Env) -> bool:
                items = collection(env)
                return isinstance(items, list) and len(items) > 0

            return _Node(nonempty, "bool")
        variable = self.expect("name", f"a range variable in {token.text}(…)").text.casefold()
        if variable in _KEYWORDS or variable == "$it":
            raise self.error(self.tokens[self.index - 1], f"'{variable}' cannot name a range variable")
        self.expect(":", f"':' after the range variable of {token.text}")
        self.scope.append(variable)
        start = self.peek()
        body = self.parse_or()
        self.scope.pop()
        self.need_condition(body, start, f"the body of {token.text}")
        self.expect(")", f"')' to close {token.text}(…)")
        test = body.run
        combine = any if word == "any" else all

        def run(env: _Env) -> bool:
            items = collection(env)
            if not isinstance(items, list):
                items = []  # a missing or null collection has no members
            return combine(test({**env, variable: item}) is True for item in items)

        return _Node(run, "bool")


def _exchange_rejects() -> ODataError:
    # What Exchange Online answers for a well-formed filter it cannot run (e.g. endswith on messages).
    return ODataError("The query filter contains one or more invalid nodes.", "ErrorInvalidUrlQueryFilter")


def parse_filter(text: str, *, exchange_strict: bool = False) -> Predicate:
    """Compile a $filter expression into a predicate over resources.

    With exchange_strict, constructs Exchange Online refuses on Outlook resources although they are valid
    OData (endswith, the all lambda) raise ODataError with code ErrorInvalidUrlQueryFilter."""
    return _Parser(text, exchange_strict).parse()


def filter_properties(text: str) -> list[str]:
    """The resource property paths a $filter names, in order of first appearance (lambda bodies excluded):
    what Exchange checks $orderby against before it answers InefficientFilter."""
    parser = _Parser(text, exchange_strict=False)
    parser.parse()
    seen: dict[str, str] = {}
    for path in parser.paths:
        seen.setdefault(path.casefold(), path)  # names are case-insensitive: the first spelling stands
    return list(seen.values())


# -- $select, $expand, $orderby ---------------------------------------------------------------------------

_PATH = r"[A-Za-z_]\w*(?:\.\w+)*(?:/[A-Za-z_$]\w*(?:\.\w+)*)*"
_SELECT_ITEM = re.compile(rf"\*|{_PATH}")
_ORDERBY_ITEM = re.compile(rf"({_PATH})(?:\s+(asc|desc))?", re.IGNORECASE)


def _split_top(text: str, separator: str, option: str) -> list[str]:
    """Split on separator outside parentheses and quoted strings (a nested $filter may hold either)."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted  # '' inside a string toggles twice: still inside
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ODataError(f"Invalid {option} clause: unbalanced ')' at position {i} in '{text}'.")
        elif char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if quoted:
        raise ODataError(f"Invalid {option} clause: unterminated string literal in '{text}'.")
    if depth:
        raise ODataError(f"Invalid {option} clause: unbalanced '(' in '{text}'.")
    parts.append(text[start:])
    return parts


def parse_select(text: str | None) -> list[str] | None:
    """ "subject,start, end" -> ["subject", "start", "end"]; None or blank -> None (all properties)."""
    if text is None or not text.strip():
        return None
    items = [item.strip() for item in text.split(",")]
    for item in items:
        if not _SELECT_ITEM.fullmatch(item):
            shown = f"'{item}'" if item else "an empty item"
            raise ODataError(f"Invalid $select clause: {shown} is not a property name in '{text}'.")
    return items


@dataclass(frozen=True)
class Expand:
    name: str  # as written; match it case-insensitively ("SingleValueExtendedProperties" is common)
    filter: Predicate | None  # applies to each member of the expanded collection
    select: list[str] | None


def parse_expand(text: str | None) -> list[Expand]:
    """ "singleValueExtendedProperties($filter=id eq '…'),multiValueExtendedProperties" -> [Expand, …]."""
    if text is None or not text.strip():
        return []
    result: list[Expand] = []
    for raw in _split_top(text, ",", "$expand"):
        item = raw.strip()
        paren = item.find("(")
        name = (item if paren < 0 else item[:paren]).strip()
        if not re.fullmatch(_PATH, name):
            shown = f"'{item}'" if item else "an empty item"
            raise ODataError(f"Invalid $expand clause: {shown} is not a navigation property in '{text}'.")
        filter_: Predicate | None = None
        select: list[str] | None = None
        if paren >= 0:
            if not item.endswith(")"):
                raise ODataError(f"Invalid $expand clause: text after ')' in '{item}'.")
            inner = item[paren + 1 : -1]
            _check_balanced(inner, item)
            seen: set[str] = set()
            for option in _split_top(inner, ";", "$expand"):
                if not option.strip():
                    continue
                key, equals, value = option.partition("=")
                word = key.strip().casefold().removeprefix("$")
                if not equals or word in seen:
                    raise ODataError(
                        f"Invalid $expand clause: malformed option '{option.strip()}' in '{item}'."
                    )
                seen.add(word)
                if word == "filter":
                    filter_ = parse_filter(value)
                elif word == "select":
                    select = parse_select(value)
                else:
                    raise ODataError(
                        f"Invalid $expand clause: the nested option '{key.strip()}' is not supported "
                        f"in '{item}'."
                    )
        result.append(Expand(name, filter_, select))
    return result


def _check_balanced(inner: str, item: str) -> None:
    # "a(x)(y)" splits as one item but is not name(options): the first "(" must close at the very end.
    depth = 0
    quoted = False
    for char in inner:
        if char == "'":
            quoted = not quoted
        elif not quoted:
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth < 0:
                raise ODataError(f"Invalid $expand clause: text after ')' in '{item}'.")


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    """ "from/emailAddress/name desc,subject" -> [("from/emailAddress/name", True), ("subject", False)]."""
    if text is None or not text.strip():
        return []
    result: list[tuple[str, bool]] = []
    for raw in text.split(","):
        m = _ORDERBY_ITEM.fullmatch(raw.strip())
        if m is None:
            shown = f"'{raw.strip()}'" if raw.strip() else "an empty item"
            raise ODataError(f"Invalid $orderby clause: {shown} is not 'property [asc|desc]' in '{text}'.")
        result.append((m.group(1), (m.group(2) or "asc").casefold() == "desc"))
    return result


def _sort_rank(value: Any) -> tuple[int, Any]:
    # Ranks keep unlike types apart (Python cannot order str against None); null ranks lowest, as in OData.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if _is_number(value):
        return (2, value)
    if isinstance(value, date):
        return (3, _instant(value))
    if isinstance(value, str):
        instant = _parse_instant(value)
        return (3, instant) if instant is not None else (4, value.casefold())
    return (5, json.dumps(value, sort_keys=True, default=str))


def sort_key(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """A key for sorted() ordering resources by a property path ascending, None first: strings ignore case,
    date-times compare as instants."""

    def key(resource: Mapping[str, Any]) -> tuple[int, Any]:
        return _sort_rank(property_value(resource, path))

    return key


def sort_resources(
    resources: Iterable[Mapping[str, Any]], orderby: Sequence[tuple[str, bool]]
) -> list[Mapping[str, Any]]:
    """Resources ordered by a parsed $orderby: stable sorts from the last key to the first, so mixed
    directions work and ties keep their input order."""
    ordered = list(resources)
    for path, descending in reversed(orderby):
        ordered.sort(key=sort_key(path), reverse=descending)
    return ordered
