"""Evaluate values that may hold `<% YAQL %>` or `{{ Jinja }}` expressions.

Every distinct string is analysed once (LRU cache) into a plan: a literal, one expression
(whose raw value is returned), or a string to interpolate. Strings with no `<%` and no `{`
return at once, so evaluating a value without expressions costs a type check per item.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from levante import st2_functions
from levante.engine.expressions import jinja_lang, limits, yaql_lang
from levante.engine.expressions.context import (
    DataContext,
    ExpressionContext,
    NotJsonValue,
    plain_data,
    to_plain,
)
from levante.engine.expressions.errors import (
    ContextUnavailable,
    ExpressionError,
    ExpressionSyntaxError,
)

YAQL_RE = re.compile(r"<%(.*?)%>", re.S)
JINJA_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def _message(e: BaseException) -> str:
    if isinstance(e, NotJsonValue | limits.LimitExceeded):
        return str(e)
    if isinstance(e, yaql_lang.YaqlError | jinja_lang.TemplateError | LookupError) and str(e):
        if isinstance(e, KeyError):
            return f"KeyError: {e}"
        return str(e)
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _run_bounded(expression: str, timeout: float, func: Any, *args: Any) -> Any:
    token = limits.watchdog.start(timeout)
    try:
        try:
            # (StackStorm's functions bound their regular expressions by the time left)
            with st2_functions.time_budget(limits.remaining):
                return func(*args)
        finally:
            limits.watchdog.stop(token)
    except limits.ExpressionTimeout:
        # It may have landed before or inside the first stop(); stopping twice is harmless.
        limits.watchdog.stop(token)
        raise ExpressionError(expression, f"timed out after {timeout:g} s") from None
    except (ExpressionError, ContextUnavailable):
        raise
    except RecursionError:
        raise ExpressionError(expression, "too deeply nested") from None
    except MemoryError:
        raise ExpressionError(expression, "out of memory") from None
    except Exception as e:
        if type(e).__module__.split(".", 1)[0] in _INFRASTRUCTURE:
            raise
        raise ExpressionError(expression, _message(e)) from None


# Errors from these packages come from the runtime's database, not from the expression.
_INFRASTRUCTURE = frozenset({"sqlalchemy", "psycopg", "psycopg2", "sqlite3"})


class _Plan:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def run(self, data: Any, ctx: ExpressionContext, timeout: float) -> Any:
        return self.text


class _Invalid(_Plan):
    __slots__ = ("expression", "message")

    def __init__(self, text: str, expression: str, message: str) -> None:
        super().__init__(text)
        self.expression = expression
        self.message = message

    def run(self, data: Any, ctx: ExpressionContext, timeout: float) -> Any:
        raise ExpressionError(self.expression, self.message)


class _YaqlSingle(_Plan):
    __slots__ = ("expr",)

    def __init__(self, text: str, expr: yaql_lang.YaqlExpression) -> None:
        super().__init__(text)
        self.expr = expr

    def run(self, data: Any, ctx: ExpressionContext, timeout: float) -> Any:
        return _run_bounded(self.text, timeout, self.expr.evaluate, data, ctx)


class _YaqlInterpolate(_Plan):
    __slots__ = ("parts",)

    def __init__(self, text: str, parts: list[str | tuple[str, yaql_lang.YaqlExpression]]):
        super().__init__(text)
        self.parts = parts

    def run(self, data: Any, ctx: ExpressionContext, timeout: float) -> Any:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                source, expr = part
                out.append(str(_run_bounded(source, timeout, expr.evaluate, data, ctx)))
        return "".join(out)


def _jinja_value(func: Any, variables: dict[str, Any]) -> Any:
    value = func(**variables)
    if isinstance(value, jinja_lang.Undefined):
        str(value)  # raises UndefinedError naming what is undefined
    return to_plain(value)


class _JinjaSingle(_Plan):
    __slots__ = ("func",)

    def __init__(self, text: str, func: Any) -> None:
        super().__init__(text)
        self.func = func

    def run(self, data: Any, ctx: ExpressionContext, timeout: float) -> Any:
        variables = jinja_lang.variables(data, ctx)
        return _run_bounded(self.text, timeout, _jinja_value, self.func, variables)


class _JinjaPath(_JinjaSingle):
    """`{{ _.a.b }}` over plain dicts, read directly; anything else runs Jinja itself."""

    __slots__ = ("keys",)

    def __init__(self, text: str, func: Any, keys: tuple[str, ...]) -> None:
        super().__init__(text, func)
        self.keys = keys

    def run(self, data: Any, ctx: ExpressionContext, timeout: float) -> Any:
        value = data
        for key in self.keys:
            if type(value) is not dict or key not in value:
                return super().run(data, ctx, timeout)
            value = value[key]
        try:
            return plain_data(value)  # (read from the data: a tree)
        except NotJsonValue as e:
            raise ExpressionError(self.text, str(e)) from None


_JINJA_PATH = re.compile(r"^\s*_((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$")


class _JinjaTemplate(_Plan):
    __slots__ = ("template",)

    def __init__(self, text: str, template: Any) -> None:
        super().__init__(text)
        self.template = template

    def run(self, data: Any, ctx: ExpressionContext, timeout: float) -> Any:
        variables = jinja_lang.variables(data, ctx)
        return _run_bounded(self.text, timeout, self.template.render, variables)


def _yaql_plan(text: str) -> _Plan:
    parts: list[str | tuple[str, yaql_lang.YaqlExpression]] = []
    pos = 0
    for m in YAQL_RE.finditer(text):
        source = m.group(0)
        try:
            expr = yaql_lang.compile_yaql(m.group(1).strip())
        except Exception as e:
            return _Invalid(text, source, _message(e))
        if m.start() == 0 and m.end() == len(text):
            return _YaqlSingle(source, expr)
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        parts.append((source, expr))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return _YaqlInterpolate(text, parts)


def _jinja_plan(text: str) -> _Plan:
    if text.startswith("{{") and text.endswith("}}"):
        try:
            func = jinja_lang.compile_expression(text[2:-2])
            m = _JINJA_PATH.match(text[2:-2])
            if m:
                keys = tuple(k for k in m.group(1).split(".") if k)
                # `_.items` is dict.items in Jinja, not the key: leave those to Jinja.
                if not any(hasattr(dict, k) for k in keys):
                    return _JinjaPath(text, func, keys)
            return _JinjaSingle(text, func)
        except Exception:
            pass  # e.g. "{{ a }} and {{ b }}": a template, not one expression
    try:
        return _JinjaTemplate(text, jinja_lang.compile_template(text))
    except Exception as e:
        return _Invalid(text, text, _message(e))


@lru_cache(maxsize=8192)
def plan(text: str) -> _Plan:
    """Analyse `text` once: literal, expression, or interpolation."""
    has_yaql = "<%" in text and YAQL_RE.search(text) is not None
    has_jinja = "{" in text and JINJA_RE.search(text) is not None
    if has_yaql and has_jinja:
        return _Invalid(text, text, "mixing YAQL and Jinja in one string is not allowed")
    if has_yaql:
        return _yaql_plan(text)
    if has_jinja:
        return _jinja_plan(text)
    return _Plan(text)


def _eval(value: Any, data: Any, ctx: ExpressionContext, timeout: float) -> Any:
    kind = type(value)
    if kind is str:
        if "<%" not in value and "{" not in value:
            return value
        return plan(value).run(data, ctx, timeout)
    if kind is dict:
        return {k: _eval(v, data, ctx, timeout) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_eval(v, data, ctx, timeout) for v in value]
    if isinstance(value, str):
        return _eval(str(value), data, ctx, timeout)
    if isinstance(value, dict):
        return {k: _eval(v, data, ctx, timeout) for k, v in value.items()}
    return value


def evaluate(value: Any, data: Any, ctx: ExpressionContext | None = None,
             timeout: float | None = None) -> Any:
    """Evaluate every expression in `value` (recursing through dicts and lists).

    A string that is exactly one expression gives the expression's value; a string with
    text around expressions gives a string. Dict keys are not evaluated. `data` is `$` in
    YAQL and `_` in Jinja. Raises ExpressionError naming the failing expression.
    """
    if ctx is None:
        ctx = DataContext(data)
    return _eval(value, data, ctx, timeout if timeout else limits.DEFAULT_TIMEOUT)


def evaluate_guard(guard: Any, data: Any, ctx: ExpressionContext | None = None,
                   timeout: float | None = None) -> bool:
    """Truth of an on-* guard; an empty guard is true."""
    if guard is None or guard == "":
        return True
    return bool(evaluate(guard, data, ctx, timeout))


def has_expression(value: Any) -> bool:
    """Whether `value` (recursing through dicts and lists) holds any expression."""
    if isinstance(value, str):
        return ("<%" in value or "{" in value) and type(plan(value)) is not _Plan
    if isinstance(value, dict):
        return any(has_expression(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_expression(v) for v in value)
    return False


def is_expression(text: str) -> bool:
    """Whether the string holds at least one expression (valid or not)."""
    return bool(("<%" in text and YAQL_RE.search(text)) or ("{" in text and JINJA_RE.search(text)))


def check_syntax(value: Any) -> None:
    """Raise ExpressionSyntaxError for the first malformed expression inside `value`."""
    if isinstance(value, str):
        if "<%" in value or "{" in value:
            p = plan(value)
            if isinstance(p, _Invalid):
                raise ExpressionSyntaxError(p.expression, p.message)
    elif isinstance(value, dict):
        for v in value.values():
            check_syntax(v)
    elif isinstance(value, list | tuple):
        for v in value:
            check_syntax(v)
