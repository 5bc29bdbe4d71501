"""YAQL: one engine and one root context for the process, parsed expressions cached.

YAQL evaluation is slow (~100 us even for `$.x`) because every operator goes through
overload resolution; the common subset (paths, comparisons, boolean logic, arithmetic
on plain values, `task()`/`env()`/`execution()`/`global()`) takes the fast path of
`yaql_fast`, which falls back to YAQL itself whenever it cannot be sure of the result.
"""

from __future__ import annotations

import collections.abc  # before yaql: yaql 3 uses it without importing it
import functools
import inspect
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import yaql
from yaql.language import exceptions as yaql_exc
from yaql.language import factory
from yaql.language.utils import FrozenDict, convert_input_data
from yaql.standard_library import math as std_math
from yaql.standard_library import strings as std_strings

from levante import st2_functions
from levante.engine.expressions import context as fn
from levante.engine.expressions import datastore as kv_functions
from levante.engine.expressions import limits, yaql_regex
from levante.engine.expressions.context import ExpressionContext
from levante.engine.expressions.yaql_fast import Fallback, compile_fast, reads_data_only

_CTX_KEY = "__levante_expression_context"

def make_engine(max_iterators: int, memory_quota: int) -> Any:
    """A YAQL engine with Mistral's options and our bounds."""
    return factory.YaqlFactory(keyword_operator="=>", allow_delegates=False).create(
        options={
            "yaql.limitIterators": max_iterators,
            "yaql.memoryQuota": memory_quota,
            "yaql.convertTuplesToLists": True,
            "yaql.convertSetsToLists": True,
            "yaql.iterableDicts": False,
            "yaql.convertOutputData": True,
        }
    )


ENGINE = make_engine(limits.MAX_ITERATORS, limits.MEMORY_QUOTA)


def _ctx(context: Any) -> ExpressionContext:
    ctx: ExpressionContext = context[_CTX_KEY]
    return ctx


def _env(context: Any) -> Any:
    return _ctx(context).env()


def _execution(context: Any) -> Any:
    return _ctx(context).execution()


def _task(context: Any, task_name: Any = None) -> Any:
    return _ctx(context).task(task_name)


def _tasks(context: Any, workflow_execution_id: Any = None, recursive: Any = False,
           state: Any = None, flat: Any = False) -> Any:
    return _ctx(context).tasks(workflow_execution_id, bool(recursive), state)


def _global(context: Any, var_name: Any) -> Any:
    return _ctx(context).global_var(var_name)


def _st2kv(context: Any, key: Any, decrypt: Any = False, default: Any = None) -> Any:
    return kv_functions.st2kv(_ctx(context), fn.to_plain(key), decrypt, fn.to_plain(default))


def _uuid(context: Any = None) -> str:
    return fn.new_uuid()


def _json_parse(context: Any, data: Any) -> Any:
    return fn.json_parse(data)


def _json_dump(context: Any, data: Any) -> str:
    return fn.json_dump(fn.to_plain(data))


def _json_pp(context: Any, data: Any = None) -> str:
    return fn.json_pp(fn.to_plain(data if data is not None else context["$"]))


def _yaml_parse(context: Any, data: Any) -> Any:
    return fn.yaml_parse(data)


def _yaml_dump(context: Any, data: Any) -> str:
    return fn.yaml_dump(data)


