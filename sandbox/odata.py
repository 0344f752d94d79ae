"""awork's `filterby` and `orderby` query expressions (OData-v2-like), compiled into plain Python callables.

`compile_filter("tolower(name) eq 'acme' and startDate ge datetime'2024-01-01T00:00:00'")` returns a predicate over
the JSON items of a list endpoint; `compile_order("lastName,firstName desc")` returns a sorting function. Both raise
`ODataError` for input they cannot parse or evaluate; the simulator answers that with 400 `invalid-filter-or-order`.

Supported (awork's filtering docs): `eq ne gt ge lt le`, `and`, `or`, `not`, parentheses; `tolower`, `toupper`,
`startswith`, `endswith`, `substringof`; `prop in ('a','b')`; nested paths `company/name`; collections
`coll/any()`, `coll/any(c: c/value eq 'x')`, `coll/count()`, `coll/count(c: ...)`; literals `null`, `true`,
`false`, ints (`32`, `64L`, `0x22`), decimals (`2.5`, `2.5M`, `2.0f`), strings (`'it''s'`), `guid'...'`,
`datetime'...'`. Not supported: awork's special values (`me.id`, `now`, `today-30d`, ...).

Where the docs are silent we chose:
- Keywords, function and property names are case-insensitive; a property is the JSON key equal to the name
  ignoring case. A name no item has is an error (raised when the first item is evaluated).
- `not` binds looser than a comparison: `not name eq 'x'` means `not (name eq 'x')`.
- String comparison is case-sensitive (use `tolower`); `guid'...'` literals are lower-cased, like our ids.
- Date-times compare as UTC instants: a `datetime'...'` literal, or an item's ISO-8601 string compared with one,
  without an offset is taken as UTC.
- `null` equals only null; ordering comparisons with null are false (SQL semantics). A path through a null object
  (`company/name` when `company` is null or absent) yields null.
- `orderby` takes property paths with `asc` (default) or `desc`; nulls sort first in ascending order.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Scope = dict[str, Any]  # "$it": the item; lambda variables by name
Node = Callable[[Scope], Any]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<typed>(?i:guid|datetime|datetimeoffset)'(?:[^']|'')*')
      | (?P<string>'(?:[^']|'')*')
      | (?P<hex>0[xX][0-9A-Fa-f]+)
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[MmLlFfDd]?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[(),:/])
    )""",
    re.VERBOSE,
)
_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_COMPARISONS = {"eq", "ne", *_ORDERINGS}
_KEYWORD_LITERALS = {"null": None, "true": True, "false": False}


class ODataError(ValueError):
    """A filter or order expression that cannot be parsed or evaluated."""


