"""A fast evaluator for the common subset of YAQL, checked against YAQL's semantics.

YAQL resolves overloads for every operator, which costs 100-500 us per expression. Most
workflow expressions are paths (`$.a.b`, `task(t1).result`), comparisons, boolean logic
and a few collection methods (`select`, `where`, `len`, `first`, `sum`, `contains`,
`keys`, `values`) over plain values, so those are compiled from YAQL's own syntax tree
into Python closures. The closures accept only the value types whose YAQL meaning is plain Python
(None, bool, int, float, str, dict, list); on anything else (a missing key, a type YAQL
would treat differently, a division by zero) they raise `Fallback` and the caller runs
the real YAQL engine, so results and errors stay exactly YAQL's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yaql.language import expressions as ast

from levante import st2_functions
from levante.engine.expressions import limits
from levante.engine.expressions.context import ExpressionContext

Compiled = Callable[[Any, ExpressionContext], Any]

_SIMPLE = (type(None), bool, int, float, str)


class Fallback(Exception):
    """The fast path cannot decide: evaluate with YAQL."""


class _Unsupported(Exception):
    pass


def compile_fast(statement: Any) -> Compiled | None:
    """Closure for a parsed YAQL statement, or None if it uses anything unsupported."""
    node = statement.expression if isinstance(statement, ast.Statement) else statement
    try:
        return _compile(node)
    except _Unsupported:
        return None


def reads_data_only(statement: Any) -> bool:
    """Whether the expression only reads the data or the context (`$.a.b`, `$.xs[0]`,
    `task().result`...): its value is then part of the workflow's JSON data, a tree."""
    node = statement.expression if isinstance(statement, ast.Statement) else statement
    while True:
        if isinstance(node, ast.Wrap):
            node = node.expr
        elif isinstance(node, ast.GetContextValue):
            return True
        elif type(node) is ast.Function:
            return node.name in ("task", "env", "execution", "global")
        elif isinstance(node, ast.BinaryOperator) and node.name == "#operator_.":
            if not isinstance(node.args[1], ast.KeywordConstant):
                return False
            node = node.args[0]
        elif isinstance(node, ast.IndexExpression) and len(node.args) == 2:
            node = node.args[0]
        else:
            return False


def _is_number(v: Any) -> bool:
    return (type(v) is int) or (type(v) is float)


def _compile(node: Any) -> Compiled:
    if isinstance(node, ast.KeywordConstant):
        raise _Unsupported
    if isinstance(node, ast.Constant):
        value = node.value
        if not isinstance(value, _SIMPLE):
            raise _Unsupported
        return lambda d, c: value
    if isinstance(node, ast.Wrap):
        return _compile(node.expr)
    if isinstance(node, ast.GetContextValue):
        if isinstance(node.path, ast.Constant) and node.path.value == "$":
            return lambda d, c: d
        raise _Unsupported
    if isinstance(node, ast.BinaryOperator):
        return _binary(node)
    if isinstance(node, ast.UnaryOperator):
        return _unary(node)
    if isinstance(node, ast.IndexExpression):
        return _index(node)
    if type(node) is ast.Function:
        return _function(node)
    raise _Unsupported


def _binary(node: Any) -> Compiled:
    name = node.name
    left_node, right_node = node.args
    if name == "#operator_.":
        if type(right_node) is ast.Function:
            return _method(_compile(left_node), right_node)
        if not isinstance(right_node, ast.KeywordConstant):
            raise _Unsupported
        key = right_node.value
        obj = _compile(left_node)

        def attribute(d: Any, c: ExpressionContext) -> Any:
            value = obj(d, c)
            if type(value) is not dict or key not in value:
                raise Fallback
            return value[key]

        return attribute
    left = _compile(left_node)
    right = _compile(right_node)
    if name == "#operator_and":
        return lambda d, c: left(d, c) and right(d, c)
    if name == "#operator_or":
        return lambda d, c: left(d, c) or right(d, c)
    op = _BINARY.get(name)
    if op is None:
        raise _Unsupported

    def binary(d: Any, c: ExpressionContext) -> Any:
        return op(left(d, c), right(d, c))

    return binary


def _simple_pair(a: Any, b: Any) -> None:
    if not isinstance(a, _SIMPLE) or not isinstance(b, _SIMPLE):
        raise Fallback


def _eq(a: Any, b: Any) -> bool:
    _simple_pair(a, b)
    return bool(a == b)


def _ne(a: Any, b: Any) -> bool:
    _simple_pair(a, b)
    return bool(a != b)


def _ordered(a: Any, b: Any) -> None:
    if not ((_is_number(a) and _is_number(b)) or (type(a) is str and type(b) is str)):
        raise Fallback


def _lt(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a <= b)


def _gt(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a > b)


def _ge(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a >= b)


def _numbers(a: Any, b: Any) -> None:
    if not (_is_number(a) and _is_number(b)):
        raise Fallback


def _plus(a: Any, b: Any) -> Any:
    if type(a) is str and type(b) is str:
        return a + b
    _numbers(a, b)
    return a + b


def _minus(a: Any, b: Any) -> Any:
    _numbers(a, b)
    return a - b


def _times(a: Any, b: Any) -> Any:
    # (Operands here are data or results of this expression's few operations: one
    # product stays short; a result above the integer limit fails in to_plain.)
    _numbers(a, b)
    return a * b


