"""Filters: the small expression language that narrows which business rows a profile syncs.

A filter is text a person types, e.g. ``company.owner == me and company.kind != "supplier"``. It never
reaches SQL as text: it is parsed with :mod:`ast`, checked node by node against a short allow-list,
lowered to a small tree and compiled to SQLAlchemy expressions whose values are all bound parameters.

Semantics are SQL's, three-valued: a comparison with NULL is unknown, so ``kind != "supplier"`` does not
take rows without a kind (write ``... or kind == None`` for those). Two rules make NULL easier to reach:
``x == None`` / ``x != None`` are IS NULL / IS NOT NULL, and ``x == ""`` also takes NULL (business
databases mix NULL and '' freely), likewise ``""`` or ``None`` in an ``in`` list.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import io
import itertools
import operator
import re
import tokenize
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from sqlalchemy import ColumnElement, and_, bindparam, literal, not_, or_

MAX_LENGTH = 2000
MAX_DEPTH = 30
MAX_NODES = 200

# The names a filter may use for the profile's staff member; compiled to these bound parameters.
PARAMETERS = {"me": "staff_id", "my_code": "staff_code"}

Scalar: TypeAlias = str | int | float | bool | None

_EXAMPLE = 'kind == "customer"'
_WRITE = f"write comparisons such as {_EXAMPLE}, joined with and, or, not"
_NEWLINE = re.compile(r"\r\n|\r|\n")
_INT64 = 2**63  # a larger number cannot be bound on every database
_COMPARISONS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in",
}  # fmt: skip
_CLOSING = {"(": ")", "[": "]", "{": "}"}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
# The same functions build SQL from columns and compare Python values in `matches`.
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge,
}  # fmt: skip


class FilterError(ValueError):
    """A filter that cannot be used; the message names the problem, where it is, and the fix."""

    position: int | None  # 0-based offset in the filter's text, when known

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return self.message


# -- the checked tree: shaped like the SQL it becomes, so `compile` and `matches` cannot drift apart --


@dataclass(frozen=True)
class _Field:
    name: str
    position: int


@dataclass(frozen=True)
class _Value:
    value: Scalar


@dataclass(frozen=True)
class _Param:
    name: str  # a value of PARAMETERS


@dataclass(frozen=True)
class _Compare:
    op: str  # a key of _OPERATORS; the right side is never None
    left: _Field
    right: _Field | _Value | _Param


@dataclass(frozen=True)
class _IsNull:
    target: _Field
    negated: bool


@dataclass(frozen=True)
class _In:
    target: _Field
    items: tuple[_Value | _Param, ...]  # never a None value, never empty
    negated: bool


@dataclass(frozen=True)
class _All:
    parts: tuple[_Node, ...]


@dataclass(frozen=True)
class _Any:
    parts: tuple[_Node, ...]


@dataclass(frozen=True)
class _Not:
    part: _Node


_Operand: TypeAlias = _Field | _Value | _Param
_Node: TypeAlias = _Compare | _IsNull | _In | _All | _Any | _Not


@dataclass(frozen=True)
class Filter:
    """A checked filter; building one from text raises ``FilterError`` when the text is not one."""

    text: str
    _tree: _Node = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tree", _Parser(self.text).parse())

    def names(self) -> frozenset[str]:
        """The field names used, dotted as written; not ``me`` / ``my_code``."""
        return frozenset(target.name for target in _fields(self._tree))

    def compile(self, resolve: Callable[[str], ColumnElement[Any]]) -> ColumnElement[bool]:
        """The SQL condition; ``me`` / ``my_code`` stay the bound parameters ``staff_id`` / ``staff_code``.

        ``resolve`` maps a field name to its column; a KeyError or ValueError from it is a FilterError.
        """
        columns: dict[str, ColumnElement[Any]] = {}
        for target in _fields(self._tree):
            if target.name not in columns:
                try:
                    columns[target.name] = resolve(target.name)
                except (KeyError, ValueError) as exc:
                    reason = exc.args[0] if exc.args else type(exc).__name__
                    raise _error(
                        self.text,
                        target.position,
                        f'field "{target.name}"',
                        f"cannot be used here ({reason})",
                        "use a field this part's mapping knows",
                    ) from exc

        def operand(node: _Operand) -> ColumnElement[Any]:
            if isinstance(node, _Field):
                return columns[node.name]
            if isinstance(node, _Param):
                return bindparam(node.name)
            return literal(node.value)  # always a bound parameter, never SQL text

        return _sql(self._tree, operand)

    def matches(
        self, values: Mapping[str, Any], *, staff_id: Any = None, staff_code: str | None = None
    ) -> bool:
        """Whether a row (field name -> value) passes, as the database would decide it."""
        params = {"staff_id": staff_id, "staff_code": staff_code}

        def value(node: _Operand) -> Any:
            if isinstance(node, _Field):
                try:
                    return values[node.name]
                except KeyError:
                    raise _error(
                        self.text,
                        node.position,
                        f'field "{node.name}"',
                        "has no value in this row",
                        "give the row every field the filter uses",
                    ) from None
            if isinstance(node, _Param):
                return params[node.name]
            return node.value

        return _evaluate(self._tree, value) is True


def parse_filter(text: str, *, known: Collection[str] | None = None) -> Filter | None:
    """None for an empty/blank filter. With ``known``, a name not in it raises FilterError naming the
    unknown name and listing the known ones (and suggesting the closest)."""
    if not text.strip():
        return None
    result = Filter(text)
    if known is not None:
        for target in sorted(_fields(result._tree), key=lambda f: f.position):
            if target.name not in known:
                raise _unknown(text, target, known)
    return result


def _unknown(text: str, target: _Field, known: Collection[str]) -> FilterError:
    names = sorted(known)
    if not names:
        return _error(
            text,
            target.position,
            f'unknown field "{target.name}"',
            "",
            "this part has no fields to filter on",
        )
    shown = ", ".join(names[:40]) + (", …" if len(names) > 40 else "")
    close = difflib.get_close_matches(target.name, names, n=1)
    # `kind` for `company.kind`: a close match by ratio misses the dotted form of the same field.
    close = close or [n for n in names if n.endswith("." + target.name)][:1]
    guess = f' (did you mean "{close[0]}"?)' if close else ""
    return _error(text, target.position, f'unknown field "{target.name}"', "", f"use one of {shown}{guess}")


def _fields(node: _Node) -> Iterator[_Field]:
    if isinstance(node, _Compare):
        yield node.left
        if isinstance(node.right, _Field):
            yield node.right
    elif isinstance(node, _IsNull | _In):
        yield node.target
    elif isinstance(node, _All | _Any):
        for part in node.parts:
            yield from _fields(part)
    else:
        yield from _fields(node.part)


def _sql(node: _Node, operand: Callable[[_Operand], ColumnElement[Any]]) -> ColumnElement[bool]:
    if isinstance(node, _Compare):
        return cast(ColumnElement[bool], _OPERATORS[node.op](operand(node.left), operand(node.right)))
    if isinstance(node, _IsNull):
        column = operand(node.target)
        return column.is_not(None) if node.negated else column.is_(None)
    if isinstance(node, _In):
        column, items = operand(node.target), [operand(item) for item in node.items]
        return column.not_in(items) if node.negated else column.in_(items)
    if isinstance(node, _All):
        return and_(*(_sql(part, operand) for part in node.parts))
    if isinstance(node, _Any):
        return or_(*(_sql(part, operand) for part in node.parts))
    return not_(_sql(node.part, operand))


def _evaluate(node: _Node, value: Callable[[_Operand], Any]) -> bool | None:
    """SQL's three-valued logic in Python: None is unknown, and only True selects a row."""
    if isinstance(node, _Compare):
        left, right = value(node.left), value(node.right)
        if left is None or right is None:
            return None
        try:
            return bool(_OPERATORS[node.op](left, right))
        except TypeError:  # text against a number: each database decides its own way, we cannot know
            return None
    if isinstance(node, _IsNull):
        return (value(node.target) is None) != node.negated
    if isinstance(node, _In):
        left = value(node.target)
        items = [value(item) for item in node.items]
        if left is None:
            return None
        found = True if any(i is not None and i == left for i in items) else None if None in items else False
        return _negate(found) if node.negated else found
    if isinstance(node, _All | _Any):
        results = [_evaluate(part, value) for part in node.parts]
        decisive = isinstance(node, _Any)  # True decides an or, False an and
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    return _negate(_evaluate(node.part, value))


