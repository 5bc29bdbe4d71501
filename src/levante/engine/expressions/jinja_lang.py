"""Jinja: one immutable sandbox for the process, compiled templates cached.

The sandbox refuses private attributes and methods that mutate data; `*`, `**` and `%`
are checked so an expression cannot build a huge string or number, nor a format pad a
string to a billion characters; so are the string methods and filters that take a width
or could multiply a string (`center`, `ljust`, `replace`, `indent`, `format`...), see
`limits`. `range` is bounded by the sandbox itself. Regular expressions (the filters
`regex_findall`, `regex_replace` and the tests `match`, `search`) run on the bounded
engine of `regexes`.

StackStorm's functions (`levante.st2_functions`) are both filters and functions, as
StackStorm's Mistral plugin made them (`{{ _.v | version_bump_minor }}`,
`{{ regex_match(_.s, 'x') }}`); they bound their own work and run their regular
expressions within the time left to the expression. `regex_replace` is ours: the same
result as StackStorm's for its arguments (`pattern, replacement, ignorecase`), plus
`multiline` and `count`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

import jinja2
from jinja2 import filters as jinja_filters
from jinja2.compiler import CodeGenerator
from jinja2.runtime import str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from levante import st2_functions
from levante.engine.expressions import context as fn
from levante.engine.expressions import datastore as kv_functions
from levante.engine.expressions import limits, regexes
from levante.engine.expressions.context import ExpressionContext

# str methods reachable from templates that take a width, and what checks them
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if isinstance(owner, str):
        if name in _WIDTH_METHODS and args:
            limits.check_width(args[0], f"the width of {name}()")
        elif name == "expandtabs":
            size = args[0] if args else kwargs.get("tabsize", 8)
            if isinstance(size, int):
                limits.check_length(len(owner) * max(size, 1), "expandtabs()")
        elif name == "replace" and len(args) >= 2:
            limits.check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
        elif name == "translate" and args and isinstance(args[0], dict):
            longest = max((len(v) for v in args[0].values() if isinstance(v, str)),
                          default=1)
            limits.check_length(len(owner) * longest, "translate()")
    elif isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        limits.check_width(length, "the length of to_bytes()")


class _CodeGenerator(CodeGenerator):
    """`a ~ b` turns its operands into strings through the sandbox's `checked_concat`."""

    def visit_Concat(self, node: Any, frame: Any) -> None:
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _finalize(value: Any) -> Any:
    """Every `{{ }}` of a template, before it becomes a string."""
    limits.check_expanded(value, "the output")
    return value


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})
    code_generator_class = _CodeGenerator

    @staticmethod
    def checked_concat(values: Any) -> str:
        for value in values:
            limits.check_expanded(value, "'~'")
        return str_join(values)

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            for seq, n in ((left, right), (right, left)):
                if (isinstance(seq, str | list | tuple) and isinstance(n, int)
                        and len(seq) * n > limits.MAX_REPEAT):
                    raise SecurityError("the result of '*' would be too large")
            return limits.multiply(left, right)
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > 1000:
                raise SecurityError(f"the exponent of '**' ({right}) is too large (the "
                                    "limit is 1000)")
            return limits.power(left, right)
        if operator_ == "%":
            limits.check_printf(left, right)
            limits.check_expanded(right, "'%'")
            return operator.mod(left, right)
        return super().call_binop(context, operator_, left, right)

    def call(__self, __context: Any, __obj: Any,
             *args: Any, **kwargs: Any) -> Any:
        _check_method(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            limits.check_expanded([args, kwargs], "format")
            if value.__name__ == "format_map":
                limits.check_format(template, (), args[0] if args else {})
            else:
                limits.check_format(template, args, kwargs)
            return wrapped(*args, **kwargs)

        return checked


def _checked_filter(original: Callable[..., Any],
                    check: Callable[..., None]) -> Callable[..., Any]:
    @functools.wraps(original)
    def run(*args: Any, **kwargs: Any) -> Any:
        check(*args, **kwargs)
        return original(*args, **kwargs)

    return run


def _center_check(value: Any, width: Any = 80) -> None:
    limits.check_width(width, "the width of center")


def _indent_check(s: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    text = str(s)
    pad = len(width) if isinstance(width, str) else width
    if isinstance(pad, int):
        limits.check_length(len(text) + (text.count("\n") + 1) * pad, "indent")


def _format_check(value: Any, *args: Any, **kwargs: Any) -> None:
    limits.check_printf(str(value), kwargs or args)
    limits.check_expanded([args, kwargs], "format")


def _value_check(what: str) -> Callable[..., None]:
    def check(*args: Any, **kwargs: Any) -> None:
        limits.check_expanded([args, kwargs], what)

    return check


@jinja2.pass_eval_context
def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    items = list(value)
    limits.check_expanded(items, "join")
    return jinja_filters.do_join(eval_ctx, items, d, attribute)


@jinja2.pass_environment
def _sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    items = list(iterable)
    limits.check_sum(items, start)
    return jinja_filters.sync_do_sum(environment, items, attribute, start)


def _replace_check(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> None:
    limits.check_replace(str(s), str(old), str(new), -1 if count is None else count)


def _regex_findall(value: Any, pattern: Any, ignorecase: bool = False,
                   multiline: bool = False) -> list[Any]:
    return regexes.findall(regexes.compile_pattern(pattern, _flags(ignorecase, multiline)),
                           str(value))


def _regex_replace(value: Any, pattern: Any = "", replacement: Any = "",
                   ignorecase: bool = False, multiline: bool = False,
                   count: int = 0) -> str:
    compiled = regexes.compile_pattern(pattern, _flags(ignorecase, multiline))
    return regexes.sub(compiled, str(replacement), str(value), count)


def _match_test(value: Any, pattern: Any, ignorecase: bool = False,
                multiline: bool = False) -> bool:
    compiled = regexes.compile_pattern(pattern, _flags(ignorecase, multiline))
    return regexes.match(compiled, str(value)) is not None


def _search_test(value: Any, pattern: Any, ignorecase: bool = False,
                 multiline: bool = False) -> bool:
    compiled = regexes.compile_pattern(pattern, _flags(ignorecase, multiline))
    return regexes.search(compiled, str(value)) is not None


def _flags(ignorecase: bool, multiline: bool) -> int:
    return (regexes.IGNORECASE if ignorecase else 0) | (regexes.MULTILINE if multiline else 0)


ENV = _Sandbox(
    undefined=jinja2.StrictUndefined,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
    cache_size=0,  # we cache compiled templates ourselves
)
for _name, _f in (
    ("json_dump", fn.json_dump), ("json_pp", fn.json_pp), ("json_parse", fn.json_parse),
    ("yaml_dump", fn.yaml_dump), ("yaml_parse", fn.yaml_parse),
):
    ENV.filters[_name] = _f
    ENV.globals[_name] = _f
ENV.globals["uuid"] = fn.new_uuid
for _name, _original, _check in (
    ("center", jinja_filters.do_center, _center_check),
    ("indent", jinja_filters.do_indent, _indent_check),
    ("format", jinja_filters.do_format, _format_check),
    ("replace", jinja_filters.do_replace, _replace_check),
    ("string", jinja_filters.soft_str, _value_check("string")),
    ("pprint", jinja_filters.do_pprint, _value_check("pprint")),
    ("tojson", jinja_filters.do_tojson, _value_check("tojson")),
    ("json_dump", fn.json_dump, _value_check("json_dump")),
    ("json_pp", fn.json_pp, _value_check("json_pp")),
):
    ENV.filters[_name] = _checked_filter(_original, _check)
ENV.globals["json_dump"] = ENV.filters["json_dump"]
ENV.globals["json_pp"] = ENV.filters["json_pp"]
ENV.filters["join"] = _join
ENV.filters["sum"] = _sum
ENV.filters["regex_findall"] = _regex_findall
for _name, _f in st2_functions.JINJA_FILTERS.items():
    ENV.filters[_name] = _f
    ENV.globals[_name] = _f
ENV.filters["regex_replace"] = ENV.globals["regex_replace"] = _regex_replace
ENV.tests["match"] = _match_test
ENV.tests["search"] = _search_test


def _tasks(ctx: ExpressionContext, workflow_execution_id: Any = None, recursive: Any = False,
           state: Any = None, flat: Any = False) -> Any:
    return ctx.tasks(workflow_execution_id, bool(recursive), state)


def _task(ctx: ExpressionContext, task_name: Any = None) -> Any:
    return ctx.task(task_name)


def variables(data: Any, ctx: ExpressionContext) -> dict[str, Any]:
    """The names an expression sees: `_` for the data plus the context functions."""
    return {
        "_": data,
        "env": ctx.env,
        "execution": ctx.execution,
        "task": partial(_task, ctx),
        "tasks": partial(_tasks, ctx),
        "global": ctx.global_var,
        "st2kv": partial(kv_functions.st2kv, ctx),
    }


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Callable[..., Any]:
    """`text` is the inside of `{{ }}`; the result returns the raw value."""
    return ENV.compile_expression(text, undefined_to_none=False)


@lru_cache(maxsize=4096)
def compile_template(text: str) -> jinja2.Template:
    return ENV.from_string(text)


def check(text: str) -> None:
    """Raise jinja2.TemplateSyntaxError if `text` (a template) is malformed."""
    ENV.parse(text)


TemplateError = jinja2.TemplateError
UndefinedError = jinja2.UndefinedError
Undefined = jinja2.Undefined