def _divide(a: Any, b: Any) -> Any:
    _numbers(a, b)
    if not b:
        raise Fallback
    if type(a) is int and type(b) is int:
        return a // b
    return a / b


def _mod(a: Any, b: Any) -> Any:
    _numbers(a, b)
    if not b:
        raise Fallback
    return a % b


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "*equal": _eq,
    "*not_equal": _ne,
    "#operator_<": _lt,
    "#operator_<=": _le,
    "#operator_>": _gt,
    "#operator_>=": _ge,
    "#operator_+": _plus,
    "#operator_-": _minus,
    "#operator_*": _times,
    "#operator_/": _divide,
    "#operator_mod": _mod,
}


def _unary(node: Any) -> Compiled:
    arg = _compile(node.args[0])
    if node.name == "#unary_operator_not":
        return lambda d, c: not arg(d, c)
    if node.name in ("#unary_operator_-", "#unary_operator_+"):
        negate = node.name == "#unary_operator_-"

        def sign(d: Any, c: ExpressionContext) -> Any:
            value = arg(d, c)
            if not _is_number(value):
                raise Fallback
            return -value if negate else value

        return sign
    raise _Unsupported


def _index(node: Any) -> Compiled:
    if len(node.args) != 2:
        raise _Unsupported
    obj = _compile(node.args[0])
    idx = _compile(node.args[1])

    def index(d: Any, c: ExpressionContext) -> Any:
        value, i = obj(d, c), idx(d, c)
        if type(value) is list and type(i) is int and -len(value) <= i < len(value):
            return value[i]
        if type(value) is dict and isinstance(i, str) and i in value:
            return value[i]
        raise Fallback

    return index


def _argument(node: Any) -> Compiled:
    if isinstance(node, ast.KeywordConstant):
        value = node.value
        return lambda d, c: value
    if isinstance(node, ast.MappingRuleExpression):
        raise _Unsupported
    return _compile(node)


def _function(node: Any) -> Compiled:
    name, args = node.name, [_argument(a) for a in node.args]
    if name == "task" and len(args) <= 1:
        if not args:
            return lambda d, c: c.task(None)
        arg = args[0]
        return lambda d, c: c.task(arg(d, c))
    if name == "env" and not args:
        return lambda d, c: c.env()
    if name == "execution" and not args:
        return lambda d, c: c.execution()
    if name == "global" and len(args) == 1:
        arg = args[0]
        return lambda d, c: c.global_var(arg(d, c))
    if name == "len" and len(args) == 1:
        return _length(args[0])
    st2_function = st2_functions.YAQL_FUNCTIONS.get(name)
    if st2_function is not None:
        return _st2_call(st2_function, args)
    raise _Unsupported


def _st2_call(func: Callable[..., Any], args: list[Compiled]) -> Compiled:
    """One of StackStorm's functions called with positional arguments. Its arguments
    here are plain values already; any error but a bound's is left to YAQL to raise (a
    call that does not match the signature is YAQL's error, not Python's)."""

    def call(d: Any, c: ExpressionContext) -> Any:
        values = [arg(d, c) for arg in args]
        try:
            return func(*values)
        except st2_functions.LimitExceeded:
            raise
        except Exception:
            raise Fallback from None

    return call


def _length(arg: Compiled) -> Compiled:
    def length(d: Any, c: ExpressionContext) -> int:
        value = arg(d, c)
        if type(value) not in (list, dict, str):
            raise Fallback
        return len(value)

    return length


def _items(value: Any) -> list[Any]:
    """The receiver of a collection method: a plain list within YAQL's size limit."""
    if type(value) is not list or len(value) > limits.MAX_ITERATORS:
        raise Fallback
    return value


def _method(receiver: Compiled, node: Any) -> Compiled:
    """`receiver.name(args)`; inside `select` / `where` arguments `$` is the item."""
    name = node.name
    if any(isinstance(a, ast.MappingRuleExpression | ast.KeywordConstant) for a in node.args):
        raise _Unsupported
    args = [_compile(a) for a in node.args]
    if name == "len" and not args:
        return _length(receiver)
    if name == "select" and len(args) == 1:
        selector = args[0]
        return lambda d, c: [selector(item, c) for item in _items(receiver(d, c))]
    if name == "where" and len(args) == 1:
        predicate = args[0]
        return lambda d, c: [item for item in _items(receiver(d, c)) if predicate(item, c)]
    if name == "first" and not args:

        def first(d: Any, c: ExpressionContext) -> Any:
            items = _items(receiver(d, c))
            if not items:
                raise Fallback
            return items[0]

        return first
    if name == "sum" and not args:

        def total(d: Any, c: ExpressionContext) -> Any:
            items = _items(receiver(d, c))
            if not items or not all(_is_number(v) for v in items):
                raise Fallback
            return sum(items)

        return total
    if name == "contains" and len(args) == 1:
        needle = args[0]

        def contains(d: Any, c: ExpressionContext) -> bool:
            items, value = _items(receiver(d, c)), needle(d, c)
            if not isinstance(value, _SIMPLE) or not all(isinstance(v, _SIMPLE) for v in items):
                raise Fallback
            return value in items

        return contains
    if name in ("keys", "values") and not args:
        want_keys = name == "keys"

        def view(d: Any, c: ExpressionContext) -> list[Any]:
            value = receiver(d, c)
            if type(value) is not dict:
                raise Fallback
            return list(value) if want_keys else list(value.values())

        return view
    raise _Unsupported