def _negate(result: bool | None) -> bool | None:
    return None if result is None else not result


# -- reading the text ------------------------------------------------------------------------------------


def _where(text: str, position: int) -> str:
    starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
    line = sum(1 for start in starts if start <= position)
    if len(starts) == 1:
        return f"column {position}"
    return f"line {line}, column {position - starts[line - 1]}"


def _error(text: str, position: int | None, what: str, why: str, fix: str) -> FilterError:
    where = f" at {_where(text, position)}" if position is not None else ""
    return FilterError(f"filter: {what}{where}{': ' + why if why else ''}. Fix: {fix}", position=position)


def _quote(fragment: str) -> str:
    fragment = " ".join(fragment.split())
    return f'"{fragment[:40]}…"' if len(fragment) > 40 else f'"{fragment}"'


class _Parser:
    """One pass over one text: ast, then the allow-list walk that builds the tree."""

    def __init__(self, text: str) -> None:
        self.text = text
        # eval mode refuses leading whitespace ("unexpected indent"): parse without, count it back in.
        self.lead = len(text) - len(text.lstrip())
        self.source = text[self.lead :]
        self.starts = [0, *(m.end() for m in _NEWLINE.finditer(self.source))]

    def parse(self) -> _Node:
        if len(self.text) > MAX_LENGTH:
            raise FilterError(
                f"filter: the text is {len(self.text):,} characters long, over the limit of {MAX_LENGTH:,}. "
                'Fix: shorten it, e.g. one kind in ("a", "b") instead of several kind == … or …'
            )
        if not self.source:
            raise FilterError(f"filter: the text is empty. Fix: write a condition such as {_EXAMPLE}")
        if "\0" in self.text:
            raise self.fail(self.text.index("\0"), "a NUL character", "", "remove it")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "\d" in a string: not the user's concern
                tree = ast.parse(self.source, mode="eval")
        except SyntaxError as exc:
            raise self.syntax(exc) from None
        except (ValueError, RecursionError, MemoryError):
            raise FilterError(f"filter: the text cannot be read. Fix: {_WRITE}") from None
        count = sum(isinstance(node, ast.expr) for node in ast.walk(tree))
        if count > MAX_NODES:
            raise FilterError(
                f"filter: it has {count} parts, over the limit of {MAX_NODES}. "
                "Fix: shorten it, e.g. fewer values in an in (…) list"
            )
        return self.condition(tree.body, 1)

    # -- positions and errors --

    def fail(self, position: int | None, what: str, why: str, fix: str) -> FilterError:
        return _error(self.text, position, what, why, fix)

    def offset(self, lineno: int, column: int) -> int:
        """The offset in `text` of a character column on a line of `source`."""
        return self.lead + self.starts[min(lineno, len(self.starts)) - 1] + column

    def at(self, node: ast.expr) -> int:
        line = self.source[self.starts[node.lineno - 1] :]
        # ast columns count UTF-8 bytes; messages count characters.
        return self.offset(node.lineno, len(line.encode()[: node.col_offset].decode(errors="ignore")))

    def after(self, node: ast.expr) -> int:
        """Where the text after a node starts (an operator), past spaces and closing parentheses."""
        assert node.end_lineno is not None and node.end_col_offset is not None
        line = self.source[self.starts[node.end_lineno - 1] :]
        end = self.offset(node.end_lineno, len(line.encode()[: node.end_col_offset].decode(errors="ignore")))
        while end < len(self.text) and self.text[end] in " \t\r\n)":
            end += 1
        return end

    def fragment(self, node: ast.expr) -> str:
        return _quote(ast.get_source_segment(self.source, node) or "")

    def syntax(self, exc: SyntaxError) -> FilterError:
        hint = self.token_hint()
        if hint is not None:
            return hint
        message, end = exc.msg or "", len(self.text.rstrip())
        if not exc.lineno or not exc.offset:  # Python's parser reached the end wanting more
            return self.fail(
                end, "the text ends too early", "", f"finish the last condition, e.g. {_EXAMPLE}"
            )
        position = min(self.offset(exc.lineno, exc.offset - 1), end)  # offset: 1-based, in characters
        char = self.text[position : position + 1]
        if "was never closed" in message:
            return self.fail(
                position, f'"{char}"', "is never closed", f'add the missing "{_CLOSING.get(char, ")")}"'
            )
        if message.startswith("unmatched"):
            return self.fail(
                position, f'"{char}"', "has no opening partner", "remove it or add the missing one"
            )
        if message.startswith("unterminated"):
            return self.fail(
                position, "text in quotes", "is never closed", "end it with the quote it starts with"
            )
        fix = _WRITE
        if "\n" in self.source.rstrip() or "\r" in self.source.rstrip():
            fix += "; to spread a filter over several lines, put it all in parentheses"
        return self.fail(position, "unexpected text", _quote(self.text[position:end]), fix)

    def token_hint(self) -> FilterError | None:
        """A plain-words fix for the slips people carry over from other languages: = && || ! <> AND LIKE."""
        tokens: list[tokenize.TokenInfo] = []
        with contextlib.suppress(tokenize.TokenError, SyntaxError):  # the tokens before the error will do
            for token in tokenize.generate_tokens(io.StringIO(self.source).readline):
                tokens.append(token)
        for i, token in enumerate(tokens):
            text, position = token.string, self.offset(*token.start)
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            # The token written right after this one, without a space: && is two & tokens.
            touching = after.string if after is not None and after.start == token.end else ""
            if text == "=":
                if touching in ("<", ">"):
                    return self.fail(position, f'"={touching}"', "", f"write {touching}= instead")
                return self.fail(
                    position, '"="', "a single = does not compare", f"use == to compare, e.g. {_EXAMPLE}"
                )
            if text in ("&", "|"):
                word = "and" if text == "&" else "or"
                return self.fail(position, f'"{text * (2 if touching == text else 1)}"', "", f"use {word}")
            if text == "!":
                return self.fail(position, '"!"', "", "use not (and != for not equal)")
            if text == "<>" or (text == "<" and touching == ">"):  # one token or two, by Python version
                return self.fail(position, '"<>"', "", "use != for not equal")
            if token.type == tokenize.NAME and text.lower() in ("and", "or", "not") and text != text.lower():
                return self.fail(position, f'"{text}"', "", f"write {text.lower()} in lower case")
            if token.type == tokenize.NAME and text.lower() in ("like", "ilike", "between", "contains"):
                return self.fail(
                    position,
                    f'"{text}"',
                    "is not supported",
                    'compare with == or list the values: city in ("a", "b")',
                )
        return None

    # -- the allow-list walk --

    def enter(self, node: ast.expr, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self.fail(
                self.at(node), "nesting", f"deeper than {MAX_DEPTH} levels", "simplify the filter"
            )

    def condition(self, node: ast.expr, depth: int) -> _Node:
        self.enter(node, depth)
        if isinstance(node, ast.BoolOp):
            parts = tuple(self.condition(value, depth + 1) for value in node.values)
            return _All(parts) if isinstance(node.op, ast.And) else _Any(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return _Not(self.condition(node.operand, depth + 1))
        if isinstance(node, ast.Compare):
            parts = tuple(
                self.pair(op, left, right, depth + 1)
                for op, (left, right) in zip(
                    node.ops, itertools.pairwise([node.left, *node.comparators]), strict=True
                )
            )
            return parts[0] if len(parts) == 1 else _All(parts)  # 1 < x < 5 is 1 < x and x < 5
        if isinstance(node, ast.Tuple | ast.List):
            raise self.unsupported(node)
        single = self.operand(node, depth)  # rejects what is not a value either
        if isinstance(single, _Field):
            raise self.fail(
                self.at(node),
                f'field "{single.name}"',
                "alone is not a condition",
                f"compare it with a value, e.g. {single.name} == True",
            )
        raise self.fail(
            self.at(node),
            self.fragment(node),
            "a value alone is not a condition",
            'compare a field with each value: kind == "a" or kind == "b", or kind in ("a", "b")',
        )

    def pair(self, op: ast.cmpop, left: ast.expr, right: ast.expr, depth: int) -> _Node:
        symbol = _COMPARISONS.get(type(op))
        if symbol is None:  # is / is not
            word = "is not" if isinstance(op, ast.IsNot) else "is"
            fix = "!=" if word == "is not" else "=="
            raise self.fail(self.after(left), f'"{word}"', "", f"use {fix}, e.g. city {fix} None")
        if symbol in ("in", "not in"):
            return self.membership(symbol == "not in", left, right, depth)
        first, second = self.operand(left, depth), self.operand(right, depth)
        if not isinstance(first, _Field):
            if not isinstance(second, _Field):
                raise self.fail(
                    self.at(left),
                    self.fragment(left),
                    "a comparison needs a field on one side",
                    f"compare a field with a value, e.g. {_EXAMPLE}",
                )
            first, second, symbol = second, first, _FLIPPED[symbol]
        if isinstance(second, _Value) and second.value is None:
            if symbol not in ("==", "!="):
                raise self.fail(
                    self.after(left), f'"{symbol}"', "None has no order", "use == None or != None"
                )
            return _IsNull(first, negated=symbol == "!=")
        if isinstance(second, _Value) and second.value == "" and isinstance(second.value, str):
            if symbol == "==":
                return _Any((_IsNull(first, negated=False), _Compare("==", first, second)))
            if symbol == "!=":
                return _All((_IsNull(first, negated=True), _Compare("!=", first, second)))
        return _Compare(symbol, first, second)

    def membership(self, negated: bool, left: ast.expr, right: ast.expr, depth: int) -> _Node:
        target = self.operand(left, depth)
        if not isinstance(target, _Field):
            raise self.fail(
                self.at(left),
                self.fragment(left),
                "only a field can stand before in",
                'write the field first: kind in ("a", "b")',
            )
        self.enter(right, depth)
        if not isinstance(right, ast.Tuple | ast.List):
            raise self.fail(
                self.at(right),
                self.fragment(right),
                "in needs a list of values",
                f'write {target.name} in ("a", "b"); for a single value use ==',
            )
        if not right.elts:
            raise self.fail(self.at(right), "an empty list", "", "give at least one value")
        values = [self.value(item, depth + 1) for item in right.elts]
        # The same NULL rules as == None and == "": None or "" in the list also takes NULL.
        nullish = any(isinstance(v, _Value) and (v.value is None or v.value == "") for v in values)
        items = tuple(v for v in values if not (isinstance(v, _Value) and v.value is None))
        listed = _In(target, items, negated) if items else None
        is_null = _IsNull(target, negated=negated) if nullish else None
        if listed is None or is_null is None:
            return cast(_Node, listed or is_null)
        return _All((is_null, listed)) if negated else _Any((is_null, listed))

    def value(self, node: ast.expr, depth: int) -> _Value | _Param:
        result = self.operand(node, depth)
        if isinstance(result, _Field):
            raise self.fail(
                self.at(node),
                f'field "{result.name}"',
                "a list holds values, not fields",
                'write the values in quotes: ("a", "b")',
            )
        return result

    def operand(self, node: ast.expr, depth: int) -> _Operand:
        self.enter(node, depth)
        if isinstance(node, ast.Name | ast.Attribute):
            return self.name(node)
        if isinstance(node, ast.Constant) or (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float)  # not bool: -True is arithmetic
        ):
            return self.literal(node)
        if isinstance(node, ast.Tuple | ast.List):
            raise self.fail(
                self.at(node),
                self.fragment(node),
                "a list can only follow in or not in",
                'write kind in ("a", "b")',
            )
        raise self.unsupported(node)

    def name(self, node: ast.Name | ast.Attribute) -> _Field | _Param:
        parts: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise self.unsupported(current)
        parts.append(current.id)
        name = ".".join(reversed(parts))
        position = self.at(node)
        if name in PARAMETERS:
            return _Param(PARAMETERS[name])
        if current.id in PARAMETERS:
            raise self.fail(
                position,
                f'"{name}"',
                f"{current.id} is a value, not a record",
                f"compare a field with {current.id}",
            )
        if name.lower() in ("null", "none", "nil"):
            raise self.fail(position, f'"{name}"', "", "write None, e.g. city == None")
        if name.lower() in ("true", "false"):
            raise self.fail(position, f'"{name}"', "", f"write {name.capitalize()}")
        if any(part.startswith("__") for part in parts):
            raise self.fail(position, f'"{name}"', "is not a field name", "use a field name without __")
        return _Field(name, position)

    def literal(self, node: ast.Constant | ast.UnaryOp) -> _Value:
        if isinstance(node, ast.UnaryOp):
            number = cast(float, cast(ast.Constant, node.operand).value)  # checked by `operand`
            value: Any = -number if isinstance(node.op, ast.USub) else number
        else:
            value = node.value
        if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
            raise self.fail(
                self.at(node), self.fragment(node), "is too large a number", "use a smaller number"
            )
        if value is None or isinstance(value, str | int | float):  # bool is an int
            return _Value(value)
        raise self.fail(
            self.at(node),
            self.fragment(node),
            "is not a value filters know",
            "write text in quotes, a number, True, False or None",
        )

    def unsupported(self, node: ast.expr) -> FilterError:
        what, position = self.fragment(node), self.at(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
            word = "and" if isinstance(node.op, ast.BitAnd) else "or"
            return self.fail(self.after(node.left), f'"{"&" if word == "and" else "|"}"', "", f"use {word}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return self.fail(position, '"~"', "", "use not")
        reasons: list[tuple[type[ast.expr], str, str]] = [
            (ast.Call, "calling functions is not supported", f"compare a field with a value: {_EXAMPLE}"),
            (ast.Subscript, "[ ] is not supported", f"compare a whole field, e.g. {_EXAMPLE}"),
            (ast.BinOp, "arithmetic is not supported", "compare a field with a plain value"),
            (ast.UnaryOp, "arithmetic is not supported", "compare a field with a plain value"),
            (ast.JoinedStr, "f-strings are not supported", "write plain text in quotes"),
            (ast.NamedExpr, ":= is not supported", f"use == to compare, e.g. {_EXAMPLE}"),
            (ast.Set, "{ } is not supported", 'write a list in parentheses: ("a", "b")'),
            (ast.BoolOp, "and/or join conditions, not values", 'write x == 1 or x == 2, or x in (1, 2)'),
            (ast.Compare, "a comparison cannot be compared again", "join comparisons with and, or, not"),
        ]  # fmt: skip
        for kind, why, fix in reasons:
            if isinstance(node, kind):
                return self.fail(position, what, why, fix)
        return self.fail(position, what, "is not part of the filter language", _WRITE)