def compile_filter(expr: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate for one JSON item, from a `filterby` expression."""
    parser = _Parser(expr)
    node = parser.expression()
    parser.expect_end()
    return lambda item: _truth(node({"$it": item}))


def compile_order(expr: str) -> Callable[[list[dict[str, Any]], list[dict[str, Any]]]]:
    """A function returning JSON items sorted by an `orderby` expression (`prop [asc|desc]`, comma-separated)."""
    keys = [_order_key(part) for part in expr.split(",")]

    def order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = list(items)
        for node, descending in reversed(keys):
            try:
                result.sort(key=lambda item, node=node: _sort_value(node({"$it": item})), reverse=descending)
            except TypeError as exc:
                raise ODataError(f"cannot order by mixed value types: {exc}") from exc
        return result

    return order


def _order_key(part: str) -> tuple[Node, bool]:
    """One `prop [asc|desc]` key of an orderby expression: the value getter and whether it is descending."""
    parser = _Parser(part)
    node = parser.path(parser.name())
    descending = parser.accept_keyword("desc") is not None
    if not descending:
        parser.accept_keyword("asc")
    parser.expect_end()
    return node, descending


def _sort_value(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, value)


class _Parser:
    """Recursive-descent parser producing a tree of closures; one instance per expression."""

    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = _tokenize(expr)
        self.pos = 0

    # --- token helpers ------------------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ODataError(f"unexpected end of expression: {self.expr!r}")
        self.pos += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token and token[0] == "punct" and token[1] == text:
            self.pos += 1
            return True
        return False

    def accept_keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token and token[0] == "name" and token[1].lower() in words:
            self.pos += 1
            return token[1].lower()
        return None

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise ODataError(f"expected {text!r} at {self._where()} in {self.expr!r}")

    def expect_end(self) -> None:
        if self.peek() is not None:
            raise ODataError(f"unexpected {self.peek()[1]!r} in {self.expr!r}")

    def name(self) -> str:
        kind, text = self.take()
        if kind != "name":
            raise ODataError(f"expected a property name, got {text!r} in {self.expr!r}")
        return text

    def _where(self) -> str:
        token = self.peek()
        return repr(token[1]) if token else "the end"

    # --- grammar ------------------------------------------------------------------------------------------------
    def expression(self) -> Node:
        """expression := conjunction ('or' conjunction)*"""
        node = self.conjunction()
        while self.accept_keyword("or"):
            node = _either(node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        """conjunction := negation ('and' negation)*"""
        node = self.negation()
        while self.accept_keyword("and"):
            node = _both(node, self.negation())
        return node

    def negation(self) -> Node:
        """negation := 'not' negation | comparison"""
        if self.accept_keyword("not"):
            inner = self.negation()
            return lambda scope: not _truth(inner(scope))
        return self.comparison()

    def comparison(self) -> Node:
        """comparison := operand (('eq'|'ne'|'gt'|'ge'|'lt'|'le') operand | 'in' '(' operand (',' operand)* ')')?"""
        left = self.operand()
        op = self.accept_keyword(*_COMPARISONS)
        if op:
            right = self.operand()
            return lambda scope: _compare(op, left(scope), right(scope))
        if self.accept_keyword("in"):
            choices = self.arguments()
            return lambda scope: any(_compare("eq", left(scope), choice(scope)) for choice in choices)
        return left

    def arguments(self) -> list[Node]:
        """'(' expression (',' expression)* ')', or '()'."""
        self.expect("(")
        if self.accept(")"):
            return []
        nodes = [self.expression()]
        while self.accept(","):
            nodes.append(self.expression())
        self.expect(")")
        return nodes

    def operand(self) -> Node:
        """operand := '(' expression ')' | literal | function '(' arguments ')' | path"""
        if self.accept("("):
            node = self.expression()
            self.expect(")")
            return node
        kind, text = self.take()
        if kind != "name":
            value = _literal(kind, text)
            return lambda scope: value
        if text.lower() in _KEYWORD_LITERALS:
            value = _KEYWORD_LITERALS[text.lower()]
            return lambda scope: value
        if self.peek() == ("punct", "("):
            return self.function(text)
        return self.path(text)

    def function(self, name: str) -> Node:
        spec = _FUNCTIONS.get(name.lower())
        if spec is None:
            raise ODataError(f"unknown function {name!r} in {self.expr!r}")
        arity, implementation = spec
        args = self.arguments()
        if len(args) != arity:
            raise ODataError(f"{name} takes {arity} argument(s), got {len(args)} in {self.expr!r}")
        return lambda scope: implementation(*(arg(scope) for arg in args))

    def path(self, first: str) -> Node:
        """path := name ('/' name | '/' ('any'|'count') '(' [variable ':' expression] ')')*"""
        node = _root(first)
        while self.accept("/"):
            segment = self.name()
            if segment.lower() in _COLLECTION_OPS and self.peek() == ("punct", "("):
                node = self.collection_op(node, segment.lower())
            else:
                node = _member(node, segment)
        return node

    def collection_op(self, collection: Node, op: str) -> Node:
        """`any(...)` / `count(...)` over a collection, with an optional lambda `(variable: predicate)`."""
        self.expect("(")
        variable, body = None, None
        if not self.accept(")"):
            variable = self.name()
            self.expect(":")
            body = self.expression()
            self.expect(")")
        summarize = _COLLECTION_OPS[op]

        def evaluate(scope: Scope) -> Any:
            elements = _elements(collection(scope))
            if body is None:
                return summarize(True for _ in elements)
            return summarize(_truth(body({**scope, variable: element})) for element in elements)

        return evaluate


def _either(left: Node, right: Node) -> Node:
    return lambda scope: _truth(left(scope)) or _truth(right(scope))


def _both(left: Node, right: Node) -> Node:
    return lambda scope: _truth(left(scope)) and _truth(right(scope))


def _root(name: str) -> Node:
    """The first segment of a path: a lambda variable in scope, else a property of the item."""
    return lambda scope: scope[name] if name in scope else _property(scope["$it"], name)


def _member(parent: Node, name: str) -> Node:
    return lambda scope: _property(parent(scope), name)


def _tokenize(expr: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ODataError(f"cannot read {expr[pos:].strip()!r} in {expr!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    if not tokens:
        raise ODataError("empty expression")
    return tokens


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if kind == "hex":
        return int(text, 16)
    if kind == "number":
        digits = text.rstrip("MmLlFfDd")
        return int(digits) if re.fullmatch(r"-?\d+", digits) else float(digits)
    if kind == "typed":
        prefix, _, quoted = text.partition("'")
        value = quoted[:-1].replace("''", "'")
        return value.lower() if prefix.lower() == "guid" else _instant(value)
    raise ODataError(f"unexpected {text!r}")


def _instant(text: str) -> datetime:
    """A UTC instant from ISO-8601 text; without an offset the text is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ODataError(f"invalid date-time {text!r}") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _property(value: Any, name: str) -> Any:
    """The value of property `name` of a JSON object, matching the key ignoring case; null through null."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ODataError(f"{name!r} is not a property of a {type(value).__name__} value")
    if name in value:
        return value[name]
    folded = name.casefold()
    for key, item in value.items():
        if key.casefold() == folded:
            return item
    raise ODataError(f"unknown property {name!r}")


def _elements(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ODataError("any() and count() need a collection")
    return value


def _truth(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ODataError(f"expected a boolean condition, got {value!r}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", datetime: "date-time"}.get(type(value), type(value).__name__)


def _compare(op: str, left: Any, right: Any) -> bool:
    """`left op right` with OData semantics: date-time strings meet date-time literals as instants; null only
    equals null; values of different kinds are an error."""
    if isinstance(left, datetime) and isinstance(right, str):
        right = _instant(right)
    elif isinstance(right, datetime) and isinstance(left, str):
        left = _instant(left)
    if left is not None and right is not None and _kind(left) != _kind(right):
        raise ODataError(f"cannot compare a {_kind(left)} with a {_kind(right)}")
    if op in ("eq", "ne"):
        return (left == right) == (op == "eq")
    if left is None or right is None:
        return False
    try:
        return _ORDERINGS[op](left, right)
    except TypeError as exc:
        raise ODataError(f"cannot order {_kind(left)} values") from exc


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ODataError(f"expected a string, got {value!r}")
    return value


def _text_or_null(transform: Callable[[str], str]) -> Callable[[Any], str | None]:
    return lambda value: None if value is None else transform(_text(value))


def _text_test(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    """A two-string predicate that is false when its first argument is null."""
    return lambda value, part: value is not None and test(_text(value), _text(part))


_contains = _text_test(lambda value, part: part in value)
_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "tolower": (1, _text_or_null(str.lower)),
    "toupper": (1, _text_or_null(str.upper)),
    "startswith": (2, _text_test(str.startswith)),
    "endswith": (2, _text_test(str.endswith)),
    "substringof": (2, lambda part, value: _contains(value, part)),
}
_COLLECTION_OPS: dict[str, Callable[[Any], Any]] = {
    "any": any,
    "count": lambda matches: sum(1 for match in matches if match),
}