def _st2_function(func: Callable[..., Any]) -> Callable[..., Any]:
    """One of StackStorm's functions for YAQL: its arguments as plain JSON values (YAQL
    hands tuples and frozen dicts), its signature kept (YAQL reads it to match calls)."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        return func(*(fn.to_plain(a) for a in args),
                    **{k: fn.to_plain(v) for k, v in kwargs.items()})

    del call.__wrapped__  # (YAQL reads the signature given below, not the original's)
    call.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return call


# Operations of YAQL's library that could run for ever in one call into C (see `limits`):
# the same functions, checked first. Regular expressions: `yaql_regex`.


def _multiplication(left: Any, right: Any) -> Any:
    return limits.multiply(left, right)


def _pow(a: Any, b: Any, c: Any = None) -> Any:
    return limits.power(a, b, c)


def _shift_bits_left(value: int, bits_number: int) -> int:
    return limits.shift_left(value, bits_number)


def _replace(string: str, old: str, new: str, count: int = -1) -> str:
    limits.check_replace(string, old, new, count)
    return string.replace(old, new, count)


def _replace_with_dict(string: str, str_func: Any, replacements: Any,
                       count: int = -1) -> str:
    for key, value in replacements.items():
        old, new = str_func(key), str_func(value)
        limits.check_replace(string, old, new, count)
        string = string.replace(old, new, count)
    return string


def _str(value: Any) -> str:
    limits.check_expanded(value, "str()")
    return _std_str(value)


_std_str = std_strings.str_
_GUARDED = {
    std_math.multiplication: _multiplication,
    std_math.pow_: _pow,
    std_math.shift_bits_left: _shift_bits_left,
    std_strings.replace: _replace,
    std_strings.replace_with_dict: _replace_with_dict,
    std_strings.str_: _str,
}


def _guard_library(context: Any) -> int:
    """Point YAQL's unbounded functions (in `context` and its parents) at their checked
    versions; returns how many were replaced."""
    replaced = 0
    while context is not None:
        for overloads in getattr(context, "_functions", {}).values():
            for spec in overloads:
                guarded = _GUARDED.get(spec.payload)
                if guarded is not None:
                    spec.payload = guarded
                    replaced += 1
        context = context.parent
    return replaced


ROOT = yaql.create_context(regex=False)
if _guard_library(ROOT) != len(_GUARDED):
    raise RuntimeError("this version of yaql is not the one the expression bounds know")
yaql_regex.register(ROOT)
for _name, _func in (
    ("env", _env), ("execution", _execution), ("task", _task), ("tasks", _tasks),
    ("global", _global), ("uuid", _uuid), ("json_parse", _json_parse),
    ("json_dump", _json_dump), ("json_pp", _json_pp), ("yaml_parse", _yaml_parse),
    ("yaml_dump", _yaml_dump), ("st2kv", _st2kv),
):
    ROOT.register_function(_func, name=_name)
for _name, _func in st2_functions.YAQL_FUNCTIONS.items():
    ROOT.register_function(_st2_function(_func), name=_name)


def parse(text: str) -> Any:
    """Parse a YAQL expression (without `<% %>`); raises yaql's exceptions."""
    return ENGINE(text)


class _LazyData(FrozenDict):
    """`$` as a frozen dict whose values are converted for YAQL only when read.

    Converting a whole workflow context costs time proportional to all its data, while an
    expression usually reads one or two variables.
    """

    def __init__(self, raw: dict[Any, Any]) -> None:  # no super(): `_d` is computed
        self._raw = raw
        self._converted: dict[Any, Any] = {}
        self._hash = None

    def __getitem__(self, key: Any) -> Any:
        try:
            return self._converted[key]
        except KeyError:
            value = convert_input_data(self._raw[key])
            self._converted[key] = value
            return value

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self._raw else default

    def __iter__(self) -> Iterator[Any]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    @property
    def _d(self) -> dict[Any, Any]:
        return {k: self[k] for k in self._raw}


class YaqlExpression:
    """A parsed expression, ready to evaluate many times."""

    __slots__ = ("_fast", "_parsed", "_plain", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._parsed = parse(text)
        self._fast = compile_fast(self._parsed)
        # (what only reads the data needs no check of its size: see to_plain)
        self._plain = fn.plain_data if reads_data_only(self._parsed) else fn.to_plain

    def evaluate(self, data: Any, ctx: ExpressionContext) -> Any:
        if self._fast is not None:
            try:
                return self._plain(self._fast(data, ctx))
            except Fallback:
                pass
        return self.evaluate_with_engine(data, ctx)

    def evaluate_with_engine(self, data: Any, ctx: ExpressionContext) -> Any:
        """Evaluate with the YAQL engine itself, never the fast path."""
        context = ROOT.create_child_context()
        # As Mistral: lists become tuples and dicts frozen dicts, so `=`, `in`, distinct()
        # and sets behave as YAQL defines them (e.g. `$.list = [1, 2]`).
        context["$"] = _LazyData(data) if type(data) is dict else convert_input_data(data)
        context[_CTX_KEY] = ctx
        result = self._parsed.evaluate(context=context)
        if isinstance(result, collections.abc.Iterator):
            result = list(result)
        return fn.to_plain(result)


@lru_cache(maxsize=4096)
def compile_yaql(text: str) -> YaqlExpression:
    return YaqlExpression(text)


YaqlError = yaql_exc.YaqlException
